"""A pull request written by an attacker: ``tests/cases/hostile/<case>.yaml``.

Every case starts from the same valid, committed registry (model ``digits``
versions 1-3, production -> 2, alias ``champion`` -> 2; model ``other``
version 1) whose local DVC remote also holds the attacker's objects: a git
config whose ``core.fsmonitor`` and a hook that would each create
``HOSTILE-MARKER`` in the clone, and folder listings that name unsafe paths.
A case then

* ``artifacts`` / ``fields``: writes ``registry/digits/versions/4.yaml`` (a
  valid version 4 but for these),
* ``write``: writes other files (text), ``link``: creates symlinks,

with ``$name`` standing for the md5 or size of an object (see ``objects``),
and commits it all, as a pull request brings it.
Through the installed ``modelreg`` command, ``validate`` must exit 1 naming
``validate`` (when given), and ``pull REF`` must exit 1 with one line naming
``pull``, having written nothing (every file's bytes and mode in the clone,
``.git`` included, and in the remote), and no git command may run the
attacker's code afterwards. The MLflow plugin's download URI is refused too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import string
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelreg.artifacts.dvc import object_path
from modelreg.core.layout import version_path
from tests import builders
from tests.conftest import git

CASES = Path(__file__).parent / "cases" / "hostile"
CASE_NAMES = sorted(p.stem for p in CASES.glob("*.yaml"))
MARKER = "HOSTILE-MARKER"

# The attacker's bytes, pushed to the DVC remote beside the registry's own objects.
GIT_CONFIG = (
    "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
    f"\tfsmonitor = touch {MARKER}\n"
).encode()
HOOK = f"#!/bin/sh\ntouch {MARKER}\n".encode()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def listing(*entries: tuple[str, str]) -> bytes:
    """A folder object as DVC writes it: a JSON list of {md5, relpath}."""
    return json.dumps([{"md5": m, "relpath": r} for m, r in entries]).encode()


def put(remote: Path, data: bytes, suffix: str = "") -> str:
    digest = md5(data)
    target = object_path(remote, digest + suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return digest + suffix


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The base clone and remote, built once; each case works on a copy."""
    base = tmp_path_factory.mktemp("hostile-base")
    root, remote = base / "repo", base / "remote"
    root.mkdir()
    remote.mkdir()
    git(root, "init", "-q")
    builders.write_config(root)
    builders.write_model(root, "digits")
    for number in (1, 2, 3):
        builders.write_version(root, "digits", number, store=remote)
    builders.write_pointer(root, "digits", "production", 2)
    builders.write_alias(root, "digits", "champion", 2)
    builders.write_version(root, "other", 1, store=remote)
    # A relative URL, so a copy of the folder pair is a working clone and remote.
    (root / ".dvc").mkdir()
    (root / ".dvc" / "config").write_text(
        "[core]\n    remote = storage\n['remote \"storage\"']\n    url = ../../remote\n"
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "registry")

    def weights(name: str, number: int) -> bytes:
        return builders.artifact_content(name, number)

    objects: dict[str, Any] = {
        "config_md5": put(remote, GIT_CONFIG),
        "config_size": len(GIT_CONFIG),
        "hook_md5": put(remote, HOOK),
        "hook_size": len(HOOK),
        "v1_md5": md5(weights("digits", 1)),
        "v1_size": len(weights("digits", 1)),
        "v2_md5": md5(weights("digits", 2)),
        "v2_size": len(weights("digits", 2)),
        "other_md5": md5(weights("other", 1)),
        "other_size": len(weights("other", 1)),
    }
    objects["other_object"] = f"{objects['other_md5'][:2]}/{objects['other_md5'][2:]}"
    config = objects["config_md5"]
    objects["escape_dir_md5"] = put(remote, listing((config, "../../../../../.git/config")), ".dir")
    objects["git_dir_md5"] = put(remote, listing((config, ".git/config")), ".dir")
    objects["ok_dir_md5"] = put(remote, listing((objects["v1_md5"], "model.pt")), ".dir")
    return base, objects


def load_case(name: str, objects: dict[str, Any]) -> dict[str, Any]:
    text = string.Template((CASES / f"{name}.yaml").read_text()).substitute(objects)
    case: dict[str, Any] = yaml.safe_load(text)
    return case


def apply_case(root: Path, case: dict[str, Any]) -> None:
    if "artifacts" in case:
        document: dict[str, Any] = {
            "model": "digits",
            "version": 4,
            "created": builders.CREATED,
            "author": "Mallory <mallory@example.com>",
            "artifacts": case["artifacts"],
            **case.get("fields", {}),
        }
        target = root / version_path("digits", 4)
        # Written as the attacker would, not through modelreg's checked writer.
        target.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=False))
    for relpath, text in (case.get("write") or {}).items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for relpath, link_target in (case.get("link") or {}).items():
        link = root / relpath
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        link.unlink(missing_ok=True)
        link.symlink_to(link_target)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the pull request")


def snapshot(*folders: Path) -> dict[str, tuple[int, str]]:
    """Every entry's mode and content (a link's target) under ``folders``, ``.git``
    included. Left out: DVC's content-addressed cache (an object enters it only
    verified) and modelreg's parsed-manifest cache under ``.git/modelreg``."""
    state: dict[str, tuple[int, str]] = {}
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            here = Path(dirpath)
            rel = here.relative_to(folder.parent).as_posix()
            if rel.endswith(("/.dvc/cache", "/.git/modelreg")) or "/.dvc/cache/" in rel:
                dirnames.clear()
                continue
            for name in dirnames + filenames:
                path = here / name
                if f"{rel}/{name}".endswith(("/.dvc/cache", "/.git/modelreg")):
                    continue
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    content = f"link:{path.readlink()}"
                elif stat.S_ISREG(info.st_mode):
                    content = hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    content = "dir"
                state[f"{rel}/{name}"] = (info.st_mode, content)
    return state


def run(exe: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def assert_refused(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0], lines[0]


def assert_no_command_ran(root: Path) -> None:
    """Git commands that would run a planted fsmonitor or hook leave no marker."""
    git(root, "status", "--porcelain")
    git(root, "commit", "-q", "--allow-empty", "-m", "after the pull")
    assert not list(root.rglob(MARKER)), "the attacker's command ran"


@pytest.fixture
def clone(template: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    base, _ = template
    shutil.copytree(base / "repo", tmp_path / "repo", symlinks=True)
    shutil.copytree(base / "remote", tmp_path / "remote", symlinks=True)
    return tmp_path / "repo"


def test_the_corpus_is_large_enough() -> None:
    assert len(CASE_NAMES) >= 30


def test_the_payload_runs_when_written_where_it_aims(clone: Path) -> None:
    """The control: without the checks, these bytes in .git/config run a command."""
    (clone / ".git" / "config").write_bytes(GIT_CONFIG)
    git(clone, "status", "--porcelain")
    assert (clone / MARKER).exists()


@pytest.mark.parametrize("name", CASE_NAMES)
def test_a_hostile_change_is_refused_and_writes_nothing(
    name: str, template: tuple[Path, dict[str, Any]], clone: Path, modelreg_exe: str
) -> None:
    _, objects = template
    case = load_case(name, objects)
    apply_case(clone, case)

    if "validate" in case:
        checked = run(modelreg_exe, clone, "validate")
        assert checked.returncode == 1, (checked.stdout, checked.stderr)
        assert "Traceback" not in checked.stderr
        findings = [line for line in checked.stdout.splitlines() if case["validate"] in line]
        assert findings, checked.stdout + checked.stderr
        for link in case.get("link") or {}:  # one link, one finding
            naming = [line for line in checked.stdout.splitlines() if link in line]
            assert len(naming) == 1, checked.stdout

    before = snapshot(clone, clone.parent / "remote")
    pulled = run(modelreg_exe, clone, "pull", case["ref"])
    assert_refused(pulled, case["pull"])
    assert snapshot(clone, clone.parent / "remote") == before
    assert not Path("/tmp/modelreg-hostile-written").exists()

    if case.get("plugin", True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mlflow.exceptions import MlflowException

            from modelreg.core.errors import ModelregError
            from modelreg.mlflow_store import ModelregStore

        store = ModelregStore(f"modelreg://{clone}")
        with pytest.raises((ModelregError, MlflowException)) as caught:
            store.get_model_version_download_uri("digits", case["ref"].split("/")[1])
        assert "\n" not in str(caught.value)
        assert snapshot(clone, clone.parent / "remote") == before

    assert_no_command_ran(clone)


def write_hostile_version(root: Path, objects: dict[str, Any]) -> None:
    """Version 4 whose weights aim at .git/config and whose ONNX file at a hook."""
    apply_case(
        root,
        {
            "artifacts": [
                {
                    "name": "weights",
                    "path": ".git/config",
                    "md5": objects["config_md5"],
                    "size": objects["config_size"],
                    "format": "pytorch",
                },
                {
                    "name": "onnx",
                    "path": ".git/hooks/pre-commit",
                    "md5": objects["hook_md5"],
                    "size": objects["hook_size"],
                    "format": "onnx",
                    "opset": 18,
                },
            ]
        },
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["export", "digits/4"], "artifacts[1].path: '.git/hooks/pre-commit'"),
        (["benchmark", "digits/4"], "artifacts[1].path: '.git/hooks/pre-commit'"),
        (["serve", "digits/4", "--port", "0"], "artifacts[1].path: '.git/hooks/pre-commit'"),
    ],
    ids=["export", "benchmark", "serve"],
)
def test_commands_that_run_a_model_refuse_a_hostile_version(
    template: tuple[Path, dict[str, Any]],
    clone: Path,
    modelreg_exe: str,
    args: list[str],
    expected: str,
) -> None:
    write_hostile_version(clone, template[1])
    before = snapshot(clone, clone.parent / "remote")
    assert_refused(run(modelreg_exe, clone, *args), expected)
    assert snapshot(clone, clone.parent / "remote") == before
    assert_no_command_ran(clone)


def test_a_models_uri_load_through_the_mlflow_plugin_is_refused(
    template: tuple[Path, dict[str, Any]],
    clone: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.pyfunc

    write_hostile_version(clone, template[1])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"modelreg://{clone}")
    monkeypatch.chdir(tmp_path)
    before = snapshot(clone, clone.parent / "remote")

    with warnings.catch_warnings():  # MLflow's own SQLAlchemy deprecations
        warnings.simplefilter("ignore")
        with pytest.raises(Exception, match=r"artifacts\[0\]\.path: '\.git/config'") as caught:
            mlflow.pyfunc.load_model("models:/digits/4")

    assert "\n" not in str(caught.value)
    assert snapshot(clone, clone.parent / "remote") == before
    assert_no_command_ran(clone)


def test_a_shared_md5_only_ever_lands_in_the_versions_own_folder(
    template: tuple[Path, dict[str, Any]], clone: Path, modelreg_exe: str
) -> None:
    """Claiming another model's md5, with a record that agrees, is no bypass: the bytes
    are that object's, verified, and land only in version 4's folder (two versions may
    well share weights)."""
    _, objects = template
    apply_case(
        clone,
        {
            "artifacts": [
                {
                    "name": "weights",
                    "path": "registry/digits/artifacts/4/model.pt",
                    "md5": objects["other_md5"],
                    "size": objects["other_size"],
                    "format": "pytorch",
                }
            ],
            "write": {
                "registry/digits/artifacts/4/model.pt.dvc": (
                    f"outs:\n- md5: {objects['other_md5']}\n  size: {objects['other_size']}\n"
                    "  hash: md5\n  path: model.pt\n"
                ),
            },
        },
    )
    before = snapshot(clone, clone.parent / "remote")
    done = run(modelreg_exe, clone, "pull", "digits/4")
    assert done.returncode == 0, done.stderr
    after = snapshot(clone, clone.parent / "remote")
    changed = {k for k in after.keys() | before.keys() if after.get(k) != before.get(k)}
    assert changed == {"repo/registry/digits/artifacts/4/model.pt"}
    assert (clone / "registry/digits/artifacts/4/model.pt").read_bytes() == (
        builders.artifact_content("other", 1)
    )


def test_the_server_reads_only_a_regular_file_of_the_recorded_size(
    template: tuple[Path, dict[str, Any]], clone: Path
) -> None:
    """A FIFO or an oversized file in the artifact's place is never read: the server
    takes the verified object from the cache instead, and export refuses it."""
    from modelreg.api import Registry
    from modelreg.artifacts.local import local_artifact
    from modelreg.artifacts.pull import verified_bytes
    from modelreg.core.errors import InputError

    with Registry.open(clone) as registry:
        version = registry.resolve("digits/2").version
    artifact = version.artifacts[0]
    target = clone / artifact.path
    os.mkfifo(target)  # opening it for reading would block forever
    data, source = verified_bytes(clone, version, artifact)
    assert data == builders.artifact_content("digits", 2) and source == "remote 'storage'"
    with pytest.raises(InputError, match="is not a regular file"):
        local_artifact(clone, version, artifact)
    target.unlink()
    target.write_bytes(b"x" * (artifact.size + 1))
    with pytest.raises(InputError, match=f"bytes but the manifest records {artifact.size}"):
        local_artifact(clone, version, artifact)


def test_export_never_writes_through_a_link_planted_beside_its_output(tmp_path: Path) -> None:
    """``export REF`` writes next to the version's weights, in a folder the pull request
    controls: a symlink planted at the temporary name must not steer the write."""
    pytest.importorskip("torch")
    import numpy as np

    from modelreg.artifacts.export import export_onnx
    from tests.test_export import ROOT, save_small_cnn

    folder = tmp_path / "registry" / "digits" / "artifacts" / "4"
    folder.mkdir(parents=True)
    save_small_cnn(folder / "model.pt")
    rng = np.random.default_rng(0)
    images = rng.random((16, 1, 8, 8), dtype=np.float32)
    np.savez(tmp_path / "test.npz", inputs=images, labels=rng.integers(0, 10, 16))
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched\n")
    (folder / ".model.onnx.tmp").symlink_to(victim)

    export_onnx(
        folder / "model.pt",
        folder / "model.onnx",
        parity_data=tmp_path / "test.npz",
        repo=ROOT,
        dynamo=False,
    )

    assert victim.read_bytes() == b"untouched\n"
    out = folder / "model.onnx"
    assert out.is_file() and not out.is_symlink()


def test_validate_reports_a_link_planted_in_an_artifact_folder(
    clone: Path, modelreg_exe: str
) -> None:
    planted = clone / "registry/digits/artifacts/2/.model.pt.old"
    planted.symlink_to("../../../../.git/hooks")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "a link beside the artifacts")

    done = run(modelreg_exe, clone, "validate")

    assert done.returncode == 1, done.stdout
    assert (
        "registry/digits/artifacts/2/.model.pt.old: is a symlink; an artifact folder holds "
        "only plain files"
    ) in done.stdout
