"""An S3 DVC remote end to end, against a local S3-compatible server (moto's server
mode) the tests start: register pushes, online validate checks presence, pull
verifies byte for byte, serve loads a promoted version on a cache miss, a corrupted
object is refused, and the credentials never reach the registry."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import builders
from tests.conftest import git

moto_server = pytest.importorskip("moto.server", reason="moto is in the test dependency group")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("dvc_s3", reason="dvc-s3 is modelreg's s3 extra")

SECRET = "s3cr3t-never-stored"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "modelreg-test",
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "AWS_DEFAULT_REGION": "us-east-1",
}
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, on a port the kernel chose when it bound."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> object:
    """A fresh bucket; the credentials only in the environment, as AWS reads them."""
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="models")
    yield client
    for item in client.list_objects_v2(Bucket="models").get("Contents", []):
        client.delete_object(Bucket="models", Key=item["Key"])
    client.delete_bucket(Bucket="models")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, check=False
    )


def ok(cwd: Path, *args: str) -> str:
    done = run(cwd, *args)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def clone(origin: Path, where: Path) -> Path:
    git(origin.parent, "clone", "-q", "-b", "main", str(origin), str(where))
    return where


@pytest.fixture
def registry(tmp_path: Path, s3: object, endpoint: str) -> tuple[Path, Path, builders.ModelFiles]:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "commit", "-q", "--allow-empty", "-m", "start")
    ok(root, "modelreg", "init", "--remote", "s3://models/store", "--commit")
    ok(root, "dvc", "remote", "modify", "storage", "endpointurl", endpoint)
    git(root, "commit", "-q", "-am", "the S3 endpoint")
    files = builders.model_files(tmp_path / "inputs")
    ok(root, "modelreg", "register", "digits", "--weights", str(files.weights), "--onnx",
       str(files.onnx), "--commit")  # fmt: skip
    ok(root, "modelreg", "promote", "digits", "1", "--to", "production")
    git(root, "push", "-q", "origin", "main")
    return root, origin, files


def _keys(client: object) -> list[str]:
    listing = client.list_objects_v2(Bucket="models")  # type: ignore[attr-defined]
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_register_pushes_and_a_fresh_clone_validates_and_pulls_byte_for_byte(
    registry: tuple[Path, Path, builders.ModelFiles], s3: object, tmp_path: Path
) -> None:
    root, origin, files = registry
    weights_md5 = builders.md5_of(files.weights)
    assert f"store/files/md5/{weights_md5[:2]}/{weights_md5[2:]}" in _keys(s3)
    fresh = clone(origin, tmp_path / "fresh")  # no DVC cache: presence is the bucket's
    assert "ok: the registry is valid" in ok(fresh, "modelreg", "validate")
    out = ok(fresh, "modelreg", "pull", "digits@production")
    assert "remote 'storage'" in out
    assert (fresh / "registry/digits/artifacts/1" / files.weights.name).read_bytes() == (
        files.weights.read_bytes()
    )
    # The credentials came from the environment and went nowhere in the repository.
    for place in (root / ".dvc/config", root / "registry"):
        found = subprocess.run(["grep", "-r", SECRET, str(place)], capture_output=True)
        assert found.returncode == 1, found.stdout
    assert SECRET not in git(root, "log", "-p", "--all")


def test_a_missing_object_fails_online_validate_until_pushed_again(
    registry: tuple[Path, Path, builders.ModelFiles], s3: object, tmp_path: Path
) -> None:
    root, origin, files = registry
    md5 = builders.md5_of(files.weights)
    key = f"store/files/md5/{md5[:2]}/{md5[2:]}"
    s3.delete_object(Bucket="models", Key=key)  # type: ignore[attr-defined]
    fresh = clone(origin, tmp_path / "fresh")
    done = run(fresh, "modelreg", "validate")
    assert done.returncode == 1
    # One finding, on one line, at the version file and field that record the artifact.
    [finding] = [line for line in done.stdout.splitlines() if md5 in line]
    assert finding.startswith("registry/digits/versions/1.yaml:"), finding
    assert "artifacts[0].md5" in finding
    assert f"{md5} is in neither the DVC cache" in finding
    assert "the remote 'storage' (s3://models/store)" in finding
    assert run(fresh, "modelreg", "validate", "--offline").returncode == 0
    # The clone that registered it still caches it: pushing again repairs the remote.
    ok(root, "dvc", "push")
    assert key in _keys(s3)
    assert "ok: the registry is valid" in ok(fresh, "modelreg", "validate")
    ok(fresh, "modelreg", "pull", "digits/1")
    assert (fresh / "registry/digits/artifacts/1" / files.weights.name).read_bytes() == (
        files.weights.read_bytes()
    )


def test_a_corrupted_object_is_refused_and_nothing_written(
    registry: tuple[Path, Path, builders.ModelFiles], s3: object, tmp_path: Path
) -> None:
    _, origin, files = registry
    md5 = builders.md5_of(files.weights)
    key = f"store/files/md5/{md5[:2]}/{md5[2:]}"
    s3.put_object(Bucket="models", Key=key, Body=b"tampered" * 64)  # type: ignore[attr-defined]
    fresh = clone(origin, tmp_path / "fresh")
    done = run(fresh, "modelreg", "pull", "digits/1")
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: the remote 'storage' (s3://models/store) holds a corrupted"
    )
    assert len(done.stderr.strip().splitlines()) == 1
    # Neither the corrupted file nor its intact sibling: only what git tracks is there.
    folder = fresh / "registry/digits/artifacts/1"
    assert sorted(p.name for p in folder.iterdir()) == [
        ".gitignore", f"{files.onnx.name}.dvc", f"{files.weights.name}.dvc"
    ]  # fmt: skip


def test_serve_loads_a_promoted_version_from_s3_on_a_cache_miss(
    registry: tuple[Path, Path, builders.ModelFiles], s3: object, tmp_path: Path
) -> None:
    from tests.serving import MODEL, digit_input, serve

    _, origin, _ = registry
    fresh = clone(origin, tmp_path / "fresh")
    assert not (fresh / ".dvc/cache").exists() or not any((fresh / ".dvc/cache").rglob("*"))
    with serve(fresh) as live:
        response = live.client.post(f"/v2/models/{MODEL}/infer", json=digit_input())
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == "1"
