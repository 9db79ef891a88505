"""``modelreg import-gto`` on repositories made by the real ``gto`` CLI.

The showcase: two models, versions registered out of semantic-version order
(``v1.2.0-rc.10`` before ``-rc.2``), stages assigned, re-assigned and unassigned by
three taggers, a version deregistered while two stages held it, a model deprecated,
and a lightweight tag GTO ignores. After the import, ``history``, ``show`` and
``versions`` must say what ``gto history``, ``gto show NAME#STAGE`` and ``gto show
NAME`` say; a second run does nothing. Hostile sources (a folder that is no
repository, a path out of the repository, a symbolic link, names and tags GTO's
grammar allows but modelreg cannot hold, tags on the wrong objects) each get one line
on stderr, exit 1, and leave the registry as it was. A version whose file DVC tracks
comes from the source's DVC cache, verified.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Workspace, git

GTO = Path(sys.executable).parent / "gto"
DVC = Path(sys.executable).parent / "dvc"
pytestmark = pytest.mark.skipif(not GTO.is_file(), reason="gto is installed with DVC")

# GTO dates a tag by the clock (dulwich's time.time(); pygit2, which would read
# GIT_COMMITTER_DATE, refuses it and steps aside). The clock is injected into GTO's own
# entry point, the one the gto script runs, so each tag has its own minute and GTO's
# order is never left to ties within a second.
_CLOCKED_GTO = (
    "import sys, time\n"
    "now = float(sys.argv.pop(1))\n"
    "time.time = lambda: now\n"
    "from gto.cli import app\n"
    "sys.argv[0] = 'gto'\n"
    "sys.exit(app())\n"
)

# The command lives in modelreg.cli.importing. Until modelreg.cli imports that module,
# the installed script's entry point is run with it imported first.
_SHIM = "import sys, modelreg.cli.importing\nfrom modelreg.cli import main\nsys.exit(main())\n"

TAGGERS = {
    "ana": ("Ana Tagger", "ana@example.com"),
    "bo": ("Bo Reviewer", "bo@example.com"),
    "cy": ("Cy Ops", "cy@example.com"),
}


def _import_command(modelreg_exe: str) -> list[str]:
    import modelreg.cli  # noqa: F401 - to see whether it brings the command module

    if "modelreg.cli.importing" in sys.modules:
        return [modelreg_exe, "import-gto"]
    return [sys.executable, "-c", _SHIM, "import-gto"]


@dataclass
class GtoRepo:
    """A GTO repository, written through the real gto CLI on an injected clock."""

    root: Path
    clock: int = 1_760_000_000

    @classmethod
    def create(cls, root: Path, index: str) -> GtoRepo:
        root.mkdir()
        git(root, "init", "-q")
        (root / "artifacts.yaml").write_text(index)
        return cls(root)

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_text(text)
        git(self.root, "add", "-A")
        self.clock += 60  # on the same clock as the tags: GTO counts commits as events
        when = {
            "GIT_AUTHOR_DATE": f"@{self.clock} +0000",
            "GIT_COMMITTER_DATE": f"@{self.clock} +0000",
        }
        subprocess.run(
            ["git", "commit", "-q", "-m", message],
            cwd=self.root,
            env={**os.environ, **when},
            check=True,
        )
        return git(self.root, "rev-parse", "HEAD").strip()

    def gto(self, who: str, *args: str) -> None:
        self.clock += 60
        name, email = TAGGERS[who]
        env = {
            **os.environ,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": f"@{self.clock} +0000",
        }
        done = subprocess.run(
            [sys.executable, "-c", _CLOCKED_GTO, str(self.clock), *args],
            cwd=self.root, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    def tag(self, name: str, target: str) -> None:
        """A tag in GTO's grammar made by hand, as no gto command would make it."""
        git(self.root, "tag", "-a", name, "-m", "by hand", target)


def read_gto(root: Path, *args: str) -> str:
    done = subprocess.run([str(GTO), *args], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def run(command: list[str], ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args], cwd=ws.root, capture_output=True, text=True, check=False
    )


def declare_stages(workspace: Workspace, *stages: str) -> Workspace:
    config = workspace.root / "registry/registry.yaml"
    document = yaml.safe_load(config.read_text())
    document["stages"] = list(stages)
    config.write_text(yaml.safe_dump(document))
    workspace.commit_all("stages as GTO names them")
    return workspace


INDEX = (
    "clf:\n  type: model\n  path: models/clf.bin\n  description: digits classifier\n"
    "seg:\n  type: model\n  path: models/seg.pt\n"
)


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> GtoRepo:
    repo = GtoRepo.create(tmp_path_factory.mktemp("gto") / "showcase", INDEX)
    first = repo.commit({"models/clf.bin": "one", "models/seg.pt": "s1"}, "train")
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    repo.gto("ana", "register", "seg", "--version", "v0.1.0")
    git(repo.root, "tag", "clf@v9.9.9", first)  # lightweight: GTO ignores it
    git(repo.root, "tag", "-a", "v1.0", "-m", "a release tag, not GTO's", first)
    repo.commit({"models/clf.bin": "rc10"}, "train")
    repo.gto("ana", "register", "clf", "--version", "v1.2.0-rc.10")
    repo.commit({"models/clf.bin": "rc2"}, "train")
    repo.gto("ana", "register", "clf", "--version", "v1.2.0-rc.2")
    repo.commit({"models/clf.bin": "final", "models/seg.pt": "s2"}, "train")
    repo.gto("bo", "register", "clf", "--version", "v1.2.0")
    repo.gto("bo", "register", "seg", "--version", "v0.2.0")
    repo.gto("ana", "assign", "clf", "--version", "v1.0.0", "--stage", "prod")
    repo.gto("ana", "assign", "clf", "--version", "v1.2.0-rc.2", "--stage", "staging")
    repo.gto("bo", "assign", "clf", "--version", "v1.2.0-rc.10", "--stage", "staging")
    repo.gto("bo", "assign", "clf", "--version", "v1.2.0", "--stage", "prod")
    repo.gto("cy", "deprecate", "clf", "v1.2.0", "prod")  # unassign: prod falls back
    repo.gto("ana", "assign", "clf", "--version", "v1.2.0-rc.10", "--stage", "prod")
    repo.gto("cy", "deprecate", "clf", "v1.2.0-rc.10")  # deregister: both stages fall back
    repo.gto("bo", "assign", "clf", "--version", "v1.2.0", "--stage", "staging")
    repo.gto("ana", "assign", "seg", "--version", "v0.1.0", "--stage", "prod")
    repo.gto("bo", "assign", "seg", "--version", "v0.2.0", "--stage", "staging")
    repo.gto("cy", "deprecate", "seg")  # the model: GTO shows none of it
    return repo


def test_a_gto_registry_comes_over_as_gto_shows_it(
    showcase: GtoRepo, workspace: Workspace, modelreg_exe: str
) -> None:
    target = declare_stages(workspace, "staging", "prod")
    import_gto = _import_command(modelreg_exe)
    head = target.git("rev-parse", "HEAD")

    planned = run(import_gto, target, str(showcase.root), "--dry-run", "--json")
    assert planned.returncode == 0, planned.stderr
    assert [m["state"] for m in json.loads(planned.stdout)["models"]] == ["planned", "planned"]
    assert (target.git("rev-parse", "HEAD"), target.status()) == (head, "")

    done = run(import_gto, target, str(showcase.root), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["format"] == "modelreg.import-gto/1"
    assert result["ignored"] == [
        {"tag": "clf@v9.9.9", "why": "a lightweight tag; GTO reads only annotated tags"}
    ]
    clf, seg = result["models"]
    # Semantic-version order: rc.2 before rc.10 (numerically), both before the release.
    assert clf["versions"] == {"v1.0.0": 1, "v1.2.0-rc.2": 2, "v1.2.0-rc.10": 3, "v1.2.0": 4}
    assert (clf["stages"], clf["deprecated"]) == ({"prod": 1, "staging": 4}, ["v1.2.0-rc.10"])
    assert (seg["stages"], seg["deprecated"], seg["model_deprecated"]) == (
        {}, ["v0.1.0", "v0.2.0"], True
    )  # fmt: skip
    assert len(result["commits"]) == 2

    def modelreg(*args: str) -> Any:
        out = run([modelreg_exe], target, *args, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    # show NAME@STAGE answers what gto show NAME#STAGE does.
    for model, stage in (("clf", "prod"), ("clf", "staging")):
        theirs = read_gto(showcase.root, "show", f"{model}#{stage}", "--ref").strip()
        shown = modelreg("show", f"{model}@{stage}")["version"]
        assert f"{model}@{shown['tags']['gto.version']}" == theirs
        # ... and GTO's own name for that version names the same one here.
        assert f"{model}@v{shown['semver']}" == theirs
        assert modelreg("show", theirs)["version"]["version"] == shown["version"]
    assert read_gto(showcase.root, "show", "seg#prod", "--ref").strip() == ""
    gone = run([modelreg_exe], target, "show", "seg@prod")
    assert gone.returncode == 1
    assert "prod" in gone.stderr and len(gone.stderr.strip().splitlines()) == 1

    # The versions GTO still shows are exactly the ones not deprecated here.
    active = {v["version"] for v in json.loads(read_gto(showcase.root, "show", "clf", "--json"))}
    versions = modelreg("versions", "clf")["versions"]
    assert {v["tags"]["gto.version"] for v in versions if "deprecation" not in v} == active
    manifest = yaml.safe_load((target.root / "registry/clf/versions/3.yaml").read_text())
    assert manifest["deprecation"]["reason"] == "deregistered in GTO (clf@v1.2.0-rc.10!)"
    assert manifest["author"] == "Ana Tagger <ana@example.com>"
    assert manifest["tags"]["gto.path"] == "models/clf.bin"
    assert (target.root / "registry/clf/artifacts/2/clf.bin").read_text() == "rc2"
    model = yaml.safe_load((target.root / "registry/clf/model.yaml").read_text())
    assert (model["description"], model["tags"]) == ("digits classifier", {"gto.type": "model"})

    # History: every stage change in GTO's order, by the tag's tagger, at its date.
    # (Within one commit, a deregistration's two stages, by stage name.)
    history = sorted(modelreg("history", "clf")["changes"], key=lambda c: (c["date"], c["stage"]))
    assert [
        (c["stage"], c["from_version"], c["to_version"], c["kind"], c["author"].split(" <")[0])
        for c in history
    ] == [
        ("prod", None, 1, "assigned", "Ana Tagger"),
        ("staging", None, 2, "assigned", "Ana Tagger"),
        ("staging", 2, 3, "promoted", "Bo Reviewer"),
        ("prod", 1, 4, "promoted", "Bo Reviewer"),
        ("prod", 4, 1, "rolled back", "Cy Ops"),  # unassigned: back to the one before
        ("prod", 1, 3, "promoted", "Ana Tagger"),
        ("prod", 3, 1, "rolled back", "Cy Ops"),  # v1.2.0-rc.10 deregistered...
        ("staging", 3, 2, "rolled back", "Cy Ops"),  # ...from both stages at once
        ("staging", 2, 4, "promoted", "Bo Reviewer"),
    ]
    events = json.loads(read_gto(showcase.root, "history", "clf", "--json"))
    by_ref = {e["ref"]: e for e in events}
    for change in history:
        event = by_ref[change["reason"].removeprefix("GTO ")]
        assert change["author"] == f"{event['author']} <{event['author_email']}>"
        assert change["date"] == event["timestamp"].replace("+00:00", "Z")
    # Every GTO assignment and unassignment is there, in GTO's order.
    gto_order = [e["ref"] for e in reversed(events) if e["event"].endswith("assignment")]
    ours = [c["reason"].removeprefix("GTO ") for c in history]
    assert [ref for ref in ours if ref in gto_order] == gto_order
    seg_history = sorted(
        modelreg("history", "seg")["changes"], key=lambda c: (c["date"], c["stage"])
    )
    assert [(c["stage"], c["to_version"], c["kind"]) for c in seg_history] == [
        ("prod", 1, "assigned"),
        ("staging", 2, "assigned"),
        ("prod", None, "cleared"),
        ("staging", None, "cleared"),
    ]

    assert run([modelreg_exe], target, "validate").returncode == 0

    # A second run finds both models as it would leave them, and does nothing.
    head = target.git("rev-parse", "HEAD")
    again = run(import_gto, target, str(showcase.root))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "clf: already imported (4 versions, 9 stage changes), nothing to do",
        "seg: already imported (2 versions, 4 stage changes), nothing to do",
        "ignored clf@v9.9.9: a lightweight tag; GTO reads only annotated tags",
    ]
    assert (target.git("rev-parse", "HEAD"), target.status()) == (head, "")


def _one_version(
    tmp_path: Path, index: str = "clf:\n  type: model\n  path: models/clf.bin\n"
) -> GtoRepo:
    repo = GtoRepo.create(tmp_path / "source", index)
    repo.commit({"models/clf.bin": "one"}, "train")
    return repo


def _plain_folder(tmp_path: Path) -> tuple[Path, str]:
    plain = tmp_path / "plain"
    plain.mkdir()
    return plain, f"{plain}: not a git repository (give the GTO repository's top folder)"


def _undeclared_stage(tmp_path: Path) -> tuple[Path, str]:
    repo = _one_version(tmp_path)
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    repo.gto("ana", "assign", "clf", "--version", "v1.0.0", "--stage", "qa")
    return repo.root, (
        "clf: GTO stages qa are not declared in registry/registry.yaml (stages: staging, "
        "prod); add them to 'stages' there, in promotion order, commit, and import again"
    )


def _path_out_of_the_repository(tmp_path: Path) -> tuple[Path, str]:
    repo = _one_version(tmp_path, "clf:\n  path: ../../etc/passwd\n")
    sha = git(repo.root, "rev-parse", "HEAD").strip()
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    return repo.root, (
        f"clf v1.0.0: artifacts.yaml at {sha[:12]}: path '../../etc/passwd' leaves the "
        "repository; name a file in it"
    )


def _symbolic_link(tmp_path: Path) -> tuple[Path, str]:
    repo = GtoRepo.create(tmp_path / "source", "clf:\n  path: models/clf.bin\n")
    (repo.root / "models").mkdir()
    (repo.root / "models/clf.bin").symlink_to("/etc/passwd")
    sha = repo.commit({}, "a link")
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    return repo.root, (
        f"clf v1.0.0: artifacts.yaml at {sha[:12]}: models/clf.bin is a symbolic link; "
        "name the file itself"
    )


def _name_with_a_slash(tmp_path: Path) -> tuple[Path, str]:
    repo = _one_version(tmp_path, "team/clf:\n  path: models/clf.bin\n")
    repo.gto("ana", "register", "team/clf", "--version", "v1.0.0")
    return repo.root, (
        "GTO artifact 'team/clf' is not a valid model name: use letters, digits, '.', '_' "
        "and '-', starting and ending with a letter or digit, at most 64 characters"
    )


def _folder_prefix(tmp_path: Path) -> tuple[Path, str]:
    repo = _one_version(tmp_path)
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    repo.tag("models=clf@v1.0.0", "HEAD")
    return repo.root, (
        "GTO artifact 'models:clf' is not a valid model name: use letters, digits, '.', '_' "
        "and '-', starting and ending with a letter or digit, at most 64 characters; import "
        "the others with --model clf"
    )


def _assignment_without_a_version(tmp_path: Path) -> tuple[Path, str]:
    repo = _one_version(tmp_path)
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    sha = repo.commit({"models/clf.bin": "two"}, "unregistered")
    repo.tag("clf#prod#7", sha)
    return repo.root, (
        f"tag 'clf#prod#7': no version of clf is registered on commit {sha[:12]}; register "
        "one there in GTO (gto register) and import again"
    )


def _tag_on_a_blob(tmp_path: Path) -> tuple[Path, str]:
    repo = _one_version(tmp_path)
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    repo.tag("clf@v2.0.0", git(repo.root, "rev-parse", "HEAD:models/clf.bin").strip())
    return repo.root, (
        "tag 'clf@v2.0.0' points at a blob, not a commit; GTO tags name commits: delete it, "
        "or tag the version's commit"
    )


def _registered_twice(tmp_path: Path) -> tuple[Path, str]:
    repo = _one_version(tmp_path)
    first = git(repo.root, "rev-parse", "HEAD").strip()
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    second = repo.commit({"models/clf.bin": "two"}, "again")
    repo.tag("clf@v1.0.0#5", second)
    return repo.root, (
        f"clf v1.0.0 is registered on two commits (clf@v1.0.0 on {first[:12]}, "
        f"clf@v1.0.0#5 on {second[:12]}); GTO cannot tell which one it is: delete one of "
        "the tags"
    )


@pytest.mark.parametrize(
    "build",
    [
        _plain_folder,
        _undeclared_stage,
        _path_out_of_the_repository,
        _symbolic_link,
        _name_with_a_slash,
        _folder_prefix,
        _assignment_without_a_version,
        _tag_on_a_blob,
        _registered_twice,
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    build: Callable[[Path], tuple[Path, str]],
    workspace: Workspace,
    modelreg_exe: str,
    tmp_path: Path,
) -> None:
    target = declare_stages(workspace, "staging", "prod")
    source, message = build(tmp_path)
    head = target.git("rev-parse", "HEAD")
    done = run(_import_command(modelreg_exe), target, str(source))
    assert (done.returncode, done.stderr) == (1, f"error: {message}\n")
    assert (target.git("rev-parse", "HEAD"), target.status()) == (head, "")
    assert not (target.root / "registry/clf").exists()


def test_a_model_here_that_differs_is_refused(
    workspace: Workspace, modelreg_exe: str, tmp_path: Path
) -> None:
    target = declare_stages(workspace, "staging", "prod")
    repo = _one_version(tmp_path)
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    import_gto = _import_command(modelreg_exe)
    assert run(import_gto, target, str(repo.root)).returncode == 0
    repo.gto("bo", "assign", "clf", "--version", "v1.0.0", "--stage", "prod")
    head = target.git("rev-parse", "HEAD")
    done = run(import_gto, target, str(repo.root))
    assert (done.returncode, done.stderr) == (
        1,
        "error: model 'clf' already exists here and differs from GTO's; import-gto adds "
        "new models only (leave it out with --model, or remove it first)\n",
    )
    assert (target.git("rev-parse", "HEAD"), target.status()) == (head, "")


@pytest.mark.skipif(not DVC.is_file(), reason="needs the dvc command")
def test_a_file_dvc_tracks_comes_from_the_source_cache_verified(
    workspace: Workspace, modelreg_exe: str, tmp_path: Path
) -> None:
    target = declare_stages(workspace, "staging", "prod")
    repo = GtoRepo.create(tmp_path / "source", "clf:\n  type: model\n  path: models/clf.pt\n")
    subprocess.run([str(DVC), "init", "-q"], cwd=repo.root, check=True)
    (repo.root / "models").mkdir()
    (repo.root / "models/clf.pt").write_bytes(b"weights tracked by dvc")
    subprocess.run([str(DVC), "add", "-q", "models/clf.pt"], cwd=repo.root, check=True)
    repo.commit({}, "dvc add")
    repo.gto("ana", "register", "clf", "--version", "v1.0.0")
    md5 = yaml.safe_load((repo.root / "models/clf.pt.dvc").read_text())["outs"][0]["md5"]
    cached = repo.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    import_gto = _import_command(modelreg_exe)
    head = target.git("rev-parse", "HEAD")

    # A damaged cache object is refused, never imported.
    intact = cached.read_bytes()
    cached.chmod(0o644)
    cached.write_bytes(b"tampered")
    done = run(import_gto, target, str(repo.root))
    assert (done.returncode, done.stderr) == (
        1,
        f"error: clf@v1.0.0: the DVC cache object {cached} does not match its md5 {md5}; "
        "run 'dvc fetch --all-tags' there again\n",
    )
    cached.unlink()
    done = run(import_gto, target, str(repo.root))
    sha = git(repo.root, "rev-parse", "HEAD").strip()
    assert (done.returncode, done.stderr) == (
        1,
        f"error: clf v1.0.0: artifacts.yaml at {sha[:12]}: models/clf.pt is tracked by DVC "
        f"(md5 {md5}) and is not in the source's DVC cache ({repo.root}/.dvc/cache); run "
        "'dvc fetch --all-tags' there, then import again\n",
    )
    assert (target.git("rev-parse", "HEAD"), target.status()) == (head, "")

    cached.write_bytes(intact)
    done = run(import_gto, target, str(repo.root))
    assert done.returncode == 0, done.stderr
    assert (target.root / "registry/clf/artifacts/1/clf.pt").read_bytes() == intact
    assert run([modelreg_exe], target, "validate").returncode == 0
