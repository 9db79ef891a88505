"""Request decoding for the inference server: any JSON gets values or a 4xx, nothing else."""

from __future__ import annotations

import copy
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from modelreg.serve.tensors import InputSpec, RequestError, decode_predict, decode_v2, encode_v2
from tests.builders import container_paths

INPUTS = {
    "image": InputSpec("image", "float32", (None, 2, 2)),
    "ids": InputSpec("ids", "int64", (None,)),
    "mask": InputSpec("mask", "bool", (None,)),
    "text": InputSpec("text", "object", (None,)),
}
OUTPUTS = {"scores": InputSpec("scores", "float32", (None, 3))}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(exclude_categories=()), max_size=5),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def tensor_like() -> st.SearchStrategy[dict[str, Any]]:
    """Tensors that are nearly right, so decoding gets past the first checks."""
    return st.fixed_dictionaries(
        {
            "name": st.sampled_from(["image", "ids", "mask", "text", "other"]),
            "datatype": st.sampled_from(["FP32", "INT64", "BOOL", "FP16", "BYTES"]),
            "shape": st.lists(st.integers(-2, 4), max_size=4),
            "data": st.lists(json_values, max_size=10)
            | st.lists(st.floats(width=32), max_size=12)
            | st.lists(st.integers(-(2**64), 2**64), max_size=6),
        },
        optional={"parameters": json_values},
    )


# Values each dtype holds exactly, so a decoded tensor must give back what was sent.
_EXACT: dict[str, st.SearchStrategy[Any]] = {
    "float32": st.floats(width=32, allow_nan=False, allow_infinity=False)
    | st.integers(-(2**24), 2**24),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "bool": st.booleans(),
    "object": st.text(max_size=6),
}


@st.composite
def valid_array(draw: st.DrawFn, spec: InputSpec, batch: int | None = None) -> np.ndarray:
    """An array ``spec`` accepts, as the model's dtype (its free axes 1-3 long)."""
    shape = tuple(
        d if d is not None else (batch if batch is not None else draw(st.integers(1, 3)))
        for d in spec.shape
    )
    values = draw(
        st.lists(_EXACT[spec.dtype], min_size=math.prod(shape), max_size=math.prod(shape))
    )
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(shape)


@st.composite
def valid_v2(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """An Open Inference Protocol body the decoder must accept, and the feeds it holds."""
    arrays = {name: draw(valid_array(spec)) for name, spec in INPUTS.items()}
    tensors = []
    for name in draw(st.permutations(list(INPUTS))):
        array = arrays[name]
        nested = draw(st.booleans())  # data may be flat (row-major) or nested
        tensor = {
            "name": name,
            "datatype": INPUTS[name].datatype,
            "shape": list(array.shape),
            "data": array.tolist() if nested else array.ravel().tolist(),
        }
        if draw(st.booleans()):
            tensor["parameters"] = {"content_type": "str"}
        tensors.append(tensor)
    body: dict[str, Any] = {"inputs": tensors}
    body |= draw(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.text(max_size=8),
                "parameters": st.just({}),
                "outputs": st.just([{"name": "scores"}]),
            },
        )
    )
    return body, {name: array.astype(INPUTS[name].dtype) for name, array in arrays.items()}


@st.composite
def valid_predict(
    draw: st.DrawFn,
) -> tuple[dict[str, Any], dict[str, InputSpec], dict[str, np.ndarray]]:
    """A /predict body (rows, or rows by input name), its model's inputs, and the feeds."""
    single = draw(st.booleans())
    inputs = {"image": INPUTS["image"]} if single else INPUTS
    arrays = {name: draw(valid_array(spec)) for name, spec in inputs.items()}
    rows: dict[str, Any] = {}
    for name, array in arrays.items():
        # One example may leave out the batch axis (a 1-D input's example is no array).
        if array.ndim > 1 and array.shape[0] == 1 and draw(st.booleans()):
            rows[name] = array[0].tolist()
        else:
            rows[name] = array.tolist()
    given_inputs = rows["image"] if single and draw(st.booleans()) else rows
    feeds = {name: array.astype(inputs[name].dtype) for name, array in arrays.items()}
    return {"inputs": given_inputs}, inputs, feeds


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    """``body`` with one value replaced, one entry dropped, or one field added, anywhere."""
    body = copy.deepcopy(body)
    path = draw(st.sampled_from(container_paths(body)))
    container = body
    for key in path:
        container = container[key]
    keys = list(container) if isinstance(container, dict) else list(range(len(container)))
    key = draw(st.sampled_from(keys))
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if how == "drop":
        del container[key]
    elif how == "add" and isinstance(container, dict):
        container[draw(st.sampled_from(["extra", "shape", "datatype", "name"]))] = draw(json_values)
    elif how == "add":
        container.append(draw(json_values))
    else:
        container[key] = draw(json_values)
    return body


def _flat(data: Any) -> list[Any]:
    return [v for item in data for v in _flat(item)] if isinstance(data, list) else [data]


def _same_values(value: np.ndarray, data: Any, spec: InputSpec) -> None:
    """``value`` holds the body's ``data`` in row-major order, each as the model's type."""
    sent = _flat(data)
    assert value.size == len(sent)
    if spec.dtype == "object":
        assert value.ravel().tolist() == sent
    else:
        expected = [np.array(v).astype(spec.dtype).item() for v in sent]
        assert value.ravel().tolist() == expected


# Bodies tried and bodies decoded, per decoder; filled by the property tests below and
# checked after them (pytest runs a file's tests in order).
_REACH: dict[str, Counter[str]] = {"v2": Counter(), "predict": Counter()}

junk_v2 = st.one_of(json_values, st.fixed_dictionaries({"inputs": st.lists(tensor_like())}))
# Valid bodies twice over: half of them stay valid, the other half reach the checks
# behind the first (a wrong datatype, a missing input, a shape that does not fit).
v2_bodies = st.one_of(
    valid_v2(),
    valid_v2(),
    valid_v2().flatmap(lambda pair: mutated(pair[0])).map(lambda body: (body, None)),
    junk_v2.map(lambda body: (body, None)),
)


@settings(max_examples=300, deadline=None)
@given(v2_bodies)
def test_any_v2_body_decodes_or_is_refused_with_a_4xx(
    case: tuple[Any, dict[str, np.ndarray] | None],
) -> None:
    body, expected = case
    _REACH["v2"]["total"] += 1
    try:
        feeds, outputs, request_id = decode_v2(body, INPUTS, OUTPUTS)
    except RequestError as exc:
        event("v2: refused")
        assert 400 <= exc.status < 500
        assert "\n" not in str(exc)
        assert expected is None, f"refused a valid body: {exc}"
        return
    event("v2: decoded")
    _REACH["v2"]["decoded"] += 1
    assert set(feeds) == set(INPUTS) and outputs == ["scores"]
    assert request_id == body.get("id")
    for tensor in body["inputs"]:
        spec, value = INPUTS[tensor["name"]], feeds[tensor["name"]]
        assert value.dtype == np.dtype(spec.dtype)
        assert list(value.shape) == tensor["shape"]
        _same_values(value, tensor["data"], spec)
    if expected is not None:
        for name, value in expected.items():
            np.testing.assert_array_equal(feeds[name], value, strict=True)


junk_predict = st.one_of(json_values, st.fixed_dictionaries({"inputs": json_values}))
predict_bodies = st.one_of(
    valid_predict(),
    valid_predict(),
    valid_predict().flatmap(lambda case: mutated(case[0]).map(lambda body: (body, case[1], None))),
    junk_predict.map(lambda body: (body, {"image": INPUTS["image"]}, None)),
)


@settings(max_examples=300, deadline=None)
@given(predict_bodies)
def test_any_predict_body_decodes_or_is_refused_with_a_4xx(
    case: tuple[Any, dict[str, InputSpec], dict[str, np.ndarray] | None],
) -> None:
    body, inputs, expected = case
    _REACH["predict"]["total"] += 1
    try:
        feeds = decode_predict(body, inputs)
    except RequestError as exc:
        event("predict: refused")
        assert 400 <= exc.status < 500
        assert "\n" not in str(exc)
        assert expected is None, f"refused a valid body: {exc}"
        return
    event(f"predict: decoded, {len(inputs)} input(s)")
    _REACH["predict"]["decoded"] += 1
    assert set(feeds) == set(inputs)
    given_inputs = body["inputs"] if isinstance(body["inputs"], dict) else {"image": body["inputs"]}
    for name, spec in inputs.items():
        value, rows = feeds[name], given_inputs[name]
        assert value.dtype == np.dtype(spec.dtype)
        sent = np.asarray(rows, dtype=object).shape
        # The body's shape, with the batch axis added to a single example.
        assert value.shape in (sent, (1, *sent))
        assert all(want in (None, got) for got, want in zip(value.shape, spec.shape, strict=True))
        _same_values(value, rows, spec)
    if expected is not None:
        for name, value in expected.items():
            np.testing.assert_array_equal(feeds[name], value, strict=True)


def test_reach_of_the_decoder_properties() -> None:
    """At least 30% of the bodies the two property tests above generated decoded, so their
    checks on decoded tensors ran (both run first: pytest keeps a file's order)."""
    if not all(reach["total"] for reach in _REACH.values()):
        pytest.skip("the property tests did not run in this session")
    for decoder, reach in sorted(_REACH.items()):
        decoded, total = reach["decoded"], reach["total"]
        print(f"{decoder}: {decoded}/{total} bodies decoded ({decoded / total:.0%})")
        assert decoded / total >= 0.30, f"{decoder}: only {decoded}/{total} bodies decoded"


def test_a_valid_request_decodes_to_the_model_types() -> None:
    body = {
        "id": "r1",
        "inputs": [
            {"name": "image", "datatype": "FP32", "shape": [1, 2, 2], "data": [1, 2, 3, 4.5]},
            {"name": "ids", "datatype": "INT64", "shape": [2], "data": [[7], [8]]},
            {"name": "mask", "datatype": "BOOL", "shape": [2], "data": [True, False]},
            {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["naïve"]},
        ],
    }
    feeds, outputs, request_id = decode_v2(body, INPUTS, OUTPUTS)
    assert request_id == "r1" and outputs == ["scores"]
    np.testing.assert_array_equal(feeds["image"], np.array([[[1, 2], [3, 4.5]]], np.float32))
    assert feeds["ids"].dtype == np.int64 and feeds["ids"].tolist() == [7, 8]
    assert feeds["mask"].tolist() == [True, False]
    assert feeds["text"].dtype == object and feeds["text"].tolist() == ["naïve"]


@pytest.mark.parametrize(
    ("data", "datatype", "message"),
    [
        ([1.5, 2], "INT64", "must hold integers for a INT64 input, not floating-point numbers"),
        ([2**63], "INT64", "has a value outside INT64's range"),
        ([2**70], "INT64", "has a value outside INT64's range"),
        ([1, True], "INT64", "must hold integers for a INT64 input, not true/false values"),
        ([1, 0], "BOOL", "must hold true/false values for a BOOL input"),
        ([1e300, 0], "FP32", "has a value outside FP32's range"),
    ],
)
def test_values_the_type_cannot_hold_are_refused(
    data: list[Any], datatype: str, message: str
) -> None:
    name = {"INT64": "ids", "BOOL": "mask", "FP32": "ids"}[datatype]
    inputs = {
        **INPUTS,
        "ids": InputSpec("ids", "float32" if datatype == "FP32" else "int64", (None,)),
    }
    body = {"inputs": [{"name": name, "datatype": datatype, "shape": [2], "data": data}]}
    with pytest.raises(RequestError, match=message):
        decode_v2(body, {name: inputs[name]}, OUTPUTS)


def test_outputs_are_encoded_flat_with_their_datatype() -> None:
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert encode_v2("scores", value) == {
        "name": "scores",
        "datatype": "FP32",
        "shape": [2, 3],
        "data": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    }
