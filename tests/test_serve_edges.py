"""The inference server at its edges: models with several inputs, strings, non-finite
outputs; hostile bodies; and a follower whose loads fail in ways it did not plan for."""

from __future__ import annotations

import json
import socket
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import modelreg.serve.routes as serving_module
from modelreg.api import promote
from modelreg.core.model import ModelVersion
from modelreg.core.refs import parse_ref
from modelreg.serve.metrics import Metrics
from modelreg.serve.routes import Follower, LoadedModel, Route, Server, Serving, Target, prepare
from modelreg.serve.tensors import InputSpec, RequestError, decode_v2
from tests import builders
from tests.conftest import Workspace
from tests.serving import LiveServer, add_versions, digit_input
from tests.test_serve import tamper

# --- models built in memory, served pinned ---------------------------------------------


def graph_bytes(nodes: list[Any], inputs: list[Any], outputs: list[Any], inits: Any = ()) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def in_memory(model_bytes: bytes, name: str = "m") -> Server:
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    inputs = {node.name: InputSpec.from_ort(node) for node in session.get_inputs()}
    outputs = {node.name: InputSpec.from_ort(node) for node in session.get_outputs()}
    version = ModelVersion(model=name, version=1, created=datetime.now(UTC), artifacts=())
    loaded = LoadedModel(version, session, inputs, outputs, "memory", "0" * 32)
    route = Route(name, parse_ref(f"{name}/1"))
    route.swap(Serving(Target(1), loaded, None, "version 1"))
    metrics = Metrics()
    return Server([route], Follower(Path.cwd(), [route], metrics), metrics)


def tensor(name: str, elem: int, shape: list[Any]) -> Any:
    return helper.make_tensor_value_info(name, elem, shape)


@pytest.fixture
def two_inputs() -> Iterator[LiveServer]:
    """out = a + b, where a is [N, 4] and b is [M, 4] (the graph needs N == M)."""
    model = graph_bytes(
        [helper.make_node("Add", ["a", "b"], ["out"])],
        [tensor("a", TensorProto.FLOAT, ["N", 4]), tensor("b", TensorProto.FLOAT, ["M", 4])],
        [tensor("out", TensorProto.FLOAT, ["N", 4])],
    )
    with LiveServer(in_memory(model)) as live:
        yield live


def add_body(rows_a: int, rows_b: int) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "a", "datatype": "FP32", "shape": [rows_a, 4], "data": [1.0] * 4 * rows_a},
            {"name": "b", "datatype": "FP32", "shape": [rows_b, 4], "data": [2.0] * 4 * rows_b},
        ]
    }


def test_an_onnx_runtime_refusal_of_the_values_is_a_400(two_inputs: LiveServer) -> None:
    ok = two_inputs.client.post("/v2/models/m/infer", json=add_body(2, 2))
    assert ok.status_code == 200 and ok.json()["outputs"][0]["data"] == [3.0] * 8
    bad = two_inputs.client.post("/v2/models/m/infer", json=add_body(2, 3))
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("the model cannot run on these inputs: ")
    assert "\n" not in bad.json()["error"]


def test_inputs_sharing_a_named_axis_must_agree() -> None:
    model = graph_bytes(
        [helper.make_node("Add", ["a", "b"], ["out"])],
        [tensor("a", TensorProto.FLOAT, ["N", 4]), tensor("b", TensorProto.FLOAT, ["N", 4])],
        [tensor("out", TensorProto.FLOAT, ["N", 4])],
    )
    with LiveServer(in_memory(model)) as live:
        response = live.client.post("/v2/models/m/infer", json=add_body(2, 3))
    assert response.status_code == 400
    assert response.json() == {
        "error": "inputs 'a' and 'b' must have the same size on axis 'N', not 2 and 3"
    }


def test_strings_in_and_out_and_text_that_is_not_unicode() -> None:
    model = graph_bytes(
        [helper.make_node("Identity", ["text"], ["same"])],
        [tensor("text", TensorProto.STRING, ["N"])],
        [tensor("same", TensorProto.STRING, ["N"])],
    )
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["a", "é"]}]}
    with LiveServer(in_memory(model)) as live:
        ok = live.client.post("/v2/models/m/infer", json=body)
        assert ok.status_code == 200, ok.text
        assert ok.json()["outputs"][0] == {
            "name": "same",
            "datatype": "BYTES",
            "shape": [2],
            "data": ["a", "é"],
        }
        surrogate = json.dumps(body).replace("\\u00e9", "\\ud800")
        bad = live.client.post(
            "/v2/models/m/infer", content=surrogate, headers={"content-type": "application/json"}
        )
    assert bad.status_code == 400
    assert bad.json()["error"] == "input 'text' data holds a string that is not valid Unicode"


def test_non_finite_values_are_null_in_answers_and_refused_in_requests() -> None:
    model = graph_bytes(
        [helper.make_node("Log", ["x"], ["y"])],
        [tensor("x", TensorProto.FLOAT, ["N", 2])],
        [tensor("y", TensorProto.FLOAT, ["N", 2])],
    )
    with LiveServer(in_memory(model)) as live:
        body = {
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [0, -1, 1, 1]}]
        }
        answer = live.client.post("/v2/models/m/infer", json=body)
        assert answer.status_code == 200
        json.loads(answer.text, parse_constant=pytest.fail)  # strict JSON: no NaN, no Infinity
        assert answer.json()["outputs"][0]["data"] == [None, None, 0.0, 0.0]
        predicted = live.client.post("/predict", json={"inputs": [[0, 1], [1, 1]]})
        json.loads(predicted.text, parse_constant=pytest.fail)
        assert predicted.json()["predictions"] == [
            {"index": None, "label": None, "confidence": None},
            {"index": 0, "label": "0", "confidence": 0.5},
        ]
        nan = live.client.post(
            "/predict",
            content=b'{"inputs": [[NaN, 1]]}',
            headers={"content-type": "application/json"},
        )
    assert nan.status_code == 400
    assert nan.json() == {"error": "the request body holds NaN, which is not JSON; send a number"}


def test_a_long_string_among_many_numbers_costs_no_memory() -> None:
    spec = {"x": InputSpec("x", "float32", (None,))}
    data = ["x" * 2000] + [0] * 100_000
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [100_001], "data": data}]}
    tracemalloc.start()
    try:
        with pytest.raises(RequestError, match="must hold numbers for a FP32 input, not strings"):
            decode_v2(body, spec, {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A typed conversion would have taken 2,000 x 4 bytes per element (800 MB); the
    # object array takes 8 bytes per element.
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.0f} MiB"


# --- hostile transport ----------------------------------------------------------------


def test_transport_level_errors_answer_in_the_protocol_shape(registry: Workspace) -> None:
    with LiveServer(prepare(registry.root, ["digits@production"]), max_body=4096) as live:
        wrong_method = live.client.get("/v2/models/digits/infer")
        assert wrong_method.status_code == 405
        assert wrong_method.json() == {"error": "Method Not Allowed"}
        assert live.client.get("/nowhere").json() == {"error": "Not Found"}

        def chunks() -> Iterator[bytes]:
            yield b'{"inputs": ['
            for _ in range(100):
                yield b'{"name": "input", "datatype": "FP32", "shape": [1, 1, 8, 8]},'

        chunked = live.client.post("/v2/models/digits/infer", content=chunks())
        assert chunked.status_code == 413
        assert chunked.json() == {"error": "the request body is over the limit of 4096 bytes"}

        with socket.create_connection(("127.0.0.1", live.port)) as raw:
            raw.sendall(
                b"POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\n"
                b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs"'
            )
        text = ""
        for _ in range(100):
            text = live.client.get("/metrics").text
            if 'code="499"' in text:
                break
            time.sleep(0.05)
        assert (
            'modelreg_requests_total{model="digits",version="",endpoint="infer",code="499"} 1'
            in text
        )
        assert 'code="500"' not in text
        assert live.client.post("/v2/models/digits/infer", json=digit_input()).status_code == 200


# --- a follower whose loads fail --------------------------------------------------------


@pytest.fixture
def registry(workspace: Workspace) -> Workspace:
    return add_versions(workspace)


def test_an_unplanned_load_failure_is_a_refusal_and_other_routes_still_move(
    registry: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    promote("digits", 1, "staging", repo=registry.root)
    server = prepare(registry.root, ["a=digits@production", "b=digits@staging"])
    real = serving_module.load_version
    attempts = []

    def failing(root: Path, version: ModelVersion, **kwargs: Any) -> LoadedModel:
        attempts.append(version.version)
        if version.version == 2:
            raise PermissionError(13, "Permission denied", "/srv/dvc-cache")
        return real(root, version, **kwargs)

    monkeypatch.setattr(serving_module, "load_version", failing)
    promote("digits", 2, "production", repo=registry.root)
    promote("digits", 3, "staging", repo=registry.root)
    for _ in range(3):
        server.follower.refresh()
    a, b = server.routes
    assert a.current().primary.number == 1  # refused, still serving
    assert b.current().primary.number == 3  # not held back by a's failure
    assert attempts == [2, 3]  # the failed target is not retried at every poll
    metrics = server.metrics.render()
    assert 'modelreg_reloads_total{model="a",version="2",result="refused"} 1' in metrics
    assert 'modelreg_reloads_total{model="b",version="3",result="ok"} 1' in metrics


def test_a_canary_that_fails_is_retried_later_without_reloading_the_stage(
    registry: Workspace,
) -> None:
    now = [0.0]
    metrics = Metrics()
    follower = Follower(
        registry.root,
        serving_module.parse_served(["digits@production"]),
        metrics,
        clock=lambda: now[0],
    )
    [route] = follower.routes
    builders.write_pointer(registry.root, "digits", "production", 1)
    follower.start_serving()
    # The canary's file now fails its check everywhere: working tree, cache and remote.
    tamper(registry, 2)
    builders.write_pointer(
        registry.root, "digits", "production", 1, canary={"version": 2, "weight": 0.5}
    )
    follower.refresh()
    follower.refresh()
    now[0] += serving_module.RETRY_FAILED_S + 1
    follower.refresh()
    assert route.current().canary is None and route.current().primary.number == 1
    text = metrics.render()
    assert 'modelreg_reloads_total{model="digits",version="2",result="refused"} 2' in text
    assert 'result="ok"' not in text  # the stage's own version was never "reloaded"
