"""Request decoding for the inference server: any JSON gets values or a 4xx, nothing else."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg.serve.tensors import InputSpec, RequestError, decode_predict, decode_v2, encode_v2

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


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"inputs": st.lists(tensor_like())})))
def test_any_v2_body_decodes_or_is_refused_with_a_4xx(body: Any) -> None:
    try:
        feeds, outputs, _ = decode_v2(body, INPUTS, OUTPUTS)
    except RequestError as exc:
        assert 400 <= exc.status < 500
        assert "\n" not in str(exc)
        return
    assert set(feeds) == set(INPUTS) and outputs == ["scores"]
    for name, value in feeds.items():
        spec = INPUTS[name]
        assert value.dtype == np.dtype(spec.dtype)
        assert len(value.shape) == len(spec.shape)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"inputs": json_values})))
def test_any_predict_body_decodes_or_is_refused_with_a_4xx(body: Any) -> None:
    single = {"image": INPUTS["image"]}
    try:
        feeds = decode_predict(body, single)
    except RequestError as exc:
        assert 400 <= exc.status < 500
        return
    assert feeds["image"].dtype == np.float32 and feeds["image"].shape[1:] == (2, 2)


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
