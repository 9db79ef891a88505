"""``mlflow server --registry-store-uri modelreg:///...``: MLflow's REST API and UI on the
Git registry. A real MLflow server on 127.0.0.1, driven over HTTP; the UI is rendered
in headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modelreg.api import Registry, validate
from tests.conftest import Workspace, commit_subjects
from tests.serving import announced_port, stop_group, wait_healthy
from tests.test_dashboard import chromium

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import mlflow.pyfunc

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

API = "/api/2.0/mlflow"


class Tripler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: object, model_input: object, params: object = None) -> object:
        return model_input


@pytest.fixture
def server(workspace: Workspace, tmp_path: Path) -> Iterator[httpx.Client]:
    """``mlflow server`` as users start it: its default four worker processes, each with
    its own store over the one clone, so a write in one must be read by the others."""
    log_path = tmp_path / "mlflow-server.log"
    log = log_path.open("wb")
    mlflow_exe = Path(sys.executable).parent / "mlflow"
    process = subprocess.Popen(
        [
            str(mlflow_exe),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--registry-store-uri",
            f"modelreg://{workspace.root}",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            # Runs keep their artifacts in a local folder the registry can copy from.
            "--default-artifact-root",
            str(tmp_path / "artifacts"),
            "--no-serve-artifacts",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )
    client = httpx.Client(timeout=30)
    try:
        url = f"http://127.0.0.1:{announced_port(process, log_path)}"
        wait_healthy(process, log_path, url, path="/health")
        client.base_url = httpx.URL(url)
        yield client
    finally:
        client.close()
        stop_group(process)
        log.close()


def test_the_rest_api_writes_commits_and_reads_the_registry(
    server: httpx.Client, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A training run logs its model through the server, as the seeds' scripts do.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(server.base_url))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mlflow.start_run():
            logged = mlflow.pyfunc.log_model(name="model", python_model=Tripler())

    def call(method: str, path: str, **kwargs: object) -> dict[str, object]:
        response = server.request(method, f"{API}/{path}", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, (path, response.text)
        return dict(response.json())

    call("POST", "registered-models/create", json={"name": "digits-cnn", "description": "CNN"})
    created = call(
        "POST",
        "model-versions/create",
        json={
            "name": "digits-cnn",
            "source": logged.model_uri,
            "run_id": logged.run_id,
            "model_id": logged.model_id,
            "description": "baseline",
        },
    )
    assert created["model_version"]["version"] == "1"  # type: ignore[index]
    call(
        "POST",
        "model-versions/set-tag",
        json={"name": "digits-cnn", "version": "1", "key": "ok", "value": "yes"},
    )
    call(
        "POST",
        "registered-models/alias",
        json={"name": "digits-cnn", "alias": "champion", "version": "1"},
    )
    call(
        "POST",
        "model-versions/transition-stage",
        json={
            "name": "digits-cnn",
            "version": "1",
            "stage": "Staging",
            "archive_existing_versions": False,
        },
    )
    by_alias = call(
        "GET", "registered-models/alias", params={"name": "digits-cnn", "alias": "champion"}
    )
    version = by_alias["model_version"]
    assert version["version"] == "1" and version["current_stage"] == "Staging"  # type: ignore[index]
    assert version["tags"] == [{"key": "ok", "value": "yes"}]  # type: ignore[index]
    found = call("GET", "model-versions/search", params={"filter": "name='digits-cnn'"})
    assert [v["version"] for v in found["model_versions"]] == ["1"]  # type: ignore[attr-defined]
    model = call("GET", "registered-models/get", params={"name": "digits-cnn"})
    assert model["registered_model"]["description"] == "CNN"  # type: ignore[index]

    missing = server.get(f"{API}/registered-models/get", params={"name": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bad = server.post(f"{API}/registered-models/create", json={"name": "has space"})
    assert bad.status_code == 400
    assert "is not a valid model name" in bad.json()["message"]

    log = commit_subjects(workspace.root)
    assert log[:5] == [
        "promote digits-cnn version 1 to staging",
        "point digits-cnn@champion at version 1",
        "update digits-cnn version 1",
        "register digits-cnn version 1",
        "add model digits-cnn",
    ]
    with Registry.open(workspace.root) as registry:
        [artifact] = registry.version("digits-cnn", 1).artifacts
    assert artifact.format == "mlflow"
    assert validate(workspace.root).ok


def dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (virtual time lets the app fetch and render)."""
    done = subprocess.run(
        [
            chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_mlflow_ui_lists_the_registrys_models_and_versions(
    server: httpx.Client, workspace: Workspace, tmp_path: Path
) -> None:
    from modelreg.api import register
    from tests import builders

    for seed in (0, 1):
        files = builders.model_files(tmp_path / f"inputs-{seed}", seed=seed)
        register(
            "digits-cnn", repo=workspace.root, weights=files.weights, onnx=files.onnx, commit=True
        )
    files = builders.model_files(tmp_path / "iris", seed=5)
    register("iris-mlp", repo=workspace.root, weights=files.weights, commit=True)

    models = dom(f"{server.base_url}/#/models", tmp_path / "profile-1")
    links = set(re.findall(r'href="#/models/([\w.-]+)"', models))
    assert {"digits-cnn", "iris-mlp"} <= links, links

    versions = dom(f"{server.base_url}/#/models/digits-cnn", tmp_path / "profile-2")
    listed = set(re.findall(r'href="#/models/digits-cnn/versions/(\d+)"', versions))
    assert listed == {"1", "2"}, listed


# --- writers in several processes at once ---------------------------------------------------

REST_WRITERS = 8
CLI_WRITERS = 4


def test_cli_writers_and_the_servers_workers_lose_no_update(
    server: httpx.Client, workspace: Workspace, modelreg_exe: str
) -> None:
    """The server's four workers and the installed command write one clone at the same
    moment: every write lands as its own commit, none is lost, and every worker then
    reads them all. Only the repository's lock (``flock``, across processes) orders
    them; without it, writers fail on a moved HEAD or overwrite each other's model.yaml."""
    url = str(server.base_url)
    created = server.post(f"{API}/registered-models/create", json={"name": "shared"})
    assert created.status_code == 200, created.text
    before = len(commit_subjects(workspace.root))

    def rest(i: int) -> httpx.Response:
        # A connection of its own: the kernel hands each to whichever worker accepts.
        return httpx.post(
            f"{url}{API}/registered-models/set-tag",
            json={"name": "shared", "key": f"rest-{i}", "value": str(i)},
            timeout=180,
        )

    cli = [
        subprocess.Popen(
            [modelreg_exe, "--repo", str(workspace.root), "tag", "shared", f"cli-{i}={i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(CLI_WRITERS)
    ]
    with ThreadPoolExecutor(REST_WRITERS) as pool:
        answers = list(pool.map(rest, range(REST_WRITERS)))
    finished = [process.communicate(timeout=180) for process in cli]

    assert [a.status_code for a in answers] == [200] * REST_WRITERS, [a.text for a in answers]
    for process, (_, stderr) in zip(cli, finished, strict=True):
        assert process.returncode == 0, stderr
    expected = {f"rest-{i}": str(i) for i in range(REST_WRITERS)}
    expected |= {f"cli-{i}": str(i) for i in range(CLI_WRITERS)}
    # Nothing lost: in the file, and one commit per write.
    with Registry.open(workspace.root) as registry:
        assert registry.model("shared").tags == expected
    subjects = commit_subjects(workspace.root)
    assert len(subjects) == before + REST_WRITERS + CLI_WRITERS, subjects
    assert workspace.status() == ""
    assert validate(workspace.root).ok
    # Nothing stale: each read, on a new connection (any worker), sees every write.
    for _ in range(4 * 4):
        got = httpx.get(f"{url}{API}/registered-models/get", params={"name": "shared"}, timeout=30)
        assert got.status_code == 200, got.text
        tags = {t["key"]: t["value"] for t in got.json()["registered_model"]["tags"]}
        assert tags == expected
