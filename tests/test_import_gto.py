"""``modelreg import-gto`` on a repository made by the real ``gto`` CLI: versions,
assignments in GTO's order with their taggers, unassignments and deregistrations,
and ``show NAME@STAGE`` agreeing with ``gto show NAME#STAGE``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import Workspace, git

GTO = Path(sys.executable).parent / "gto"
pytestmark = pytest.mark.skipif(not GTO.is_file(), reason="gto is installed with DVC")


def _gto(source: Path, *args: str) -> str:
    done = subprocess.run(
        [str(GTO), *args], cwd=source, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _commit_file(source: Path, text: str, message: str) -> None:
    (source / "models/clf.bin").write_text(text)
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", message)


@pytest.fixture
def gto_repo(tmp_path: Path) -> Path:
    """clf: v1.0.0, v1.1.0, v2.0.0 (deregistered); prod: v1.0.0, then v1.1.0, then
    v1.1.0 unassigned (back to v1.0.0); staging: v2.0.0, by two taggers."""
    source = tmp_path / "gto-repo"
    source.mkdir()
    git(source, "init", "-q")
    git(source, "config", "user.name", "Ana Tagger")
    git(source, "config", "user.email", "ana@example.com")
    (source / "artifacts.yaml").write_text("clf:\n  type: model\n  path: models/clf.bin\n")
    (source / "models").mkdir()
    for text, version in (("one", "v1.0.0"), ("two", "v1.1.0"), ("three", "v2.0.0")):
        _commit_file(source, text, f"train {version}")
        _gto(source, "register", "clf", "--version", version)
    _gto(source, "assign", "clf", "--version", "v1.0.0", "--stage", "prod")
    _gto(source, "assign", "clf", "--version", "v1.1.0", "--stage", "prod")
    git(source, "config", "user.name", "Bo Reviewer")
    git(source, "config", "user.email", "bo@example.com")
    _gto(source, "assign", "clf", "--version", "v2.0.0", "--stage", "staging")
    _gto(source, "deprecate", "clf", "v1.1.0", "prod")  # unassign
    _gto(source, "deprecate", "clf", "v2.0.0", "staging")
    _gto(source, "deprecate", "clf", "v2.0.0")  # deregister
    return source


@pytest.fixture
def target(workspace: Workspace) -> Workspace:
    config = workspace.root / "registry/registry.yaml"
    document = yaml.safe_load(config.read_text())
    document["stages"] = ["staging", "prod"]
    config.write_text(yaml.safe_dump(document))
    workspace.commit_all("stages as GTO names them")
    return workspace


def run(exe: str, ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], cwd=ws.root, capture_output=True, text=True, check=False)


def test_a_gto_registry_comes_over_in_gtos_order(
    gto_repo: Path, target: Workspace, modelreg_exe: str
) -> None:
    done = run(modelreg_exe, target, "import-gto", str(gto_repo), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["format"] == "modelreg.import-gto/1"
    clf = result["models"]["clf"]
    assert clf["versions"] == {"v1.0.0": 1, "v1.1.0": 2, "v2.0.0": 3}
    assert clf["stages"] == {"prod": 1}
    assert clf["deprecated"] == ["v2.0.0"]

    # show NAME@prod agrees with gto show NAME#prod.
    gto_ref = _gto(gto_repo, "show", "clf#prod", "--ref").strip()
    shown = json.loads(run(modelreg_exe, target, "show", "clf@prod", "--json").stdout)
    assert f"clf@{shown['version']['tags']['gto.version']}" == gto_ref == "clf@v1.0.0"
    assert (target.root / "registry/clf/artifacts/2/clf.bin").read_text() == "two"

    # Every assignment, in GTO's order, by its tagger.
    history = json.loads(run(modelreg_exe, target, "history", "clf", "--json").stdout)
    changes = list(reversed(history["changes"]))
    assert [(c["stage"], c["to_version"], c["author"].split(" <")[0]) for c in changes] == [
        ("prod", 1, "Ana Tagger"),
        ("prod", 2, "Ana Tagger"),
        ("staging", 3, "Bo Reviewer"),
        ("prod", 1, "Bo Reviewer"),  # v1.1.0 unassigned: prod shows v1.0.0 again
        ("staging", None, "Bo Reviewer"),  # v2.0.0 unassigned: staging is empty
    ]
    gto_events = json.loads(_gto(gto_repo, "history", "clf", "--json"))
    assignments = [e for e in gto_events if e["event"] in ("assignment", "unassignment")]
    assert len(assignments) == len(changes)
    deprecated = yaml.safe_load((target.root / "registry/clf/versions/3.yaml").read_text())
    assert "deregistered in GTO" in deprecated["deprecation"]["reason"]
    assert run(modelreg_exe, target, "validate", "--offline").returncode == 0
    # A model imported once is not imported again.
    again = run(modelreg_exe, target, "import-gto", str(gto_repo))
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "error: model 'clf' already exists here; import-gto adds new models"
    )


def test_an_undeclared_stage_or_a_non_repository_is_refused_and_nothing_changes(
    gto_repo: Path, workspace: Workspace, modelreg_exe: str, tmp_path: Path
) -> None:
    head = workspace.git("rev-parse", "HEAD")
    done = run(modelreg_exe, workspace, "import-gto", str(gto_repo))
    assert done.returncode == 1
    assert "clf: GTO stages prod are not declared in registry/registry.yaml" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    plain = tmp_path / "plain"
    plain.mkdir()
    done = run(modelreg_exe, workspace, "import-gto", str(plain))
    assert (done.returncode, done.stderr.strip()) == (1, f"error: {plain}: not a git repository")
    assert workspace.git("rev-parse", "HEAD") == head
    assert workspace.status() == ""


def test_a_version_whose_file_is_not_in_git_is_refused(
    gto_repo: Path, target: Workspace, modelreg_exe: str
) -> None:
    (gto_repo / "artifacts.yaml").write_text("clf:\n  type: model\n  path: ../../etc/passwd\n")
    git(gto_repo, "commit", "-q", "-am", "a hostile path")
    _gto(gto_repo, "register", "clf", "--version", "v3.0.0")
    head = target.git("rev-parse", "HEAD")
    done = run(modelreg_exe, target, "import-gto", str(gto_repo))
    assert done.returncode == 1
    assert "artifacts.yaml path '../../etc/passwd' leaves the repository" in done.stderr
    assert target.git("rev-parse", "HEAD") == head
    assert target.status() == ""
    assert not (target.root / "registry/clf").exists()
