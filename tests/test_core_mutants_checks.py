"""``validate`` rules (modelreg.validation.checks) the offline cases leave loose: the
report's JSON, the DVC remote a registry names, objects that are there but wrong,
and the helpers that word findings.

Written to kill the mutants mutation testing left alive (make mutation).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from modelreg.api import validate
from modelreg.artifacts.dvc import ObjectStore, object_path, read_dvc_config
from modelreg.core.findings import Finding
from modelreg.validation.checks import (
    _ABSENT,
    ValidationReport,
    _ArtifactRef,
    _closest,
    _first_difference,
    _object_problem,
    _show,
    mutable_version_fields,
)
from modelreg.validation.manifest_cache import ManifestCache
from tests import builders
from tests.conftest import git


def report(findings: tuple[Finding, ...]) -> ValidationReport:
    return ValidationReport(findings, files_checked=7, models_checked=2, scope="changed")


def test_the_report_counts_errors_and_warnings_apart() -> None:
    error = Finding("error", "pointer-target", "a.yaml", "bad")
    warning = Finding("warning", "version-gap", "b", "gap")
    mixed = report((error, warning, error))
    assert (mixed.errors, mixed.warnings, mixed.ok) == ([error, error], [warning], False)
    assert report((warning,)).ok is True
    assert report(()).ok is True
    assert mixed.to_json() == {
        "format": "modelreg.validate/1",
        "ok": False,
        "scope": "changed",
        "base": None,
        "offline": False,
        "files_checked": 7,
        "models_checked": 2,
        "errors": 2,
        "warnings": 1,
        "findings": [error.to_json(), warning.to_json(), error.to_json()],
    }
    full = ValidationReport((), 1, 0, "full", base="abc", offline=True).to_json()
    assert (full["ok"], full["base"], full["offline"], full["scope"]) == (True, "abc", True, "full")


def test_the_mutable_version_fields_are_the_schemas() -> None:
    assert mutable_version_fields() == frozenset({"deleted", "deprecation", "description", "tags"})


@pytest.mark.parametrize(
    ("name", "candidates", "hint"),
    [
        ("prod", ("staging", "production"), " (did you mean 'production'?)"),
        ("Prod", ("staging", "production"), " (did you mean 'production'?)"),
        ("stagin", ("production", "staging"), " (did you mean 'staging'?)"),
        ("stg", ("staging",), " (did you mean 'staging'?)"),
        ("qq", ("staging",), ""),
        ("zzz", ("staging", "production"), ""),
        ("x", (), ""),
    ],
)
def test_closest_suggests_a_prefix_or_a_near_name(
    name: str, candidates: tuple[str, ...], hint: str
) -> None:
    assert _closest(name, candidates) == hint


def test_first_difference_finds_the_deepest_changed_value() -> None:
    before = {"a": 1, "b": [1, {"c": 2, "d": 4}]}
    assert _first_difference(before, {"a": 1, "b": [1, {"c": 3, "d": 5}]}, ()) == (
        ("b", 1, "c"),
        2,
        3,
    )
    assert _first_difference({"a": 1}, {"a": 1, "z": 2}, ("k",)) == (("k", "z"), _ABSENT, 2)
    assert _first_difference({"a": 1, "z": 2}, {"a": 1}, ()) == (("z",), 2, _ABSENT)
    assert _first_difference([1, 2], [1, 2, 3], ("k",)) == (("k",), [1, 2], [1, 2, 3])
    assert _first_difference([1, 2], [1, 3], ()) == ((1,), 2, 3)
    assert _first_difference("x", "y", ("k",)) == (("k",), "x", "y")
    assert _first_difference({"a": 1}, [1], ()) == ((), {"a": 1}, [1])
    assert (_show(_ABSENT), repr(_ABSENT), _show("x"), _show(None)) == (
        "(absent)",
        "(absent)",
        '"x"',
        "null",
    )


# --- the DVC side ----------------------------------------------------------------------------


def dvc_registry(root: Path, remote_name: str | None) -> Path:
    """v1's object pushed to the 'shared' remote, v2's nowhere; 'other' is DVC's default."""
    storage = {"storage": {"dvc_remote": remote_name}} if remote_name else {}
    builders.write_config(root, **storage)
    shared = root.parent / "shared"
    builders.write_version(root, "digits", 1, store=shared)
    builders.write_version(root, "digits", 2)
    builders.write_dvc_remotes(root, shared)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "registry")
    return shared


def md5_of_version(root: Path, number: int) -> str:
    return hashlib.md5(builders.artifact_content("digits", number)).hexdigest()


def test_artifacts_are_looked_for_in_the_remote_the_registry_names(empty_repo: Path) -> None:
    shared = dvc_registry(empty_repo, "Shared")  # DVC lower-cases remote names
    v2 = md5_of_version(empty_repo, 2)
    (found,) = validate(empty_repo, cache=False).findings
    assert (found.code, found.path, found.field, found.line) == (
        "artifact-missing",
        "registry/digits/versions/2.yaml",
        "artifacts[0].md5",
        9,
    )
    assert found.message.startswith(f"{v2} ")
    assert f"the remote 'shared' ({shared})" in found.message
    assert found.message.endswith(
        "; push it from the clone that registered it ('dvc push'), or pass --offline to "
        "skip this check"
    )
    assert validate(empty_repo, offline=True, cache=False).findings == ()


def test_an_unknown_remote_is_an_error_and_dvcs_default_is_used(empty_repo: Path) -> None:
    dvc_registry(empty_repo, "nope")
    found = validate(empty_repo, cache=False).findings
    # sorted by path: the model's findings come before registry.yaml's
    assert found[-1] == Finding(
        "error",
        "dvc-remote",
        "registry/registry.yaml",
        "'nope' is not one of DVC's remotes (dvc remote list: other, shared); add it "
        "('dvc remote add nope URL') or name one of those",
        "storage.dvc_remote",
        6,
    )
    # both versions are looked for in the default remote, 'other', which has neither
    assert [(f.code, f.path) for f in found[:-1]] == [
        ("artifact-missing", "registry/digits/versions/1.yaml"),
        ("artifact-missing", "registry/digits/versions/2.yaml"),
    ]


def test_without_a_named_remote_dvcs_default_is_used(empty_repo: Path) -> None:
    dvc_registry(empty_repo, None)
    found = validate(empty_repo, cache=False).findings
    assert [(f.code, f.path) for f in found] == [
        ("artifact-missing", "registry/digits/versions/1.yaml"),
        ("artifact-missing", "registry/digits/versions/2.yaml"),
    ]
    assert "the remote 'other'" in found[0].message


def test_an_object_of_the_wrong_size_is_an_error(empty_repo: Path) -> None:
    shared = dvc_registry(empty_repo, "shared")
    v1 = md5_of_version(empty_repo, 1)
    object_path(shared, v1).write_bytes(b"tampered, and longer than the original\n")
    recorded = len(builders.artifact_content("digits", 1))
    found = [f for f in validate(empty_repo, cache=False).findings if f.code == "artifact-size"]
    assert found == [
        Finding(
            "error",
            "artifact-size",
            "registry/digits/versions/1.yaml",
            f"the object {v1} in {shared} is 39 bytes, not the {recorded} the manifest "
            "records; pull would refuse it",
            "artifacts[0].md5",
            9,
        )
    ]


def test_an_object_in_the_cache_is_checked_before_the_remote(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(f"['remote \"r\"']\n    url = {tmp_path / 'r'}\n")
    store = ObjectStore(root, read_dvc_config(root), "r")
    md5 = "c" * 32
    ref = _ArtifactRef("v.yaml", ("artifacts", 0, "md5"), md5, 3)
    assert _object_problem(store, ref) is None  # in neither: missing() reports that
    remote_copy = object_path(tmp_path / "r", md5)
    remote_copy.parent.mkdir(parents=True)
    remote_copy.write_bytes(b"abc")
    assert _object_problem(store, ref) is None
    cached = object_path(root / ".dvc" / "cache", md5)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"abcd")
    assert _object_problem(store, ref) == (
        f"the object {md5} in {root / '.dvc' / 'cache'} is 4 bytes, not the 3 the manifest "
        "records; pull would refuse it"
    )
    unknown_size = _ArtifactRef("v.yaml", (), md5)
    assert unknown_size.size == -1
    assert _object_problem(store, unknown_size) is None


@pytest.mark.parametrize(
    ("listing", "problem"),
    [
        ([{"relpath": "ok/x", "md5": "b"}], None),
        ([], None),
        ([{"relpath": "../x"}], "'../x' has a '..' component"),
        ([{"relpath": "ok"}, {"relpath": "/abs"}], "'/abs' is not a relative path"),
        (["x"], "None is not a relative path"),
        ({"relpath": "x"}, "None is not a relative path"),
    ],
)
def test_a_folder_listing_must_name_safe_paths(
    tmp_path: Path, listing: object, problem: str | None
) -> None:
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(f"['remote \"r\"']\n    url = {tmp_path / 'r'}\n")
    store = ObjectStore(root, read_dvc_config(root), "r")
    md5 = "d" * 32 + ".dir"
    found = object_path(tmp_path / "r", md5)
    found.parent.mkdir(parents=True)
    found.write_text(json.dumps(listing))
    expected = None if problem is None else f"the folder's DVC listing ({md5}) is unsafe: {problem}"
    assert _object_problem(store, _ArtifactRef("v.yaml", (), md5, 10)) == expected
    found.write_text("not json")
    assert _object_problem(store, _ArtifactRef("v.yaml", (), md5, 10)) is None


def test_a_near_name_needs_half_its_letters_in_common() -> None:
    # 'qstg' and 'staging' share 3 of 11 letters in order: a ratio of 0.545
    assert _closest("qstg", ("staging",)) == " (did you mean 'staging'?)"
    assert _closest("qxzstg", ("staging",)) == ""  # 6 of 13: 0.46


def test_a_named_remote_when_dvc_has_none(empty_repo: Path) -> None:
    builders.write_config(empty_repo, storage={"dvc_remote": "shared"})
    builders.write_version(empty_repo, "digits", 1)
    (empty_repo / ".dvc").mkdir()
    (empty_repo / ".dvc" / "config").write_text("")
    found = [f for f in validate(empty_repo, cache=False).findings if f.code == "dvc-remote"]
    assert [f.message for f in found] == [
        "'shared' is not one of DVC's remotes (dvc remote list: none); add it "
        "('dvc remote add shared URL') or name one of those"
    ]


def test_an_invalid_registry_yaml_is_reported_once_with_dvc_present(empty_repo: Path) -> None:
    (empty_repo / "registry").mkdir()
    (empty_repo / "registry" / "registry.yaml").write_text("schema_version: 1\n")
    (empty_repo / ".dvc").mkdir()
    (empty_repo / ".dvc" / "config").write_text("")
    found = validate(empty_repo, cache=False).findings
    assert [(f.code, f.path, f.field) for f in found] == [
        ("schema", "registry/registry.yaml", "stages")
    ]


def test_first_difference_tells_a_null_from_an_absent_key() -> None:
    assert _first_difference({"a": 1}, {"a": 1, "b": None}, ()) == (("b",), _ABSENT, None)
    assert _first_difference({"a": 1, "b": None}, {"a": 1}, ()) == (("b",), None, _ABSENT)


def local_store(tmp_path: Path) -> tuple[Path, ObjectStore]:
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(f"['remote \"r\"']\n    url = {tmp_path / 'r'}\n")
    return root, ObjectStore(root, read_dvc_config(root), "r")


def test_an_object_recorded_as_empty_must_be_empty(tmp_path: Path) -> None:
    _, store = local_store(tmp_path)
    md5 = "e" * 32
    found = object_path(tmp_path / "r", md5)
    found.parent.mkdir(parents=True)
    found.write_bytes(b"data")
    assert _object_problem(store, _ArtifactRef("v.yaml", (), md5, 0)) == (
        f"the object {md5} in {tmp_path / 'r'} is 4 bytes, not the 0 the manifest records; "
        "pull would refuse it"
    )
    found.write_bytes(b"")
    assert _object_problem(store, _ArtifactRef("v.yaml", (), md5, 0)) is None


def test_a_listing_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    _, store = local_store(tmp_path)
    md5 = "f" * 32 + ".dir"
    found = object_path(tmp_path / "r", md5)
    found.parent.mkdir(parents=True)
    found.symlink_to(tmp_path / "elsewhere.json")
    (tmp_path / "elsewhere.json").write_text("[]")
    problem = _object_problem(store, _ArtifactRef("v.yaml", (), md5, 10))
    assert problem is not None
    assert problem.startswith(f"the folder's DVC listing ({md5}) in {tmp_path / 'r'}: {found} ")
    assert problem.endswith("; pull would refuse it")


def test_a_folder_artifact_with_an_unsafe_listing_is_a_listing_finding(tmp_path: Path) -> None:
    from modelreg.core.source import WorktreeSource
    from modelreg.validation.checks import _missing_artifacts

    root, _ = local_store(tmp_path)
    md5 = "a" * 32 + ".dir"
    version = root / "registry" / "digits" / "versions" / "1.yaml"
    version.parent.mkdir(parents=True)
    version.write_text(f"model: digits\nartifacts:\n- name: m\n  md5: {md5}\n")
    listing = object_path(tmp_path / "r", md5)
    listing.parent.mkdir(parents=True)
    listing.write_text(json.dumps([{"relpath": "../escape", "md5": "b" * 32}]))
    content = object_path(tmp_path / "r", "b" * 32)
    content.parent.mkdir(parents=True)
    content.write_bytes(b"x")
    ref = _ArtifactRef("registry/digits/versions/1.yaml", ("artifacts", 0, "md5"), md5, 3)
    assert _missing_artifacts(root, WorktreeSource(root), [ref], "r") == [
        Finding(
            "error",
            "artifact-listing",
            "registry/digits/versions/1.yaml",
            f"the folder's DVC listing ({md5}) is unsafe: '../escape' has a '..' component",
            "artifacts[0].md5",
            4,
        )
    ]


# --- against the base ------------------------------------------------------------------------


def compare(tmp_path: Path, before: dict[str, object], **changes: object) -> list[Finding]:
    """What _compare_versions finds in version 1 of digits changed by ``changes`` (a value
    of None removes the field) since the base, where it was ``before``."""
    from modelreg.core.layout import version_path
    from modelreg.core.source import WorktreeSource
    from modelreg.core.yaml_io import dump_yaml
    from modelreg.validation.checks import _compare_versions

    path = version_path("digits", 1)
    after = {k: v for k, v in {**before, **changes}.items() if v is not None}
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(dump_yaml(after))
    findings: list[Finding] = []
    _compare_versions(
        path,
        "main",
        dump_yaml(before).encode(),
        WorktreeSource(tmp_path),
        mutable_version_fields(),
        findings,
    )
    return findings


IMMUTABLE = (
    "a merged version is immutable except deleted, deprecation, description, tags: "
    "register a new version instead"
)


def test_a_changed_immutable_field_is_reported_where_it_changed(tmp_path: Path) -> None:
    before = builders.write_version(tmp_path / "base", "digits", 1)
    assert compare(tmp_path, before, description="now described", tags={"a": "b"}) == []
    assert compare(tmp_path, before, metrics={"accuracy": 0.5}) == [
        Finding(
            "error",
            "immutable-changed",
            "registry/digits/versions/1.yaml",
            f"changed from 0.901 to 0.5 since main; {IMMUTABLE}",
            "metrics.accuracy",
        )
    ]


def test_an_added_or_removed_field_is_a_change_from_or_to_absent(tmp_path: Path) -> None:
    before = builders.write_version(tmp_path / "base", "digits", 1)
    added = compare(tmp_path, before, semver="1.0.0")
    assert [(f.code, f.field, f.message) for f in added] == [
        ("immutable-changed", "semver", f'changed from (absent) to "1.0.0" since main; {IMMUTABLE}')
    ]
    removed = compare(tmp_path, before, metrics=None)
    assert [(f.field, f.message) for f in removed] == [
        ("metrics", f"changed from a mapping to (absent) since main; {IMMUTABLE}")
    ]


def test_versions_that_do_not_validate_are_left_to_the_schema_findings(tmp_path: Path) -> None:
    before = builders.write_version(tmp_path / "base", "digits", 1)
    assert compare(tmp_path, before, metrics="broken") == []
    assert compare(tmp_path, {**before, "metrics": "broken"}, author="someone else") == []


class Listing:
    """A source whose models have the given numbers of version files."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes

    def list_dir(self, path: str) -> list[str]:
        return [f"{n}.yaml" for n in range(1, self.sizes[path.split("/")[1]] + 1)]


@pytest.mark.parametrize(
    ("sizes", "parts", "chunks"),
    [
        ({"a": 5, "b": 3, "c": 2, "d": 1}, 2, [["a", "d"], ["b", "c"]]),
        # each model counts one more than its versions (its model.yaml)
        ({"a": 2, "b": 0, "c": 0, "d": 0}, 2, [["a"], ["d", "c", "b"]]),
        ({"a": 1, "b": 1}, 4, [["b"], ["a"]]),
        ({"a": 1}, 1, [["a"]]),
    ],
)
def test_models_are_spread_over_workers_by_their_number_of_versions(
    sizes: dict[str, int], parts: int, chunks: list[list[str]]
) -> None:
    from modelreg.validation.checks import _split

    assert _split(list(sizes), Listing(sizes), parts) == chunks  # type: ignore[arg-type]


# --- what git tracks -------------------------------------------------------------------------


def test_only_committed_links_and_committed_artifacts_are_refused(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_version(root, "digits", 1)
    builders.write_version(root, "digits", 2)
    builders.write_version(root, "digits", 3)
    artifacts = root / "registry" / "digits" / "artifacts"
    (artifacts / "1" / "extra.lnk").symlink_to("/etc")
    (artifacts / "2" / "model.pt").write_text("committed by mistake")
    (artifacts / "3" / "model.pt").mkdir()
    (artifacts / "3" / "model.pt" / "part").write_text("a folder committed in its place")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "registry")
    (artifacts / "local.lnk").symlink_to("/etc")  # made in this clone, never committed
    found = builders.findings(root, "code", "path")
    assert found == [
        ("artifact-link", "registry/digits/artifacts/1/extra.lnk"),
        ("orphan-artifacts", "registry/digits/artifacts/local.lnk"),
        ("artifact-committed", "registry/digits/versions/2.yaml"),
        ("artifact-committed", "registry/digits/versions/3.yaml"),
    ]


def test_tracked_paths_are_told_apart_from_their_neighbours(empty_repo: Path) -> None:
    from modelreg.validation.checks import _Tracked

    root = empty_repo
    folder = root / "registry" / "m" / "artifacts" / "1"
    folder.mkdir(parents=True)
    (folder / "model.pt.dvc").write_text("x")
    (folder / "model.ptx").write_text("x")
    (folder / "dir").mkdir()
    (folder / "dir" / "inner").write_text("x")
    (folder / "link").symlink_to("model.ptx")
    (root / "outside").write_text("x")
    git(root, "add", "-A")
    tracked = _Tracked(root)
    base = "registry/m/artifacts/1"
    assert tracked.holds(f"{base}/model.pt.dvc") is True
    assert tracked.holds(f"{base}/model.pt") is False  # only its record and a neighbour
    assert tracked.holds(f"{base}/dir") is True
    assert tracked.holds(f"{base}/di") is False
    assert tracked.holds(f"{base}/zzz") is False
    assert tracked.holds("outside") is False  # only registry/ is listed
    assert tracked.is_link(f"{base}/link") is True
    assert tracked.is_link(f"{base}/model.ptx") is False


def test_each_change_to_merged_state_has_its_code_and_fix(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root)
    for number in (1, 2, 10):  # listed by git as 1, 10, 2
        builders.write_version(root, "digits", number)
    builders.write_version(root, "iris", 1)
    builders.write_pointer(root, "digits", "production", 1)
    versions = root / "registry" / "digits" / "versions"
    artifacts = root / "registry" / "digits" / "artifacts"
    (versions / "notes.txt").write_text("merged by mistake\n")
    (artifacts / "1" / "notes.txt").write_text("x\n")
    (artifacts / "2" / "notes.txt").write_text("x\n")
    (root / "registry" / "README.md").write_text("# The registry\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "merged")
    unchanged = validate(root, base="HEAD", offline=True, cache=False)
    assert (unchanged.findings, unchanged.files_checked, unchanged.models_checked) == ((), 1, 0)

    # a change outside any model (it sorts first) must not end the walk over the changes
    (root / "registry" / "README.md").write_text("# The registry, edited\n")
    (versions / "2.yaml").unlink()
    (versions / "notes.txt").unlink()
    builders.write_version(root, "digits", 3)  # below the base's highest, 10
    builders.write_version(root, "cats", 1)  # a new model starts at 1
    with (artifacts / "1" / "model.pt.dvc").open("a") as record:
        record.write("# edited\n")
    (artifacts / "10" / "model.pt.dvc").unlink()
    (artifacts / "1" / "notes.txt").unlink()  # not a DVC record: not this rule's business
    (artifacts / "2" / "notes.txt").write_text("y\n")
    builders.write_model(root, "digits", description="now described")
    builders.write_pointer(root, "digits", "production", 10)
    (root / "registry" / "iris" / "model.yaml").unlink()
    report = validate(root, base="HEAD", offline=True, cache=False)
    merged = {
        "version-deleted",
        "model-deleted",
        "artifact-record-changed",
        "version-not-monotonic",
    }
    found = [(f.severity, f.code, f.path, f.message) for f in report.findings if f.code in merged]
    assert found == [
        (
            "error",
            "artifact-record-changed",
            "registry/digits/artifacts/1/model.pt.dvc",
            "records an artifact of a version merged on HEAD, which is immutable; restore it "
            "and register a new version instead",
        ),
        (
            "error",
            "artifact-record-changed",
            "registry/digits/artifacts/10/model.pt.dvc",
            "records an artifact of a version merged on HEAD; restore it",
        ),
        (
            "error",
            "version-deleted",
            "registry/digits/versions/2.yaml",
            "was merged on HEAD and can never be removed; restore it and deprecate it with "
            "'modelreg deprecate digits 2'",
        ),
        (
            "error",
            "version-not-monotonic",
            "registry/digits/versions/3.yaml",
            "version 3 is new, but HEAD already has version 10 of digits; numbers only grow "
            "and are never reused: number it 11",
        ),
        (
            "error",
            "version-deleted",
            "registry/digits/versions/notes.txt",
            "was merged on HEAD and can never be removed; restore it and restore it",
        ),
        (
            "error",
            "model-deleted",
            "registry/iris/model.yaml",
            "exists on HEAD; a registered model's folder is never removed",
        ),
    ]
    assert report.scope == "changed"
    assert report.models_checked == 3


# --- pointers --------------------------------------------------------------------------------


def test_each_pointer_rule_has_its_code_severity_and_words(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_version(root, "digits", 1)
    builders.write_version(root, "digits", 2, deleted={"date": "2026-03-01T00:00:00Z"})
    builders.write_version(root, "digits", 3, deprecation={"date": "2026-03-01T00:00:00Z"})
    builders.write_version(root, "digits", 4)
    builders.write_pointer(root, "digits", "staging", 1, canary={"version": 1, "weight": 0.1})
    builders.write_pointer(
        root, "digits", "production", 4, previous=9, canary={"version": 3, "weight": 0.1}
    )
    builders.write_alias(root, "digits", "gone", 2)
    builders.write_alias(root, "digits", "old", 3)  # an alias may keep a deprecated version
    builders.write_model(root, "empty")
    builders.write_pointer(root, "empty", "production", 1)
    found = [
        (f.severity, f.code, f.path.rsplit("/", 2)[-2:][-1], f.field, f.message)
        for f in validate(root, offline=True, cache=False).findings
    ]
    assert found == [
        (
            "error",
            "pointer-deleted",
            "gone.yaml",
            "version",
            "version 2 was deleted; point at another version",
        ),
        (
            "warning",
            "pointer-deprecated",
            "old.yaml",
            "version",
            "version 3 is deprecated; promote another version, or remove its deprecation in "
            "registry/digits/versions/3.yaml",
        ),
        (
            "warning",
            "card-incomplete",
            "model.yaml",
            "card.intended_use",
            "production holds version 4, but the model card has no intended_use or "
            "limitations; describe them under card: ('modelreg card' shows the card)",
        ),
        ("warning", "pointer-previous", "production.yaml", "previous", "version 9 does not exist"),
        (
            "error",
            "pointer-deprecated",
            "production.yaml",
            "canary.version",
            "version 3 is deprecated; promote another version, or remove its deprecation in "
            "registry/digits/versions/3.yaml",
        ),
        (
            "error",
            "canary-same",
            "staging.yaml",
            "canary.version",
            "the canary is version 1, which the stage already serves; canary another version "
            "or remove it",
        ),
        (
            "warning",
            "card-incomplete",
            "model.yaml",
            "card.intended_use",
            "production holds version 1, but the model card has no intended_use or "
            "limitations; describe them under card: ('modelreg card' shows the card)",
        ),
        (
            "error",
            "pointer-target",
            "production.yaml",
            "version",
            "version 1 does not exist (versions: none); point at an existing version",
        ),
    ]


def test_model_and_config_rules_have_their_codes(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(
        root, policies={"prod": {"from": ["staging"]}, "staging": {"from": ["none"]}}
    )
    builders.write_model(root, "digits", archived=[7])
    document = builders.write_version(root, "digits", 1)
    builders.write_version(root, "digits", 2, artifacts=[*document["artifacts"]] * 2)
    builders.write_version(root, "Digits", 1)
    (root / "registry" / ".hidden").mkdir()  # sorts first; the models after it are checked
    found = set(builders.findings(root, "code", "path"))
    assert {
        ("archived-unknown", "registry/digits/model.yaml"),
        ("artifact-duplicate", "registry/digits/versions/2.yaml"),
        ("policy-stage", "registry/registry.yaml"),
        ("model-name-case", "registry/digits"),
    } <= found


def test_the_card_is_asked_of_the_last_stage_only_and_for_what_it_lacks(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root, stages=("dev", "staging", "production"))
    builders.write_model(root, "digits", card={"intended_use": "Reading digits."})
    builders.write_version(root, "digits", 1)
    builders.write_pointer(root, "digits", "staging", 1)
    builders.write_pointer(root, "digits", "production", 1)
    assert validate(root, offline=True, cache=False).findings == (
        Finding(
            "warning",
            "card-incomplete",
            "registry/digits/model.yaml",
            "production holds version 1, but the model card has no limitations; describe it "
            "under card: ('modelreg card' shows the card)",
            "card.limitations",
            3,  # card:, as limitations is absent
        ),
    )


def test_an_alias_has_no_canary_or_retired_and_a_name_unlike_a_stage(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_version(root, "digits", 1)
    builders.write_alias(
        root, "digits", "champion", 1, canary={"version": 1, "weight": 0.1}, retired=[1]
    )
    # badly named aliases are not read further: their missing version 9 goes unreported
    builders.write_alias(root, "digits", "latest", 9)
    builders.write_alias(root, "digits", "Production", 9)
    found = [
        (f.code, f.path.rsplit("/", 1)[-1], f.field, f.message)
        for f in validate(root, offline=True, cache=False).findings
    ]
    assert found == [
        (
            "alias-shadows-stage",
            "Production.yaml",
            "",
            "alias 'Production' has the name of a stage, so NAME@Production would be "
            "ambiguous; rename the alias",
        ),
        (
            "alias-field",
            "champion.yaml",
            "canary",
            "aliases cannot have canary; only stages do: remove it",
        ),
        (
            "alias-field",
            "champion.yaml",
            "retired",
            "aliases cannot have retired; only stages do: remove it",
        ),
        (
            "alias-name",
            "latest.yaml",
            "",
            "'latest' is reserved and cannot name an alias (it reads as a version); "
            "rename the file",
        ),
    ]


def test_a_stages_canary_and_retired_versions_must_exist(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_version(root, "digits", 1)
    builders.write_version(root, "digits", 2)
    builders.write_pointer(
        root, "digits", "staging", 1, canary={"version": 9, "weight": 0.1}, retired=[8, 1]
    )
    found = builders.findings(root, "severity", "code", "field", "message")
    assert found == [
        (
            "error",
            "pointer-target",
            "canary.version",
            "version 9 does not exist (versions: 1-2); point at an existing version",
        ),
        (
            "error",
            "pointer-target",
            "retired[0]",
            "version 8 does not exist (versions: 1-2); remove it",
        ),
        (
            "error",
            "retired-current",
            "retired[1]",
            "version 1 is both the current and a retired version; remove it from retired",
        ),
    ]


def test_stage_pointers_are_checked_when_the_config_is_broken(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root, stages=("production", "production"))  # the schema refuses it
    builders.write_version(root, "digits", 1)
    builders.write_pointer(root, "digits", "anything", 9)  # no stage list to judge its name by
    found = builders.findings(root, "code", "path", "message")
    assert found == [
        (
            "pointer-target",
            "registry/digits/stages/anything.yaml",
            "version 9 does not exist (versions: 1); point at an existing version",
        ),
        ("schema", "registry/registry.yaml", 'repeats "production"'),
    ]


# --- version files ---------------------------------------------------------------------------


def test_version_file_names_numbering_and_gaps_have_their_codes_and_words(
    empty_repo: Path,
) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_version(root, "digits", 2, semver="1.0.0")
    builders.write_version(root, "digits", 4, semver="0.9.0")
    versions = root / "registry" / "digits" / "versions"
    (versions / "latest.yaml").write_text("model: digits\n")  # no digits: the example is 3.yaml
    (versions / "07.yaml").write_text("model: digits\n")
    builders.write_version(root, "ten", 11)
    builders.write_version(root, "eleven", 12)
    builders.write_version(root, "two", 2)
    found = builders.findings(root)
    assert found == [
        (
            "warning",
            "version-gap",
            "registry/digits/versions",
            "",
            "versions 1, 3 are missing; merged versions must never be deleted "
            "(deprecate them instead)",
        ),
        (
            "error",
            "version-file-name",
            "registry/digits/versions/07.yaml",
            "",
            "is not a version file name: name it after the version number, e.g. 7.yaml",
        ),
        (
            "error",
            "semver-order",
            "registry/digits/versions/4.yaml",
            "semver",
            "0.9.0 is lower than 1.0.0, the semver of version 2; semantic versions must "
            "increase with the version number: give this version one greater than 1.0.0",
        ),
        (
            "error",
            "version-file-name",
            "registry/digits/versions/latest.yaml",
            "",
            "is not a version file name: name it after the version number, e.g. 3.yaml",
        ),
        (
            "warning",
            "version-gap",
            "registry/eleven/versions",
            "",
            "versions 1, 2, 3, 4, 5, 6, 7, 8, 9, 10... are missing; merged versions must "
            "never be deleted (deprecate them instead)",
        ),
        (
            "warning",
            "version-gap",
            "registry/ten/versions",
            "",
            "versions 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 are missing; merged versions must "
            "never be deleted (deprecate them instead)",
        ),
        (
            "warning",
            "version-gap",
            "registry/two/versions",
            "",
            "version 1 is missing; merged versions must never be deleted (deprecate them instead)",
        ),
    ]


def test_a_model_without_model_yaml_is_not_asked_for_a_card(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_version(root, "digits", 1, model_file=False)
    builders.write_pointer(root, "digits", "production", 1)
    found = builders.findings(root, "code", "path")
    assert found == [("missing-model-file", "registry/digits/model.yaml")]


def test_the_manifests_each_model_loads_are_kept_in_the_cache(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_version(root, "digits", 1)
    builders.write_pointer(root, "digits", "staging", 1)
    assert validate(root, offline=True).ok
    folder = root / "registry" / "digits"
    expected = {
        ManifestCache.key(kind, (folder / path).read_bytes())
        for kind, path in (
            ("model", "model.yaml"),
            ("version", "versions/1.yaml"),
            ("pointer", "stages/staging.yaml"),
        )
    }
    assert set(ManifestCache.open(root).entries) == expected
    # the second run finds them there and gives the same answer
    assert validate(root, offline=True).findings == ()


def test_a_manifest_at_odds_with_its_file_and_its_formats_has_its_codes_and_words(
    empty_repo: Path,
) -> None:
    root = empty_repo
    builders.write_config(root)
    weights = builders.write_version(root, "digits", 1)["artifacts"][0]
    builders.write_version(
        root,
        "digits",
        1,
        model="digit",
        version=2,
        artifacts=[{**weights, "format": "onnx"}, {**weights, "name": "torch", "opset": 18}],
    )
    found = builders.findings(root)
    manifest = "registry/digits/versions/1.yaml"
    assert found == [
        (
            "error",
            "model-mismatch",
            manifest,
            "model",
            "'digit' differs from the folder name; write model: digits",
        ),
        (
            "error",
            "version-mismatch",
            manifest,
            "version",
            "2 differs from the file name; write version: 1 or rename the file",
        ),
        (
            "error",
            "artifact-opset",
            manifest,
            "artifacts[0].opset",
            "an ONNX artifact must record its opset (the default-domain opset_import of the model)",
        ),
        (
            "error",
            "artifact-opset",
            manifest,
            "artifacts[1].opset",
            "only ONNX artifacts have an opset, this one is 'pytorch'; remove opset",
        ),
    ]


def test_an_artifact_outside_its_folder_too_large_or_behind_a_link_has_its_codes(
    empty_repo: Path,
) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_version(root, "digits", 1)
    second = builders.write_version(root, "digits", 2)["artifacts"][0]
    builders.write_version(
        root, "digits", 2, artifacts=[{**second, "path": "registry/digits/artifacts/1/model.pt"}]
    )
    third = builders.write_version(root, "digits", 3)["artifacts"][0]
    builders.write_version(root, "digits", 3, artifacts=[{**third, "size": 2**40 + 1}])
    builders.write_version(root, "digits", 4)
    record = root / "registry/digits/artifacts/4/model.pt.dvc"
    (record.parent / "real.dvc").write_bytes(record.read_bytes())
    record.unlink()
    record.symlink_to("real.dvc")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "versions 1-4")
    found = builders.findings(root)
    assert found == [
        (
            "error",
            "artifact-path",
            "registry/digits/versions/2.yaml",
            "artifacts[0].path",
            "'registry/digits/artifacts/1/model.pt' must be a file directly inside "
            "registry/digits/artifacts/2/, not outside it",
        ),
        (
            "error",
            "artifact-size",
            "registry/digits/versions/3.yaml",
            "artifacts[0].size",
            "1099511627777 bytes is over the 1099511627776-byte (1 TiB) limit for an artifact",
        ),
        (
            "error",
            "artifact-size",
            "registry/digits/versions/3.yaml",
            "artifacts[0].size",
            "1099511627777 differs from 28 in registry/digits/artifacts/3/model.pt.dvc; the "
            "manifest must record the tracked content's size",
        ),
        (
            "error",
            "artifact-path",
            "registry/digits/versions/4.yaml",
            "artifacts[0].path",
            "registry/digits/artifacts/4/model.pt.dvc is a symlink; a DVC record must be a "
            "plain file",
        ),
    ]


def test_an_artifact_committed_untracked_or_at_odds_with_its_record_has_its_codes(
    empty_repo: Path,
) -> None:
    root = empty_repo
    builders.write_config(root)
    md5s = [builders.write_version(root, "digits", n)["artifacts"][0]["md5"] for n in range(1, 7)]
    folder = root / "registry/digits/artifacts"
    # 1: the artifact itself committed to git; 2: checked out beside its record, as
    # pull leaves it, which is fine
    for number in (1, 2):
        (folder / f"{number}/model.pt").write_bytes(builders.artifact_content("digits", number))
    # 3: no record; 4: a record that tracks nothing; 5: one for another file and content
    (folder / "3/model.pt.dvc").unlink()
    (folder / "4/model.pt.dvc").write_text("outs: []\n")
    (folder / "5/model.pt.dvc").write_text(
        f"outs:\n- md5: {'0' * 32}\n  size: 5\n  hash: md5\n  path: other.pt\n"
    )
    # 6: the artifact a committed link to a file beside it, not to DVC's cache object
    (folder / "6/real.pt").write_bytes(b"planted\n")
    (folder / "6/model.pt").symlink_to("real.pt")
    git(root, "add", "-A", "registry", ":(exclude)registry/digits/artifacts/2/model.pt")
    git(root, "commit", "-q", "-m", "versions 1-6")
    found = builders.findings(root)
    manifest = "registry/digits/versions/{}.yaml".format
    record = "registry/digits/artifacts/{}/model.pt.dvc".format
    assert found == [
        (
            "error",
            "artifact-record",
            record(4),
            "",
            "is not a DVC file tracking one output; re-run 'dvc add'",
        ),
        (
            "error",
            "artifact-record",
            record(5),
            "",
            "tracks 'other.pt', not 'model.pt'; re-run 'dvc add "
            "registry/digits/artifacts/5/model.pt'",
        ),
        (
            "error",
            "artifact-committed",
            manifest(1),
            "artifacts[0].path",
            "registry/digits/artifacts/1/model.pt is committed to git, where only its DVC "
            "record belongs (a file or folder committed at an artifact's path is what pull "
            "would have to overwrite); remove it with 'git rm -r --cached'",
        ),
        (
            "error",
            "artifact-untracked",
            manifest(3),
            "artifacts[0].path",
            f"registry/digits/artifacts/3/model.pt has no DVC record ({record(3)} is "
            "missing); track it with 'dvc add registry/digits/artifacts/3/model.pt'",
        ),
        (
            "error",
            "artifact-hash",
            manifest(5),
            "artifacts[0].md5",
            f"{md5s[4]} differs from {'0' * 32} in {record(5)}; the manifest must record "
            "the tracked content's hash",
        ),
        (
            "error",
            "artifact-size",
            manifest(5),
            "artifacts[0].size",
            f"28 differs from 5 in {record(5)}; the manifest must record the tracked "
            "content's size",
        ),
        (
            "error",
            "artifact-path",
            manifest(6),
            "artifacts[0].path",
            "'registry/digits/artifacts/6/model.pt' passes through "
            "registry/digits/artifacts/6/model.pt, a symlink to "
            f"{os.path.realpath(folder / '6/real.pt')}, not DVC's link to the cache object "
            f"of md5 {md5s[5]}; replace the link with a plain file",
        ),
    ]


def test_misnamed_pointer_files_are_each_reported_with_a_name_to_rename_them_to(
    empty_repo: Path,
) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_registry(root, {"digits": 1}, stages={"digits": {"staging": 1}})
    model = root / "registry/digits"
    (model / "aliases").mkdir()
    # no stem, a stem with dots, a stem of one word; each checked, none stops the rest
    for kind, filename in (
        ("stages", ".yml"),
        ("stages", "candidate.old.yml"),
        ("aliases", ".yml"),
        ("aliases", "best.json"),
    ):
        (model / kind / filename).write_text("version: 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "misnamed pointers")
    found = builders.findings(root)

    def misnamed(kind: str, filename: str, one: str, example: str) -> tuple[str, ...]:
        return (
            "error",
            "pointer-file-name",
            f"registry/digits/{kind}/{filename}",
            "",
            f"is not a pointer file: {kind}/ holds one <name>.yaml per {one}; rename it "
            f"(e.g. {example}) or remove it",
        )

    assert found == [
        misnamed("aliases", ".yml", "alias", "champion.yaml"),
        misnamed("aliases", "best.json", "alias", "best.yaml"),
        misnamed("stages", ".yml", "stage", "production.yaml"),
        misnamed("stages", "candidate.old.yml", "stage", "candidate.old.yaml"),
    ]


def test_links_planted_in_an_artifacts_folder_are_each_reported_once(empty_repo: Path) -> None:
    root = empty_repo
    builders.write_config(root)
    builders.write_registry(root, {"digits": 2})
    folder = root / "registry/digits/artifacts"
    # 0: a folder no version owns; 1a: a link beside the version folders; 2/extra.pt: a
    # link beside an artifact's record. Each is reported, and none stops the scan.
    (folder / "0").mkdir()
    (folder / "0/model.pt.dvc").write_text("outs: []\n")
    (folder / "1a").symlink_to("1")
    (folder / "2/extra.pt").symlink_to("model.pt.dvc")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "planted links")
    found = builders.findings(root)
    planted = (
        "is a symlink; an artifact folder holds only plain files and folders (the "
        "artifacts and their DVC records); remove it"
    )
    assert found == [
        (
            "warning",
            "orphan-artifacts",
            "registry/digits/artifacts/0",
            "",
            "belongs to no version manifest; remove it or register the version",
        ),
        ("error", "artifact-link", "registry/digits/artifacts/1a", "", planted),
        ("error", "artifact-link", "registry/digits/artifacts/2/extra.pt", "", planted),
    ]


def test_the_report_says_whether_the_run_was_offline(empty_repo: Path) -> None:
    builders.write_config(empty_repo)
    builders.write_version(empty_repo, "digits", 1)
    offline = validate(empty_repo, offline=True, cache=False)
    online = validate(empty_repo, offline=False, cache=False)
    assert (offline.offline, offline.to_json()["offline"]) == (True, True)
    assert (online.offline, online.to_json()["offline"]) == (False, False)
