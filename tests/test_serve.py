"""``modelreg serve``: real uvicorn on 127.0.0.1, real ONNX Runtime, real git and DVC."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from modelreg.api import Registry, promote, register, rollback
from modelreg.artifacts.dvc import object_path
from modelreg.core.errors import InputError, ModelregError, NotFoundError, StorageError
from modelreg.serve.routes import parse_served, prepare
from tests import builders
from tests.conftest import Workspace, git
from tests.serving import (
    MODEL,
    LiveServer,
    add_versions,
    announced_port,
    digit_input,
    serve,
    wait_for,
)


@pytest.fixture
def registry(workspace: Workspace) -> Workspace:
    return add_versions(workspace)


def onnx_path(root: Path, number: int) -> Path:
    with Registry.open(root) as reg:
        artifact = next(a for a in reg.version(MODEL, number).artifacts if a.format == "onnx")
    return root / artifact.path


def reference_logits(root: Path, number: int, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(onnx_path(root, number)), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"input": x})[0])


def served_version(live: LiveServer) -> str:
    response = live.client.post(f"/v2/models/{MODEL}/infer", json=digit_input())
    assert response.status_code == 200, response.text
    assert response.headers["x-model-version"] == response.json()["model_version"]
    return str(response.json()["model_version"])


def metric(live: LiveServer, name: str, **labels: str) -> float:
    """The sum of the series of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in live.client.get("/metrics").text.splitlines():
        series, _, value = line.rpartition(" ")
        if series != name and not series.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


# --- the protocol ---------------------------------------------------------------------


def test_open_inference_protocol_answers_like_onnx_runtime(registry: Workspace) -> None:
    with serve(registry.root) as live:
        client = live.client
        assert client.get("/v2/health/live").json() == {"live": True}
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2").json()["name"] == "modelreg"
        assert client.get(f"/v2/models/{MODEL}/ready").json() == {"name": MODEL, "ready": True}
        metadata = client.get(f"/v2/models/{MODEL}").json()
        assert metadata == {
            "name": MODEL,
            "versions": ["1"],
            "platform": "onnxruntime_onnx",
            "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 8, 8]}],
            "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}],
        }

        x = np.random.default_rng(7).standard_normal((3, 1, 8, 8)).astype(np.float32)
        body = {
            "id": "req-42",
            "inputs": [
                {"name": "input", "datatype": "FP32", "shape": [3, 1, 8, 8], "data": x.tolist()}
            ],
            "outputs": [{"name": "logits"}],
        }
        response = client.post(f"/v2/models/{MODEL}/infer", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["model_name"] == MODEL
        assert answer["model_version"] == "1"
        assert answer["id"] == "req-42"
        assert response.headers["x-model-version"] == "1"
        assert response.headers["server-timing"].startswith("app;dur=")
        [logits] = answer["outputs"]
        assert logits["name"] == "logits" and logits["datatype"] == "FP32"
        assert logits["shape"] == [3, 10]
        expected = reference_logits(registry.root, 1, x)
        np.testing.assert_allclose(np.array(logits["data"]).reshape(3, 10), expected, rtol=1e-6)

        # A loaded version can be asked for by number; others are not served.
        by_version = client.post(f"/v2/models/{MODEL}/versions/1/infer", json=body)
        assert by_version.json()["outputs"] == answer["outputs"]
        missing = client.post(f"/v2/models/{MODEL}/versions/2/infer", json=body)
        assert missing.status_code == 404
        assert missing.json() == {
            "error": "model 'digits' does not serve version '2' now (it serves version 1)"
        }
        unknown = client.post("/v2/models/resnet/infer", json=body)
        assert unknown.status_code == 404
        assert unknown.json() == {"error": "no model named 'resnet' is served; served: digits"}
        # Names clients make up do not become metric series.
        assert 'model="resnet"' not in client.get("/metrics").text
        assert metric(live, "modelreg_requests_total", model="(unknown)", code="404") == 1


def test_model_info_and_predict_in_the_seeds_shape(registry: Workspace) -> None:
    head = registry.git("rev-parse", "HEAD").strip()
    with serve(registry.root) as live:
        info = live.client.get("/model/info").json()
        assert info["model_name"] == MODEL
        assert info["version"] == "1"
        assert info["stage"] == "production"
        assert info["reference"] == "digits@production"
        assert info["canary"] is None
        assert info["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 8, 8]}]
        assert set(info) >= {"metrics", "classes", "lineage", "created", "description"}
        # Lineage: the commit that registered version 1 is an ancestor of HEAD.
        ancestry = subprocess.run(
            ["git", "merge-base", "--is-ancestor", info["lineage"]["git_commit"], head],
            cwd=registry.root,
            check=False,
        )
        assert ancestry.returncode == 0

        one = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 8, 8)
        single = live.client.post("/predict", json={"inputs": one.tolist()})
        assert single.status_code == 200, single.text
        answer = single.json()
        assert answer["version"] == "1" and answer["stage"] == "production"
        logits = reference_logits(registry.root, 1, one[np.newaxis])
        [prediction] = answer["predictions"]
        assert prediction["index"] == int(logits.argmax())
        assert prediction["label"] == str(int(logits.argmax()))
        probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        assert prediction["confidence"] == pytest.approx(float(probabilities.max()), rel=1e-5)
        np.testing.assert_allclose(answer["outputs"]["logits"], logits, rtol=1e-6)

        batch = np.stack([one, one[:, ::-1]])
        several = live.client.post("/predict", json={"inputs": {"input": batch.tolist()}})
        assert len(several.json()["predictions"]) == 2


BAD_REQUESTS: list[tuple[str, Any, int, str]] = [
    ("not JSON", b"{inputs:", 400, "the request body is not valid JSON"),
    ("not an object", [1, 2], 400, "the request body must be a JSON object"),
    ("no inputs", {"outputs": []}, 400, "'inputs' must be a non-empty array of tensors"),
    ("unknown field", {"inputs": [], "extra": 1}, 400, "unknown request field 'extra'"),
    (
        "unknown input",
        {"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "data": [1]}]},
        400,
        "the model has no input 'image'; its inputs: input",
    ),
    (
        "wrong datatype",
        {"inputs": [{"name": "input", "datatype": "INT64", "shape": [1, 1, 8, 8], "data": [0]}]},
        400,
        "input 'input' has datatype 'INT64', but the model takes FP32",
    ),
    (
        "wrong rank",
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [64], "data": [0.0] * 64}]},
        400,
        "input 'input' has shape [64], but the model takes 4 dimensions [-1, 1, 8, 8]",
    ),
    (
        "wrong fixed dimension",
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 8, 7], "data": [0]}]},
        400,
        "input 'input' has shape [1, 1, 8, 7], but the model takes [-1, 1, 8, 8]",
    ),
    (
        "too few values",
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 1, 8, 8], "data": [0]}]},
        400,
        "input 'input' has 1 values, but shape [2, 1, 8, 8] needs 128",
    ),
    (
        "strings for numbers",
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 8, 8], "data": ["a"]}]},
        400,
        "input 'input' data must hold numbers for a FP32 input, not strings",
    ),
    (
        "ragged",
        {
            "inputs": [
                {"name": "input", "datatype": "FP32", "shape": [1, 1, 8, 8], "data": [[1], [1, 2]]}
            ]
        },
        400,
        "input 'input' data is ragged",
    ),
    (
        "booleans",
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 8, 8], "data": [True]}]},
        400,
        "must hold numbers for a FP32 input, not true/false values",
    ),
    (
        "binary data",
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP32",
                    "shape": [1, 1, 8, 8],
                    "parameters": {"binary_data_size": 256},
                }
            ]
        },
        400,
        "binary tensor data is not supported",
    ),
    (
        "missing data",
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 8, 8]}]},
        400,
        "input 'input' has no 'data'",
    ),
    (
        "unknown output",
        {**digit_input(), "outputs": [{"name": "probabilities"}]},
        400,
        "the model has no output 'probabilities'; its outputs: logits",
    ),
    ("nested too deeply", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
    ("too large", {"inputs": [{"pad": "x" * (2 << 20)}]}, 413, "the limit is 1048576"),
    (
        "a zero dimension",
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [0, 1, 8, 8], "data": []}]},
        400,
        "input 'input' has shape [0, 1, 8, 8], but the model takes [-1, 1, 8, 8]",
    ),
]


def test_bad_requests_get_a_4xx_with_one_line_and_change_nothing(registry: Workspace) -> None:
    with serve(registry.root) as live:
        for label, body, status, message in BAD_REQUESTS:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            response = live.client.post(
                f"/v2/models/{MODEL}/infer",
                content=content,
                headers={"content-type": "application/json"},
            )
            assert response.status_code == status, (label, response.text)
            error = response.json()["error"]
            assert message in error, (label, error)
            assert "\n" not in error
        predict_errors = [
            ({"input": [1]}, "the request body must be a JSON object with one field, 'inputs'"),
            ({"inputs": [[1.0] * 8] * 8 + [[1.0]]}, "input 'input' is ragged"),
            ({"inputs": [1.0] * 64}, "input 'input' has shape [64], but the model takes 4"),
            ({"inputs": {"pixels": [1]}}, "the model has no input 'pixels'"),
            ({"inputs": [[[[10**40]]]]}, "input 'input' has a value outside FP32's range"),
        ]
        for body, message in predict_errors:
            response = live.client.post("/predict", json=body)
            assert response.status_code == 400, response.text
            assert message in response.json()["error"]
        for code in (400, 413):
            sent = sum(1 for case in BAD_REQUESTS if case[2] == code)
            assert metric(live, "modelreg_requests_total", endpoint="infer", code=str(code)) == sent
        assert served_version(live) == "1"


# --- following the registry -----------------------------------------------------------


def test_follows_promotions_and_rollbacks(registry: Workspace, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="modelreg.serve")
    with serve(registry.root) as live:
        assert served_version(live) == "1"
        promote(MODEL, 2, "production", repo=registry.root, reason="better")
        wait_for(lambda: served_version(live) == "2", what="version 2 to be served")
        assert live.client.get("/model/info").json()["version"] == "2"
        rollback(MODEL, "production", repo=registry.root, reason="regression")
        wait_for(lambda: served_version(live) == "1", what="the rollback to version 1")
        promote(MODEL, 3, "production", repo=registry.root)
        wait_for(lambda: served_version(live) == "3", what="version 3 to be served")
        assert metric(live, "modelreg_reloads_total", version="2", result="ok") == 1
        assert metric(live, "modelreg_reloads_total", version="1", result="ok") == 1
        assert metric(live, "modelreg_served_version", role="primary") == 3
        assert metric(live, "modelreg_requests_total", version="2", code="200") >= 1
    assert "digits now serves version 2 (was version 1)" in caplog.text
    assert "digits now serves version 3 (was version 1)" in caplog.text


class SlowSession:
    """A session that holds each run until released, so a request is surely in flight
    during a swap: ``entered`` is set once a run has started."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.entered = threading.Event()
        self.release = threading.Event()

    def run(self, outputs: Any, feeds: Any) -> Any:
        self.entered.set()
        assert self.release.wait(30), "the test never released the slow session"
        return self.session.run(outputs, feeds)


def test_requests_in_flight_finish_on_the_version_they_started_with(registry: Workspace) -> None:
    server = prepare(registry.root, [f"{MODEL}@production"])
    [route] = server.routes
    current = route.current()
    session = SlowSession(current.primary.session)
    slow = dataclasses.replace(current.primary, session=session)
    route.swap(dataclasses.replace(current, primary=slow))
    x = np.full((1, 1, 8, 8), 0.25, np.float32)
    with LiveServer(server, poll=3600) as live:
        answers: list[Any] = []
        flight = threading.Thread(
            target=lambda: answers.append(
                live.client.post(f"/v2/models/{MODEL}/infer", json=digit_input(value=0.25))
            )
        )
        flight.start()
        assert session.entered.wait(30), "the request never reached the session"
        promote(MODEL, 2, "production", repo=registry.root)
        server.follower.refresh()
        assert served_version(live) == "2"  # new requests already get version 2
        session.release.set()
        flight.join(timeout=30)
    [answer] = answers
    assert answer.status_code == 200
    assert answer.json()["model_version"] == "1"
    logits = np.array(answer.json()["outputs"][0]["data"]).reshape(1, 10)
    np.testing.assert_allclose(logits, reference_logits(registry.root, 1, x), rtol=1e-6)


def tamper(workspace: Workspace, number: int) -> None:
    """Replace version ``number``'s ONNX bytes everywhere they are kept."""
    path = onnx_path(workspace.root, number)
    md5 = builders.md5_of(path)
    forged = builders.onnx_model_bytes(seed=99)
    for copy in (
        path,
        object_path(workspace.root / ".dvc" / "cache", md5),
        object_path(workspace.remote, md5),
    ):
        copy.chmod(0o644)
        copy.write_bytes(forged)


def wait_for_refusal(live: LiveServer, version: str) -> None:
    """Until the server has refused ``version`` once (it retries only after a while)."""
    wait_for(
        lambda: metric(live, "modelreg_reloads_total", version=version, result="refused") == 1,
        what=f"the refusal of version {version}",
    )


def test_a_tampered_version_is_refused_and_the_old_one_keeps_serving(
    registry: Workspace, caplog: Any
) -> None:
    tamper(registry, 2)
    with serve(registry.root) as live:
        promote(MODEL, 2, "production", repo=registry.root)
        wait_for_refusal(live, "2")
        assert served_version(live) == "1"
        assert live.client.get("/model/info").json()["version"] == "1"
        # Five more polls: the refused version is not retried at every poll.
        follower, polls = live.server.follower, [0]
        poll = follower.refresh

        def counted() -> None:
            polls[0] += 1
            poll()

        follower.refresh = counted  # type: ignore[method-assign]
        wait_for(lambda: polls[0] >= 5, what="five more polls")
        assert metric(live, "modelreg_reloads_total", version="2", result="refused") == 1
        # The next promotion, of a sound version, is served.
        promote(MODEL, 3, "production", repo=registry.root)
        wait_for(lambda: served_version(live) == "3", what="version 3 after the refusal")
    refusal = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert refusal.getMessage().startswith("refused digits/2 for digits, still serving version 1:")
    assert "md5" in refusal.getMessage()


def test_a_damaged_working_copy_is_replaced_by_the_verified_cache_copy(
    registry: Workspace,
) -> None:
    path = onnx_path(registry.root, 2)
    path.chmod(0o644)
    path.write_bytes(builders.onnx_model_bytes(seed=99))
    with serve(registry.root) as live:
        promote(MODEL, 2, "production", repo=registry.root)
        wait_for(lambda: served_version(live) == "2", what="version 2")
        x = np.zeros((1, 1, 8, 8), np.float32)
        answer = live.client.post(f"/v2/models/{MODEL}/infer", json=digit_input(value=0.0))
        registered = builders.onnx_model_bytes(seed=1)
        session = ort.InferenceSession(registered, providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(
            answer.json()["outputs"][0]["data"], session.run(None, {"input": x})[0].ravel()
        )
    # Serving reads; it never rewrites the working tree.
    assert path.read_bytes() == builders.onnx_model_bytes(seed=99)


def test_a_version_without_onnx_is_refused(registry: Workspace, caplog: Any) -> None:
    files = builders.model_files(registry.root.parent / "weights-only", seed=5)
    register(MODEL, repo=registry.root, weights=files.weights, commit=True)
    with serve(registry.root) as live:
        promote(MODEL, 4, "production", repo=registry.root)
        wait_for_refusal(live, "4")
        assert served_version(live) == "1"
    assert "digits/4 has no ONNX artifact to serve; export one with" in caplog.text


def test_a_canary_gets_its_exact_share(registry: Workspace) -> None:
    builders.write_pointer(
        registry.root, MODEL, "production", 1, canary={"version": 2, "weight": 0.25}
    )
    registry.commit_all("canary 2 at 25%")
    with serve(registry.root) as live:
        versions = [served_version(live) for _ in range(100)]
        assert versions.count("2") == 25 and versions.count("1") == 75
        assert metric(live, "modelreg_requests_total", version="2", code="200") == 25
        assert metric(live, "modelreg_served_version", role="canary") == 2
        assert live.client.get(f"/v2/models/{MODEL}").json()["versions"] == ["1", "2"]
        assert live.client.get("/model/info").json()["canary"] == {"version": "2", "weight": 0.25}
        pinned = live.client.post(f"/v2/models/{MODEL}/versions/2/infer", json=digit_input())
        assert pinned.json()["model_version"] == "2"
        # Removing the canary sends everything to the stage's version again.
        builders.write_pointer(registry.root, MODEL, "production", 1)
        wait_for(
            lambda: live.client.get(f"/v2/models/{MODEL}").json()["versions"] == ["1"],
            what="the canary to be dropped",
        )
        assert {served_version(live) for _ in range(10)} == {"1"}


def deploy_clone(registry: Workspace, tmp_path: Path) -> Path:
    """A clone of origin that knows the DVC remote, as a deployment has."""
    deploy = tmp_path / "deploy"
    git(tmp_path, "clone", "-q", str(registry.origin), str(deploy))
    (deploy / ".dvc" / "config.local").write_text(
        f"['remote \"storage\"']\n    url = {registry.remote}\n"
    )
    return deploy


def test_follows_a_remote_branch_without_touching_the_working_tree(
    registry: Workspace, tmp_path: Path
) -> None:
    deploy = deploy_clone(registry, tmp_path)
    with serve(deploy, follow="origin/main") as live:
        assert served_version(live) == "1"  # pulled from the DVC remote into the clone's cache
        promote(MODEL, 3, "production", repo=registry.root)
        git(registry.root, "push", "-q", "origin", "main")
        wait_for(lambda: served_version(live) == "3", what="the pushed promotion")
        # An unreachable origin is a failed poll, counted; the server keeps serving.
        registry.origin.rename(registry.origin.with_name("moved.git"))
        wait_for(lambda: metric(live, "modelreg_poll_errors_total") >= 2, what="failed polls")
        assert served_version(live) == "3"
    with Registry.open(deploy) as reg:
        pointer = reg.pointer(MODEL, "production")
        assert pointer is not None and pointer.version == 1
    assert git(deploy, "status", "--porcelain") == ""


def test_a_follower_serves_a_version_registered_after_its_clone(
    registry: Workspace, tmp_path: Path
) -> None:
    """The clone's working tree never moves, so it has no DVC record of a newer version:
    the server loads it by the fetched manifest's md5 alone."""
    deploy = deploy_clone(registry, tmp_path)
    files = builders.model_files(tmp_path / "inputs-4", seed=4)
    with serve(deploy, follow="origin/main") as live:
        assert served_version(live) == "1"
        register(MODEL, repo=registry.root, weights=files.weights, onnx=files.onnx, commit=True)
        promote(MODEL, 4, "production", repo=registry.root, reason="newer than the clone")
        git(registry.root, "push", "-q", "origin", "main")
        wait_for(lambda: served_version(live) == "4", what="version 4, registered after the clone")
        assert metric(live, "modelreg_reloads_total", version="4", result="refused") == 0
    assert not (deploy / "registry" / MODEL / "artifacts" / "4").exists()
    assert git(deploy, "status", "--porcelain") == ""


def test_nothing_is_served_when_the_start_cannot_load(registry: Workspace) -> None:
    tamper(registry, 1)
    with pytest.raises(
        StorageError,
        match=r"^the remote 'storage' \(.*\) holds a corrupted object for digits/1 onnx "
        r"\(registry/digits/artifacts/1/model.onnx\): its content has md5 [0-9a-f]{32}, not",
    ):
        prepare(registry.root, [f"{MODEL}@production"])
    with pytest.raises(NotFoundError, match="no version of 'digits' is in staging"):
        prepare(registry.root, [f"{MODEL}@staging"])
    with pytest.raises(InputError, match="--follow 'origin': name a remote branch"):
        prepare(registry.root, [], follow="origin")


def test_served_names() -> None:
    routes = parse_served(["digits@production", "shadow=digits@staging"])
    assert [(r.name, str(r.ref), r.follows) for r in routes] == [
        ("digits", "digits@production", True),
        ("shadow", "digits@staging", True),
    ]
    fixed = parse_served(["digits/3", "old=digits@v1.2.0", "last=digits@latest"])
    assert [(r.follows, r.label) for r in fixed] == [
        (False, "version 3"),
        (False, "v1.2.0"),  # a semver names one version for good
        (True, "latest"),
    ]
    with pytest.raises(InputError, match="'digits' is served twice; name the second one"):
        parse_served(["digits@production", "digits@staging"])
    with pytest.raises(InputError, match="cannot be part of a URL path"):
        parse_served(["a/b=digits@production"])
    with pytest.raises(ModelregError, match="is not a model reference"):
        parse_served(["digits@@x"])


def test_serving_several_models_and_pinned_versions(registry: Workspace) -> None:
    with serve(registry.root, ["digits@production", "pinned=digits/3"]) as live:
        promote(MODEL, 2, "production", repo=registry.root)
        wait_for(lambda: served_version(live) == "2", what="version 2")
        pinned = live.client.post("/v2/models/pinned/infer", json=digit_input())
        assert pinned.json()["model_version"] == "3"
        # /model/info and /predict answer for the first model named.
        assert live.client.get("/model/info").json()["version"] == "2"


# --- the command ----------------------------------------------------------------------


def test_cli_serve_follows_promote_and_rollback(
    registry: Workspace, modelreg_exe: str, tmp_path: Path
) -> None:
    import httpx

    command = [modelreg_exe, "--repo", str(registry.root), "serve", "--port", "0"]
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr_file:
        process = subprocess.Popen(
            [*command, "--poll", "0.2"], stderr=stderr_file, stdout=subprocess.DEVNULL
        )
    try:
        url = f"http://127.0.0.1:{announced_port(process, log)}"
        with httpx.Client(base_url=url, timeout=10) as client:

            def version() -> str:
                try:
                    response = client.post(f"/v2/models/{MODEL}/infer", json=digit_input())
                except httpx.TransportError:
                    return ""
                return str(response.json()["model_version"])

            wait_for(lambda: version() == "1", timeout=60, what="the server to start")
            for args, expected in (
                (["promote", MODEL, "2", "--to", "production"], "2"),
                (["rollback", MODEL, "--stage", "production"], "1"),
            ):
                done = subprocess.run(
                    [modelreg_exe, "--repo", str(registry.root), *args],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert done.returncode == 0, done.stderr
                wait_for(lambda: version() == expected, what=f"version {expected}")  # noqa: B023
            assert (
                client.get("/openapi.json").json()["info"]["title"] == "modelreg inference server"
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
    stderr = log.read_text()
    assert "serving digits: digits/1 (version 1)" in stderr
    assert "digits now serves version 2 (was version 1)" in stderr
    assert f"Uvicorn running on {url}" in stderr


def test_cli_refuses_to_start_on_a_tampered_production(
    registry: Workspace, modelreg_exe: str
) -> None:
    tamper(registry, 1)
    done = subprocess.run(
        [modelreg_exe, "--repo", str(registry.root), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "md5" in line


def test_schemathesis_finds_no_server_error(registry: Workspace, tmp_path: Path) -> None:
    """Every operation of the published schema, fuzzed: no 5xx, no undocumented status.

    positive_data_acceptance is left out: a tensor's data must hold as many values as
    its shape says, which JSON Schema cannot express, so schema-valid bodies may be
    rightly refused.
    """
    schemathesis = Path(sys.executable).parent / "schemathesis"
    with serve(registry.root) as live:
        done = subprocess.run(
            [
                str(schemathesis),
                "run",
                f"{live.url}/openapi.json",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                "40",
                "--seed",
                "20261202",
                "--workers",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            cwd=tmp_path,  # schemathesis keeps a cache in the current folder
        )
        assert done.returncode == 0, done.stdout[-4000:]
        assert "Selected: 12/12" in done.stdout
        assert metric(live, "modelreg_requests_total", endpoint="infer", code="200") > 0
        assert metric(live, "modelreg_requests_total", endpoint="infer", code="500") == 0
