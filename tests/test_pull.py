"""``modelreg pull``: one version's artifacts by hash, verified, on any clone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelreg.api import Registry, register, validate
from modelreg.artifacts.dvc import object_path
from modelreg.artifacts.local import artifact_of, local_artifact
from modelreg.artifacts.paths import MAX_LISTING_BYTES
from modelreg.artifacts.pull import pull
from modelreg.core.errors import InputError, ManifestError, StorageError
from modelreg.serve.routes import load_version
from tests import builders
from tests.conftest import Workspace, git


@pytest.fixture
def registered(workspace: Workspace, model_files: builders.ModelFiles) -> Workspace:
    """Two versions registered, committed and pushed (git and DVC)."""
    register(
        "digits",
        repo=workspace.root,
        weights=model_files.weights,
        onnx=model_files.onnx,
        commit=True,
    )
    second = builders.model_files(workspace.root.parent / "second", seed=1)
    register("digits", repo=workspace.root, weights=second.weights, onnx=second.onnx, commit=True)
    workspace.git("push", "-q", "origin", "main")
    return workspace


def second_clone(ws: Workspace, where: Path, remote: Path | None = None) -> Path:
    """A fresh clone of origin (clean DVC cache) whose DVC remote is set locally."""
    git(where.parent, "clone", "-q", str(ws.origin), str(where))
    local = where / ".dvc" / "config.local"
    local.write_text(f"['remote \"storage\"']\n    url = {remote or ws.remote}\n")
    return where


def version(root: Path, ref: str):  # type: ignore[no-untyped-def]
    with Registry.open(root) as registry:
        return registry.resolve(ref).version


def test_a_second_clone_gets_byte_identical_files_from_the_remote(
    registered: Workspace, tmp_path: Path
) -> None:
    clone = second_clone(registered, tmp_path / "clone")
    v1 = version(clone, "digits/1")
    assert not (clone / v1.artifacts[0].path).exists()  # DVC files only, nothing pulled yet

    result = pull(clone, v1)

    assert result.ref == "digits/1"
    for pulled in result.artifacts:
        original = registered.root / pulled.artifact.path
        assert pulled.location == clone / pulled.artifact.path
        assert pulled.location.read_bytes() == original.read_bytes()
        assert builders.md5_of(pulled.location) == pulled.artifact.md5
        assert pulled.source == "remote 'storage'"
        # The verified object is in the clone's DVC cache now, as `dvc pull` would leave it.
        assert object_path(clone / ".dvc" / "cache", pulled.artifact.md5).is_file()
    # A second pull finds everything in place and writes nothing.
    again = pull(clone, v1)
    assert {p.source for p in again.artifacts} == {"working tree"}
    # Only the asked version: version 2's files were not fetched.
    v2 = version(clone, "digits/2")
    assert not any((clone / a.path).exists() for a in v2.artifacts)


def test_a_damaged_working_file_is_restored_from_the_cache(registered: Workspace) -> None:
    v2 = version(registered.root, "digits/latest")
    target = registered.root / v2.artifacts[0].path
    target.write_bytes(b"edited by hand")

    [restored, untouched] = pull(registered.root, v2).artifacts

    assert restored.source == "cache" and builders.md5_of(target) == v2.artifacts[0].md5
    assert untouched.source == "working tree"


def test_a_corrupted_cache_object_is_fetched_again(registered: Workspace) -> None:
    v2 = version(registered.root, "digits/2")
    weights = v2.artifacts[0]
    (registered.root / weights.path).unlink()
    cached = object_path(registered.root / ".dvc" / "cache", weights.md5)
    cached.chmod(0o644)
    cached.write_bytes(b"bit rot")

    [pulled, _] = pull(registered.root, v2).artifacts

    assert pulled.source == "remote 'storage'"
    assert builders.md5_of(registered.root / weights.path) == weights.md5 == builders.md5_of(cached)


def corrupt_copy_of_remote(ws: Workspace, tmp_path: Path, md5: str) -> Path:
    bad = tmp_path / "bad-remote"
    shutil.copytree(ws.remote, bad)
    victim = object_path(bad, md5)
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    return bad


def test_a_corrupted_remote_object_is_refused_and_nothing_is_written(
    registered: Workspace, tmp_path: Path
) -> None:
    v1 = version(registered.root, "digits/1")
    onnx = v1.artifacts[1]
    bad = corrupt_copy_of_remote(registered, tmp_path, onnx.md5)
    clone = second_clone(registered, tmp_path / "clone", remote=bad)

    with pytest.raises(StorageError) as caught:
        pull(clone, v1)

    message = str(caught.value)
    assert "\n" not in message
    assert f"holds a corrupted object for digits/1 onnx ({onnx.path})" in message
    assert f"not {onnx.md5}" in message and "nothing was written" in message
    # The working tree is untouched, and the bad object never entered the cache.
    assert not any((clone / a.path).exists() for a in v1.artifacts)
    assert not object_path(clone / ".dvc" / "cache", onnx.md5).exists()
    assert not list(clone.rglob("*.part"))


def test_the_cli_refuses_a_corrupted_remote_in_one_line(
    registered: Workspace, tmp_path: Path, modelreg_exe: str
) -> None:
    v1 = version(registered.root, "digits/1")
    bad = corrupt_copy_of_remote(registered, tmp_path, v1.artifacts[0].md5)
    clone = second_clone(registered, tmp_path / "clone", remote=bad)

    done = subprocess.run(
        [modelreg_exe, "pull", "digits/1"], cwd=clone, capture_output=True, text=True, check=False
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: the remote 'storage'")
    assert "corrupted object for digits/1 weights" in done.stderr


def test_cli_json_names_every_file(
    registered: Workspace, tmp_path: Path, modelreg_exe: str
) -> None:
    clone = second_clone(registered, tmp_path / "clone")
    done = subprocess.run(
        [modelreg_exe, "pull", "models:/digits/latest", "--json"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["format"] == "modelreg.pull/1" and document["ref"] == "digits/2"
    assert document["remote"] == "storage"
    for entry in document["artifacts"]:
        location = Path(entry["location"])
        assert location == clone / entry["path"]
        assert (
            builders.md5_of(location) == entry["md5"] and location.stat().st_size == entry["size"]
        )
        assert entry["source"] == "remote 'storage'"


def test_an_object_missing_everywhere_is_named(registered: Workspace, tmp_path: Path) -> None:
    v1 = version(registered.root, "digits/1")
    empty_remote = tmp_path / "empty-remote"
    empty_remote.mkdir()
    clone = second_clone(registered, tmp_path / "clone", remote=empty_remote)

    with pytest.raises(StorageError, match=r"is in neither the DVC cache nor the remote 'storage'"):
        pull(clone, v1)
    assert not any((clone / a.path).exists() for a in v1.artifacts)


def test_an_unknown_remote_name_is_an_input_error(registered: Workspace) -> None:
    with pytest.raises(InputError, match=r"no DVC remote named 'nope'"):
        pull(registered.root, version(registered.root, "digits/1"), remote="nope")


def test_a_folder_artifact_is_rebuilt_file_by_file(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "data").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "data" / "model.pth").write_bytes(bytes(range(256)) * 4)
    register("digits", repo=workspace.root, weights=folder, commit=True)
    workspace.git("push", "-q", "origin", "main")
    clone = second_clone(workspace, tmp_path / "clone")
    v1 = version(clone, "digits/1")

    [pulled] = pull(clone, v1).artifacts

    assert pulled.location.is_dir()
    assert (pulled.location / "MLmodel").read_text() == "flavors: {}\n"
    assert (pulled.location / "data" / "model.pth").read_bytes() == bytes(range(256)) * 4
    # A stray file in the folder means it is not the version's: pull rebuilds it.
    (pulled.location / "stray.txt").write_text("x")
    [again] = pull(clone, v1).artifacts
    assert again.source == "cache" and not (pulled.location / "stray.txt").exists()


def dvc(root: Path, *args: str) -> None:
    """DVC's own command, as a user runs it."""
    exe = Path(sys.executable).parent / "dvc"
    done = subprocess.run([exe, *args], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_dvcs_symlink_cache_type_is_read_through_the_cache(
    workspace: Workspace, model_files: builders.ModelFiles, tmp_path: Path
) -> None:
    """With ``cache.type = symlink`` DVC checks artifacts out as links to their cache
    objects. That link, and no other, is accepted: pull, validate, serve and export read
    the object through the cache, verified as any file."""
    dvc(workspace.root, "config", "cache.type", "symlink")
    workspace.commit_all("artifacts as links into the DVC cache")
    register("digits", repo=workspace.root, weights=model_files.weights, onnx=model_files.onnx)
    workspace.commit_all("digits 1")
    workspace.git("push", "-q", "origin", "main")
    clone = second_clone(workspace, tmp_path / "clone")
    dvc(clone, "pull", "-q")  # DVC's own checkout, links into the clone's cache
    for root in (workspace.root, clone):
        v1 = version(root, "digits/1")
        cache = root / ".dvc" / "cache"
        for artifact in v1.artifacts:
            assert (root / artifact.path).resolve() == object_path(cache, artifact.md5)

        assert {p.source for p in pull(root, v1).artifacts} == {"working tree"}
        assert all((root / a.path).is_symlink() for a in v1.artifacts)  # left as DVC made them
        assert validate(root).findings == ()
        onnx = artifact_of(v1, "onnx")
        assert onnx is not None
        assert load_version(root, v1).source == "working tree"
        assert local_artifact(root, v1, onnx) == root / onnx.path

    # A link to the cache object of another md5 is refused, committed or not.
    v1 = version(clone, "digits/1")
    weights, onnx = v1.artifacts
    link = clone / weights.path
    link.unlink()
    link.symlink_to(os.path.relpath(object_path(clone / ".dvc" / "cache", onnx.md5), link.parent))
    with pytest.raises(ManifestError, match="not DVC's link to the cache object of md5"):
        pull(clone, v1)
    with pytest.raises(ManifestError, match="not DVC's link to the cache object of md5"):
        local_artifact(clone, v1, weights)
    git(clone, "add", "-f", weights.path)
    git(clone, "commit", "-q", "-m", "the weights, a link to the ONNX object")
    [finding] = validate(clone).errors
    assert "a symlink to" in finding.message and finding.field == "artifacts[0].path"


def test_a_folder_listing_over_the_limit_is_refused_unread(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A folder's DVC listing has no recorded size; one over 64 MiB is not a listing DVC
    wrote, and neither pull nor validate reads it (a sparse file: nothing is on disk)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    register("digits", repo=workspace.root, weights=folder, commit=True)
    workspace.git("push", "-q", "origin", "main")
    clone = second_clone(workspace, tmp_path / "clone")
    [artifact] = version(clone, "digits/1").artifacts
    listing = object_path(workspace.remote, artifact.md5)
    listing.chmod(0o644)
    with listing.open("r+b") as handle:
        handle.truncate(MAX_LISTING_BYTES + 1)

    with pytest.raises(StorageError, match=f"is {MAX_LISTING_BYTES + 1} bytes, over the"):
        pull(clone, version(clone, "digits/1"))
    assert not (clone / artifact.path).exists()
    assert not object_path(clone / ".dvc" / "cache", artifact.md5).exists()

    [finding] = validate(clone).errors
    assert f"is {MAX_LISTING_BYTES + 1} bytes, over the {MAX_LISTING_BYTES}-byte limit" in (
        finding.message
    )


def test_pull_refuses_a_record_mismatch_as_validate_reports_it(registered: Workspace) -> None:
    """One rule for the manifest against its DVC record, worded the same in both."""
    v1 = version(registered.root, "digits/1")
    sidecar = registered.root / f"{v1.artifacts[0].path}.dvc"
    sidecar.write_text(sidecar.read_text().replace(f"size: {v1.artifacts[0].size}", "size: 7"))

    [finding] = validate(registered.root, offline=True).errors
    with pytest.raises(ManifestError) as caught:
        pull(registered.root, v1)

    assert finding.field == "artifacts[0].size"
    assert str(caught.value) == f"{finding.path}: {finding.field}: {finding.message}"
