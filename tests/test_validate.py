"""Validation rules that need git history, the DVC cache and remote, or the file system."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelreg.api import validate
from modelreg.artifacts.dvc import object_path
from modelreg.cli import cli
from modelreg.core.errors import NotFoundError
from modelreg.core.layout import version_path
from modelreg.validation.manifest_cache import ManifestCache, cache_file
from tests import builders
from tests.conftest import RegistryFactory, Workspace, git


def rendered(root: Path, **kwargs: object) -> list[str]:
    return [f.render() for f in validate(root, **kwargs).findings]  # type: ignore[arg-type]


@pytest.fixture
def merged(make_registry: RegistryFactory) -> Workspace:
    """Model digits with versions 1-2 and production -> 1, committed as the base."""
    return make_registry(
        {"digits": 2},
        models={"digits": {"card": builders.CARD}},
        stages={"digits": {"production": 1}},
        message="register digits 1-2",
    )


def test_nothing_may_point_at_a_deleted_version(merged: Workspace) -> None:
    root = merged.root
    builders.write_version(root, "digits", 2, deleted={"date": "2026-03-01T00:00:00Z"})
    builders.write_pointer(root, "digits", "production", 2)
    builders.write_alias(root, "digits", "champion", 2)
    assert rendered(root, offline=True) == [
        "registry/digits/aliases/champion.yaml:2: version: version 2 was deleted; point at "
        "another version",
        "registry/digits/stages/production.yaml:2: version: version 2 was deleted; point at "
        "another version",
    ]


def test_archived_versions_must_exist(merged: Workspace) -> None:
    builders.write_model(merged.root, "digits", card=builders.CARD, archived=[2, 7])
    assert rendered(merged.root, offline=True) == [
        "registry/digits/model.yaml:6: archived[1]: version 7 does not exist; remove it from "
        "archived"
    ]


# --- against a base revision --------------------------------------------------------------


def test_merged_versions_change_only_in_mutable_fields(merged: Workspace) -> None:
    root = merged.root
    builders.write_version(
        root,
        "digits",
        2,
        description="now documented",
        tags={"reviewed": "yes"},
        deprecation={"date": "2026-03-01T00:00:00Z", "reason": "superseded"},
    )
    assert rendered(root, base="HEAD", offline=True) == []

    builders.write_version(root, "digits", 2, metrics={"accuracy": 0.99}, author="Mallory <m@x>")
    assert rendered(root, base="HEAD", offline=True) == [
        'registry/digits/versions/2.yaml: author: changed from "Test Author <test@example.com>" '
        'to "Mallory <m@x>" since HEAD; a merged version is immutable except deleted, '
        "deprecation, description, tags: register a new version instead",
        "registry/digits/versions/2.yaml: metrics.accuracy: changed from 0.902 to 0.99 since "
        "HEAD; a merged version is immutable except deleted, deprecation, description, tags: "
        "register a new version instead",
    ]


def test_merged_versions_are_never_removed(merged: Workspace) -> None:
    root = merged.root
    (root / version_path("digits", 2)).unlink()
    shutil.rmtree(root / "registry/digits/artifacts/2")
    assert rendered(root, base="HEAD", offline=True) == [
        "registry/digits/artifacts/2/model.pt.dvc: records an artifact of a version merged on "
        "HEAD; restore it",
        "registry/digits/versions/2.yaml: was merged on HEAD and can never be removed; restore it "
        "and deprecate it with 'modelreg deprecate digits 2'",
    ]


def test_artifact_records_of_merged_versions_are_immutable(merged: Workspace) -> None:
    sidecar = merged.root / "registry/digits/artifacts/1/model.pt.dvc"
    sidecar.write_text(sidecar.read_text().replace("size: 28", "size: 29"))
    found = rendered(merged.root, base="HEAD", offline=True)
    assert (
        "registry/digits/artifacts/1/model.pt.dvc: records an artifact of a version merged on "
        "HEAD, which is immutable; restore it and register a new version instead"
    ) in found
    assert any("artifacts[0].size: 28 differs from 29" in line for line in found)


def test_new_version_numbers_must_exceed_the_base(merged: Workspace) -> None:
    root = merged.root
    # A gap on the base (version 3 was never merged) may not be filled later.
    builders.write_version(root, "digits", 4)
    merged.commit_all("register digits 4")
    builders.write_version(root, "digits", 3)
    assert rendered(root, base="HEAD", offline=True) == [
        "registry/digits/versions/3.yaml: version 3 is new, but HEAD already has version 4 of "
        "digits; numbers only grow and are never reused: number it 5",
    ]


def test_base_scope_covers_only_changed_models(merged: Workspace) -> None:
    root = merged.root
    builders.write_version(root, "other", 1)
    merged.commit_all("register other")
    # Break 'other' on the base's side of history, then change only 'digits'.
    (root / version_path("other", 1)).write_text("model: other\n")
    merged.commit_all("break other")
    builders.write_version(root, "digits", 3)
    report = validate(root, base="HEAD", offline=True)
    assert report.scope == "changed"
    assert report.models_checked == 1
    assert report.ok
    full = validate(root, offline=True)
    assert full.scope == "full" and not full.ok


def test_a_config_change_validates_everything(merged: Workspace) -> None:
    root = merged.root
    builders.write_config(root, stages=("staging",))  # production disappears
    report = validate(root, base="HEAD", offline=True)
    assert report.scope == "full"
    assert [f.render() for f in report.findings] == [
        "registry/digits/stages/production.yaml: 'production' is not a stage declared in "
        "registry/registry.yaml; name the file after one of them: staging.yaml",
    ]


def test_untracked_new_files_count_as_changes(merged: Workspace) -> None:
    builders.write_version(merged.root, "digits", 3, version=7)
    assert merged.status()  # not committed, not even added
    assert rendered(merged.root, base="HEAD", offline=True) == [
        "registry/digits/versions/3.yaml:3: version: 7 differs from the file name; write "
        "version: 3 or rename the file",
    ]


def test_unknown_base_is_a_clear_error(merged: Workspace) -> None:
    result = CliRunner().invoke(cli, ["--repo", str(merged.root), "validate", "--base", "nope"])
    assert result.exit_code == 1
    assert str(result.exception) == ("unknown revision 'nope': no such branch, tag or commit here")


# --- artifacts in the DVC cache and remote ------------------------------------------------


def test_artifacts_must_be_in_the_cache_or_the_remote(workspace: Workspace) -> None:
    root = workspace.root
    cache = root / ".dvc" / "cache"
    builders.write_version(root, "digits", 1, store=cache)
    builders.write_version(root, "digits", 2, store=workspace.remote)
    document = builders.write_version(root, "digits", 3)  # stored nowhere
    md5 = document["artifacts"][0]["md5"]
    assert rendered(root) == [
        f"registry/digits/versions/3.yaml:9: artifacts[0].md5: {md5} is in neither the DVC "
        f"cache ({cache}) nor the remote 'storage' ({workspace.remote}); push it from the clone "
        "that registered it ('dvc push'), or pass --offline to skip this check",
    ]
    assert rendered(root, offline=True) == []

    object_path(workspace.remote, md5).parent.mkdir(parents=True)
    object_path(workspace.remote, md5).write_bytes(builders.artifact_content("digits", 3))
    assert rendered(root) == []


def test_presence_check_needs_dvc(offline_registry: Workspace) -> None:
    builders.write_version(offline_registry.root, "digits", 1)
    assert rendered(offline_registry.root) == [
        ".dvc: DVC is not initialised, so no artifact can be checked; run 'modelreg init', or "
        "pass --offline",
    ]


# --- hostile files ------------------------------------------------------------------------


def test_symlinks_leaving_the_repository_are_refused(
    offline_registry: Workspace, tmp_path: Path
) -> None:
    root = offline_registry.root
    builders.write_model(root, "digits", card=builders.CARD)
    builders.write_version(root, "digits", 1)
    outside = tmp_path / "outside.yaml"
    outside.write_text("version: 1\n")
    stage = root / "registry/digits/stages/production.yaml"
    stage.parent.mkdir(parents=True)
    stage.symlink_to(outside)
    [finding] = validate(root, offline=True).findings
    assert finding.render() == (
        f"registry/digits/stages/production.yaml: is a symlink to {outside}, outside the "
        "repository; replace it with the file"
    )
    # A symlink that stays inside the repository is followed.
    stage.unlink()
    (root / "registry/digits/stages/shared.txt").write_text("version: 1\n")
    stage.symlink_to("shared.txt")
    found = rendered(root, offline=True)
    assert found == [
        "registry/digits/stages/shared.txt: is not a pointer file: stages/ holds one <name>.yaml "
        "per stage; rename it (e.g. shared.yaml) or remove it",
    ]


def test_oversize_and_non_utf8_files(offline_registry: Workspace) -> None:
    root = offline_registry.root
    builders.write_version(root, "digits", 1)
    (root / "registry/digits/stages").mkdir()
    (root / "registry/digits/stages/staging.yaml").write_bytes(b"version: 1\nreason: \xe9t\xe9\n")
    (root / "registry/digits/stages/production.yaml").write_bytes(b"#" * (1024 * 1024 + 1))
    assert rendered(root, offline=True) == [
        "registry/digits/stages/production.yaml: file is 1048577 bytes, over the 1048576-byte "
        "limit for registry files",
        "registry/digits/stages/staging.yaml:2: byte 19 is not valid UTF-8; save the file as UTF-8",
    ]


def test_missing_registry_is_an_error_not_a_finding(empty_repo: Path) -> None:
    with pytest.raises(
        NotFoundError, match=r"registry/registry.yaml is missing; run 'modelreg init'"
    ):
        validate(empty_repo)


# --- scale and output ---------------------------------------------------------------------


def test_worker_processes_find_exactly_what_one_process_finds(offline_registry: Workspace) -> None:
    root = offline_registry.root
    for model in range(12):
        for number in range(1, 41):
            builders.write_version(root, f"model-{model}", number)
    builders.write_version(root, "model-3", 7, version=8)
    builders.write_pointer(root, "model-5", "production", 99)
    serial = validate(root, offline=True, jobs=1)
    parallel = validate(root, offline=True, jobs=2)
    assert serial.findings == parallel.findings
    assert serial.files_checked == parallel.files_checked == 1 + 12 + 12 * 40 + 1
    assert len(serial.errors) == 2


def test_json_report(merged: Workspace) -> None:
    builders.write_version(merged.root, "digits", 3, metrics={"acc": "high"})
    result = CliRunner().invoke(
        cli, ["--repo", str(merged.root), "validate", "--offline", "--base", "HEAD", "--json"]
    )
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["format"] == "modelreg.validate/1"
    assert report["ok"] is False and report["scope"] == "changed" and report["errors"] == 1
    assert report["base"] == merged.git("rev-parse", "HEAD").strip()
    assert report["findings"] == [
        {
            "severity": "error",
            "code": "schema",
            "path": "registry/digits/versions/3.yaml",
            "line": 13,
            "field": "metrics.acc",
            "message": 'expected a number, got "high"',
        }
    ]


def test_valid_registry_exits_zero_and_says_so(merged: Workspace) -> None:
    result = CliRunner().invoke(cli, ["--repo", str(merged.root), "validate", "--offline"])
    assert result.exit_code == 0
    assert result.output == "ok: the registry is valid (0 errors, 0 warnings in 5 files)\n"


# --- finding codes and the manifest cache (mutation testing) ------------------------------


def test_model_folder_problems_carry_their_codes(offline_registry: Workspace) -> None:
    root = offline_registry.root
    builders.write_version(root, "bad_", 1, model_file=False)  # a bad name, no model.yaml
    builders.write_version(root, "digits", 1)
    (root / "registry/digits/model.yaml").write_text("name: other\n")
    (root / "registry/digits/notes.txt").write_text("notes\n")
    # Misnamed stage files are not read: their broken targets go unreported.
    builders.write_pointer(root, "digits", "Production", 9)
    builders.write_pointer(root, "digits", "prod", 9)
    builders.write_version(root, "huge", 1)
    (root / "registry/huge/model.yaml").write_bytes(b"#" * (1024 * 1024 + 1))
    report = validate(root, offline=True, cache=False)
    assert [(f.code, f.path, f.field, f.line) for f in report.findings] == [
        ("model-name", "registry/bad_", "", 0),
        ("missing-model-file", "registry/bad_/model.yaml", "", 0),
        ("schema", "registry/bad_/versions/1.yaml", "model", 2),
        ("name-mismatch", "registry/digits/model.yaml", "name", 1),
        ("unexpected-file", "registry/digits/notes.txt", "", 0),
        ("stage-file-case", "registry/digits/stages/Production.yaml", "", 0),
        ("unknown-stage", "registry/digits/stages/prod.yaml", "", 0),
        ("unreadable", "registry/huge/model.yaml", "", 0),
    ]
    assert report.findings[3].message == "'other' differs from the folder name; write name: digits"
    assert report.findings[-1].message == (
        "file is 1048577 bytes, over the 1048576-byte limit for registry files"
    )
    # registry.yaml, three version files and the two model.yaml files that are there
    assert report.files_checked == 6


def test_the_manifest_cache_keeps_valid_files_by_content_and_is_believed(
    make_registry: RegistryFactory,
) -> None:
    root = make_registry({"digits": 1}, message="register digits 1").root
    assert validate(root, offline=True).findings == ()
    model = (root / "registry/digits/model.yaml").read_bytes()
    version = (root / version_path("digits", 1)).read_bytes()
    model_key = ManifestCache.key("model", model)
    version_key = ManifestCache.key("version", version)
    entries = ManifestCache.open(root).entries
    assert entries.keys() == {model_key, version_key}
    assert entries[model_key] == {"name": "digits"}
    assert entries[version_key]["artifacts"][0]["name"] == "weights"
    # A file whose bytes are cached is not parsed again: the cached document is checked.
    cache = ManifestCache(cache_file(root))
    cache.save([], {model_key: {"name": "impostor"}})
    [finding] = validate(root, offline=True).findings
    assert (finding.code, finding.path, finding.message) == (
        "name-mismatch",
        "registry/digits/model.yaml",
        "'impostor' differs from the folder name; write name: digits",
    )


def test_committed_links_on_an_artifacts_way_are_judged_once_and_only_when_committed(
    empty_repo: Path,
) -> None:
    root = empty_repo
    builders.write_config(root)
    first = builders.write_version(root, "digits", 1)["artifacts"][0]
    extra = {**first, "name": "extra", "path": "registry/digits/artifacts/1/extra.pt"}
    builders.write_version(root, "digits", 1, artifacts=[first, extra])
    md5s = [builders.write_version(root, "digits", n)["artifacts"][0]["md5"] for n in range(2, 6)]
    folder = root / "registry/digits/artifacts"
    # 1: the version's folder a link to another's (its second artifact, with no record,
    # is not judged again); 2: the artifact a link to a file beside it; 3: its record a
    # link; 4: the artifact DVC's link to the cache object of its md5, which is accepted
    # as a link (but is committed)
    shutil.rmtree(folder / "1")
    (folder / "1").symlink_to("2")
    (folder / "2/real.pt").write_bytes(b"planted\n")
    (folder / "2/model.pt").symlink_to("real.pt")
    record = folder / "3/model.pt.dvc"
    (folder / "3/real.dvc").write_bytes(record.read_bytes())
    record.unlink()
    record.symlink_to("real.dvc")
    cached = object_path(root / ".dvc/cache", md5s[2])
    cached.parent.mkdir(parents=True)
    cached.write_bytes(builders.artifact_content("digits", 4))
    (folder / "4/model.pt").symlink_to(cached)
    git(root, "add", "-A", "registry")
    git(root, "commit", "-q", "-m", "versions 1-5")
    # 5: a link to a file beside it that is not committed (as DVC's own links are not)
    (folder / "5/real.pt").write_bytes(b"planted\n")
    (folder / "5/model.pt").symlink_to("real.pt")
    found = builders.findings(root)
    real = root.resolve() / "registry/digits/artifacts"
    manifest = "registry/digits/versions/{}.yaml".format
    assert found == [
        (
            "error",
            "artifact-path",
            manifest(1),
            "artifacts[0].path",
            "'registry/digits/artifacts/1/model.pt' passes through registry/digits/artifacts/1, "
            f"a symlink to {real / '2'}; replace the link with a plain folder",
        ),
        (
            "error",
            "artifact-path",
            manifest(2),
            "artifacts[0].path",
            "'registry/digits/artifacts/2/model.pt' passes through "
            f"registry/digits/artifacts/2/model.pt, a symlink to {real / '2/real.pt'}, not "
            f"DVC's link to the cache object of md5 {md5s[0]}; replace the link with a plain "
            "file",
        ),
        (
            "error",
            "artifact-path",
            manifest(3),
            "artifacts[0].path",
            "registry/digits/artifacts/3/model.pt.dvc is a symlink; a DVC record must be a "
            "plain file",
        ),
        (
            "error",
            "artifact-committed",
            manifest(4),
            "artifacts[0].path",
            "registry/digits/artifacts/4/model.pt is committed to git, where only its DVC "
            "record belongs (a file or folder committed at an artifact's path is what pull "
            "would have to overwrite); remove it with 'git rm -r --cached'",
        ),
    ]


def test_a_stray_file_among_the_stages_is_named_after_all_but_its_last_suffix(
    empty_repo: Path,
) -> None:
    builders.write_config(empty_repo)
    builders.write_version(empty_repo, "digits", 1)
    stages = empty_repo / "registry/digits/stages"
    stages.mkdir()
    (stages / "production.old.txt").write_text("version: 1\n")
    assert rendered(empty_repo, offline=True, cache=False) == [
        "registry/digits/stages/production.old.txt: is not a pointer file: stages/ holds one "
        "<name>.yaml per stage; rename it (e.g. production.old.yaml) or remove it",
    ]


def two_models_with_a_named_remote(root: Path) -> Path:
    """alpha (versions 1-3) and beta (versions 1-2), each with a pointer to an undeclared
    stage; every version's object is in the 'shared' remote registry.yaml names but the
    second's, and none is in 'other', DVC's default."""
    builders.write_config(root, storage={"dvc_remote": "shared"})
    shared = root.parent / "shared"
    for name, count in (("alpha", 3), ("beta", 2)):
        for number in range(1, count + 1):
            builders.write_version(root, name, number, store=None if number == 2 else shared)
        builders.write_pointer(root, name, "canary", 1)
    builders.write_dvc_remotes(root, shared)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "registry")
    return shared


def test_worker_processes_check_stages_and_artifacts_as_this_process_does(
    empty_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two chunks: alpha, the larger model, is checked here, beta in a forked worker,
    # which inherits the lowered threshold.
    monkeypatch.setattr("modelreg.validation.checks._PARALLEL_THRESHOLD", 2)
    shared = two_models_with_a_named_remote(empty_repo)
    cache = empty_repo / ".dvc/cache"

    def missing(name: str) -> list[str]:
        md5 = hashlib.md5(builders.artifact_content(name, 2)).hexdigest()
        return [
            f"registry/{name}/stages/canary.yaml: 'canary' is not a stage declared in "
            "registry/registry.yaml; name the file after one of them: staging.yaml, "
            "production.yaml",
            f"registry/{name}/versions/2.yaml:9: artifacts[0].md5: {md5} is in neither the "
            f"DVC cache ({cache}) nor the remote 'shared' ({shared}); push it from the clone "
            "that registered it ('dvc push'), or pass --offline to skip this check",
        ]

    assert rendered(empty_repo, jobs=2, cache=False) == missing("alpha") + missing("beta")


def test_a_single_model_is_checked_in_this_process_however_many_versions_it_has(
    offline_registry: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("modelreg.validation.checks._PARALLEL_THRESHOLD", 2)
    root = offline_registry.root
    for number in range(1, 4):
        builders.write_version(root, "digits", number)
    builders.write_pointer(root, "digits", "staging", 9)
    # one chunk, all of it this process's share: a pool of no workers cannot start
    assert rendered(root, offline=True, jobs=2) == [
        "registry/digits/stages/staging.yaml:2: version: version 9 does not exist (versions: "
        "1-3); point at an existing version",
    ]
