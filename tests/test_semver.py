"""Semantic versions: ``semver`` in a version manifest, ``register --bump/--semver``,
``NAME@v1.2.3`` and ``models:/NAME/v1.2.3``, and the ``semver-order`` rule.

The commands run as users run them: the installed ``modelreg`` in a subprocess,
against a registry with real git and DVC. MLflow resolves ``models:/NAME/v1.2.3``
through its own client and the registry plugin.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg.api import Registry, validate
from modelreg.core.errors import InputError, ReferenceSyntaxError
from modelreg.core.layout import name_problem
from modelreg.core.refs import parse_ref
from modelreg.core.semver import SemVer, order_problems, semver_of_ref
from tests import builders
from tests.conftest import Workspace, git
from tests.test_from_dvc import Pipeline

pytestmark = pytest.mark.filterwarnings(
    # MLflow deprecates stages and warns about its own internals.
    "ignore::FutureWarning",
    "ignore::DeprecationWarning",
    "ignore::UserWarning",
)

# Refused everywhere a semver is given: a manifest, --semver, a reference.
HOSTILE = [
    "",
    "1.2",
    "1.2.3.4",
    "01.2.3",
    "1.2.3-",
    "1.2.3-01",
    "1.2.3-rc..1",
    "1.2.3+build.5",
    "1.2.3 ",
    " 1.2.3",
    "1.2.3\n",
    "1.2.3\x1b[31m",
    "1.2.3\u202e",
    "\uff11.2.3",  # a fullwidth digit: \d would take it, the grammar does not
    "1.2.3-r\u00e9",
    "1.2.3; rm -rf /",
    "9" * 70 + ".0.0",
    "1.2.3-" + "a" * 70,
    "../1.2.3",
    "vv1.2.3",
]


# --- the semver type: grammar, order, bumps ---------------------------------------------


def test_semver_org_precedence_example() -> None:
    # semver.org 2.0.0, rule 11's example, in ascending order.
    chain = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
             "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0",
             "2.0.0", "10.0.0"]  # fmt: skip
    parsed = [SemVer.parse(text) for text in chain]
    assert sorted(parsed[5:] + parsed[:5]) == parsed
    assert [str(v) for v in parsed] == chain
    assert all(a < b and not b < a and a != b for a, b in itertools.pairwise(parsed))


def test_bumps_follow_npm_and_start_from_zero() -> None:
    def bumped(text: str, part: Any) -> str:
        return str(SemVer.parse(text).bump(part))

    assert [bumped("1.2.3", p) for p in ("major", "minor", "patch")] == ["2.0.0", "1.3.0", "1.2.4"]
    # A bump that reaches a pre-release releases it.
    assert bumped("1.2.4-rc.1", "patch") == "1.2.4"
    assert bumped("1.3.0-rc.1", "minor") == "1.3.0"
    assert bumped("1.3.1-rc.1", "minor") == "1.4.0"
    assert bumped("2.0.0-rc.1", "major") == "2.0.0"
    assert bumped("2.1.0-rc.1", "major") == "3.0.0"
    assert [str(SemVer.first(p)) for p in ("major", "minor", "patch")] == [
        "1.0.0",
        "0.1.0",
        "0.0.1",
    ]


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_hostile_semvers_are_refused_in_one_line(text: str) -> None:
    with pytest.raises(InputError) as caught:
        SemVer.parse(text, what="--semver", allow_v=True)
    message = str(caught.value)
    assert message.startswith("--semver: ") and "\n" not in message
    assert "\x1b" not in message and "\u202e" not in message and len(message) < 300


def test_order_problems_skip_versions_without_one() -> None:
    found = list(order_problems([(1, "1.0.0"), (3, "1.1.0"), (4, "1.1.0"), (5, "1.0.9"),
                                 (6, "bad"), (7, "1.2.0")]))  # fmt: skip
    assert [number for number, _ in found] == [4, 5]
    assert found[0][1].startswith("1.1.0 equals 1.1.0, the semver of version 3;")
    assert found[1][1].startswith("1.0.9 is lower than 1.1.0, the semver of version 3;")


numbers = st.integers(min_value=0, max_value=10**6)
identifiers = st.one_of(
    numbers.map(str),
    st.from_regex(r"[0-9]{0,2}[A-Za-z-][0-9A-Za-z-]{0,3}", fullmatch=True),
)
semvers = st.builds(SemVer, numbers, numbers, numbers, st.lists(identifiers, max_size=3).map(tuple))


@settings(max_examples=300, deadline=None)
@given(semvers, semvers)
def test_order_agrees_with_python_semver(a: SemVer, b: SemVer) -> None:
    import semver as reference  # python-semver (with gto in the test group), never skipped

    assert SemVer.parse(str(a)) == a
    expected = reference.Version.parse(str(a)).compare(str(b))
    assert ((a > b) - (a < b)) == expected
    assert (a == b) == (expected == 0)


@settings(max_examples=200, deadline=None)
@given(semvers, st.sampled_from(["major", "minor", "patch"]))
def test_a_bump_is_always_greater(version: SemVer, part: Any) -> None:
    bumped = version.bump(part)
    assert bumped > version and not bumped.prerelease


# --- references and alias names ---------------------------------------------------------


def test_references_name_a_semver() -> None:
    for text in (
        "digits@v1.2.0",
        "models:/digits/v1.2.0",
        "models:/digits@V1.2.0",
        "digits/v1.2.0",
    ):
        ref = parse_ref(text)
        assert (ref.selector, ref.model, str(ref.semver), str(ref)) == (
            "semver",
            "digits",
            "1.2.0",
            "digits@v1.2.0",
        )
    assert parse_ref("digits@v2.0.0-rc.1").semver == SemVer(2, 0, 0, ("rc", "1"))
    assert parse_ref("digits/3").version == 3  # the number stays the identity
    with pytest.raises(
        ReferenceSyntaxError, match=r"written with a 'v'; did you mean 'digits@v1\.2\.0'"
    ):
        parse_ref("digits/1.2.0")
    with pytest.raises(ReferenceSyntaxError, match="build metadata"):
        parse_ref("digits@v1.2.0+exp.sha.5114f85")
    with pytest.raises(ReferenceSyntaxError, match="not a semantic version"):
        parse_ref("digits@v01.2.0")
    assert semver_of_ref("champion") is None and semver_of_ref("v3") is None


def test_an_alias_cannot_look_like_a_semver() -> None:
    for name in ("v1.2.3", "1.2.3", "V1.0.0-rc.1"):
        problem = name_problem("alias", name)
        assert problem == (
            f"{name!r} reads as a semantic version (NAME@v1.2.3) and cannot name an alias"
        )
    assert name_problem("alias", "v1-2-3") is None


# --- through the installed command ------------------------------------------------------


def run(exe: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "--repo", str(root), *args], capture_output=True, text=True, check=False, timeout=300
    )


def register(exe: str, ws: Workspace, files: builders.ModelFiles, *extra: str) -> Any:
    return run(exe, ws.root, "register", "digits", "--weights", str(files.weights), "--no-push",
               "--commit", *extra)  # fmt: skip


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def refused(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 if code == 1 else lines, done.stderr
    return done.stderr


def test_register_bump_semver_show_resolve_and_validate(
    workspace: Workspace, model_files: builders.ModelFiles, modelreg_exe: str
) -> None:
    exe, root = modelreg_exe, workspace.root
    assert "registered digits/1 v1.0.0 (" in ok(
        register(exe, workspace, model_files, "--bump", "major")
    )
    ok(register(exe, workspace, model_files, "--bump", "minor"))
    ok(register(exe, workspace, model_files, "--bump", "patch"))
    ok(register(exe, workspace, model_files))  # a version may have none
    ok(register(exe, workspace, model_files, "--semver", "v1.2.0"))  # GTO's spelling is taken
    with Registry.open(root) as registry:
        assert [v.semver for v in registry.versions("digits")] == [
            "1.0.0", "1.1.0", "1.1.1", None, "1.2.0"
        ]  # fmt: skip
    assert "semver: 1.1.0\n" in (root / "registry/digits/versions/2.yaml").read_text()
    assert "Modelreg-Semver: 1.2.0" in git(root, "log", "-1", "--format=%B")

    # Not greater than the latest: refused in one line, nothing written or committed.
    head, status = git(root, "rev-parse", "HEAD"), workspace.status()
    for lower in ("1.2.0", "1.1.9", "1.2.0-rc.1"):
        message = refused(register(exe, workspace, model_files, "--semver", lower))
        assert message.strip().endswith(
            f"--semver {lower} is not greater than 1.2.0, the semver of digits/5; give a "
            "higher one, or --bump major, minor or patch"
        )
    for text in HOSTILE:
        refused(register(exe, workspace, model_files, "--semver", text))
    refused(register(exe, workspace, model_files, "--bump", "minor", "--semver", "2.0.0"), code=2)
    refused(register(exe, workspace, model_files, "--bump", "huge"), code=2)
    assert git(root, "rev-parse", "HEAD") == head and workspace.status() == status
    assert not (root / "registry/digits/versions/6.yaml").exists()
    assert not (root / "registry/digits/artifacts/6").exists()

    # A pre-release, then the bump that releases it.
    ok(register(exe, workspace, model_files, "--semver", "2.0.0-rc.1"))
    ok(register(exe, workspace, model_files, "--bump", "major"))

    shown = ok(run(exe, root, "show", "digits@v1.2.0")).splitlines()
    assert shown[0] == "digits/5  (no stage; resolved by semantic version v1.2.0)"
    assert shown[1] == "semver:      1.2.0"
    document = json.loads(ok(run(exe, root, "show", "models:/digits/v1.2.0", "--json")))
    assert (document["version"]["version"], document["version"]["semver"]) == (5, "1.2.0")
    assert ok(run(exe, root, "resolve", "models:/digits/v2.0.0")) == "digits/7\n"
    resolved = json.loads(ok(run(exe, root, "resolve", "digits@v2.0.0-rc.1", "--json")))
    assert (resolved["version"], resolved["semver"]) == (6, "2.0.0-rc.1")
    assert resolved["resolved_via"] == "semantic version v2.0.0-rc.1"
    assert ok(run(exe, root, "resolve", "digits/3")) == "digits/3\n"
    missing = refused(run(exe, root, "resolve", "digits@v1.3.0"))
    assert "no version of 'digits' has semver 1.3.0; the latest is 2.0.0 (digits/7)" in missing

    listed = ok(run(exe, root, "versions", "digits")).splitlines()
    assert listed[1].split()[:3] == ["VERSION", "SEMVER", "CREATED"]
    assert [line.split()[:2] for line in listed[2:]] == [
        ["7", "2.0.0"], ["6", "2.0.0-rc.1"], ["5", "1.2.0"], ["4", "-"], ["3", "1.1.1"],
        ["2", "1.1.0"], ["1", "1.0.0"],
    ]  # fmt: skip
    listing = json.loads(ok(run(exe, root, "versions", "digits", "--json")))
    assert [v.get("semver") for v in listing["versions"]][:4] == [
        "2.0.0", "2.0.0-rc.1", "1.2.0", None
    ]  # fmt: skip

    # Through the library, as a service loads it.
    with Registry.open(root) as registry:
        assert registry.resolve("models:/digits/v1.2.0").version.version == 5
        assert registry.resolve("digits@v1.0.0").version.version == 1

    # An alias may not look like one.
    message = refused(run(exe, root, "alias", "set", "digits", "v1.2.0", "1"))
    assert "'v1.2.0' reads as a semantic version (NAME@v1.2.3) and cannot name an alias" in message

    # validate: clean, then a hand edit that makes the semvers go backwards.
    assert validate(root, offline=True).ok
    path = root / "registry/digits/versions/5.yaml"
    text = path.read_text()
    path.write_text(text.replace("semver: 1.2.0\n", "semver: 1.1.0\n"))
    line = text.splitlines().index("semver: 1.2.0") + 1
    done = run(exe, root, "validate", "--offline")
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"registry/digits/versions/5.yaml:{line}: semver: 1.1.0 is lower than 1.1.1, the semver "
        "of version 3; semantic versions must increase with the version number: give this "
        "version one greater than 1.1.1"
    ) in done.stdout.splitlines()
    # ... and a merged version's semver is immutable, as its number is.
    done = run(exe, root, "validate", "--offline", "--base", "HEAD")
    assert done.returncode == 1
    assert 'registry/digits/versions/5.yaml: semver: changed from "1.2.0" to "1.1.0"' in done.stdout
    path.write_text(text)


def test_register_from_dvc_takes_a_bump(workspace: Workspace, modelreg_exe: str) -> None:
    Pipeline(workspace.root)
    workspace.commit_all("pipeline ran")
    exe, root = modelreg_exe, workspace.root

    def from_dvc(*extra: str) -> subprocess.CompletedProcess[str]:
        return run(exe, root, "register", "digits", "--from-dvc", "--no-push", "--commit", *extra)

    assert "registered digits/1 v0.1.0 (" in ok(from_dvc("--bump", "minor"))
    refused(from_dvc("--semver", "0.0.9"))
    refused(from_dvc("--semver", "1.0.0+build"))
    assert "registered digits/2 v1.0.0 (" in ok(from_dvc("--semver", "1.0.0"))
    with Registry.open(root) as registry:
        version = registry.resolve("digits@v1.0.0").version
    assert version.version == 2 and version.lineage.dvc_stage == "train"


# --- MLflow's client, through the plugin ----------------------------------------------------


def test_mlflow_resolves_models_uri_with_a_semver(
    workspace: Workspace,
    modelreg_exe: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MLflow parses ``models:/NAME/v1.2.0`` as a stage (any suffix that is not a number or
    'latest') and asks the store's ``get_latest_versions(NAME, ["v1.2.0"])``; the plugin
    answers the version carrying that semver. ``models:/NAME@v1.2.0`` is an alias lookup,
    answered the same way."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.pyfunc
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
        from mlflow.store.artifact.utils.models import get_model_name_and_version

        from tests.test_mlflow_store import Doubler

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{workspace.root}")
    monkeypatch.chdir(tmp_path)
    exe, root = modelreg_exe, workspace.root
    for number, semver in ((1, "1.0.0"), (2, "1.2.0")):
        folder = tmp_path / f"doubler-{number}"
        mlflow.pyfunc.save_model(str(folder), python_model=Doubler())
        ok(run(exe, root, "register", "doubler", "--weights", str(folder), "--semver", semver,
               "--commit"))  # fmt: skip
    ok(run(exe, root, "register", "doubler", "--weights", str(tmp_path / "doubler-1"), "--commit"))

    client = MlflowClient()
    assert get_model_name_and_version(client, "models:/doubler/v1.0.0") == ("doubler", "1")
    assert get_model_name_and_version(client, "models:/doubler/v1.2.0") == ("doubler", "2")
    # (MLflow answers an alias with the entity's version as it is: an int, as its own stores do)
    assert get_model_name_and_version(client, "models:/doubler@v1.2.0") == ("doubler", 2)
    assert get_model_name_and_version(client, "models:/doubler/3") == ("doubler", "3")
    assert client.get_model_version_by_alias("doubler", "v1.0.0").version == 1
    [found] = client.get_latest_versions("doubler", ["v1.2.0"])
    assert found.version == 2

    loaded = mlflow.pyfunc.load_model("models:/doubler/v1.2.0")
    assert list(loaded.predict([1.0, 2.5])) == [2.0, 5.0]

    with pytest.raises(MlflowException, match=r"has semver 9\.0\.0; the latest is 1\.2\.0"):
        get_model_name_and_version(client, "models:/doubler/v9.0.0")
    with pytest.raises(MlflowException, match="build metadata"):
        client.get_model_version_by_alias("doubler", "v1.0.0+b")
    # MLflow's client refuses an alias with a '.' before the store sees it.
    with pytest.raises(MlflowException, match=r"Invalid alias name: 'v1\.0\.0'"):
        client.set_registered_model_alias("doubler", "v1.0.0", "1")
