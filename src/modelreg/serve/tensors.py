"""Tensors in and out of the inference server, checked against the model's inputs.

Requests arrive as JSON in one of two shapes: the Open Inference Protocol's
(KServe v2 / Triton: named tensors with a datatype, a shape and row-major data)
and the seeds' ``/predict`` (nested lists, dtype taken from the model). Every
way a request can be wrong ends here as :class:`RequestError`, a one-line
message the server answers with a 4xx: nothing a client sends may reach ONNX
Runtime unchecked, so a bad request can never become a 5xx.

``modelreg predict`` reads its files through the same functions (JSON bodies,
and arrays from ``.npy`` files and images through :func:`decode_arrays`), and
ranks a classifier's output with the same :func:`classify`, so the command and
the server check inputs alike and name the same classes with the same confidence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DATATYPES",
    "Classified",
    "InputSpec",
    "Ranked",
    "RequestError",
    "check_axes",
    "classify",
    "decode_arrays",
    "decode_predict",
    "decode_v2",
    "encode_v2",
    "json_safe",
    "parse_json",
]

# The protocol's datatype names by numpy dtype name, and ONNX Runtime's type strings.
DATATYPES = {
    "bool": "BOOL",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "object": "BYTES",
}
_ORT_TYPES = {
    "tensor(bool)": "bool",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(float16)": "float16",
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(string)": "object",
}
# How many elements one request may carry, whatever its body size limit allows.
MAX_ELEMENTS = 1 << 24


class RequestError(Exception):
    """A client's request is unusable; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InputSpec:
    """One input or output of a loaded model, as the session declares it."""

    name: str
    dtype: str  # a numpy dtype name; "object" for strings
    shape: tuple[int | None, ...]  # None: any size
    axes: tuple[str | None, ...] = ()  # the free axes' names, where the model names them

    @classmethod
    def from_ort(cls, node: Any) -> InputSpec:
        dtype = _ORT_TYPES.get(node.type)
        if dtype is None:
            raise ValueError(f"tensor {node.name!r} has type {node.type}, which is not served")
        shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in node.shape)
        axes = tuple(d if isinstance(d, str) and d else None for d in node.shape)
        return cls(node.name, dtype, shape, axes)

    @property
    def datatype(self) -> str:
        return DATATYPES[self.dtype]

    def to_metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datatype": self.datatype,
            "shape": [-1 if d is None else d for d in self.shape],
        }

    def placeholder(self) -> np.ndarray:
        """A zero tensor this input accepts (size 1 on every free axis), to warm a session."""
        shape = tuple(1 if d is None else d for d in self.shape)
        if self.dtype == "object":
            return np.full(shape, "", dtype=object)
        return np.zeros(shape, dtype=self.dtype)


def _describe_shape(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"


def _check_shape(spec: InputSpec, shape: tuple[int, ...]) -> None:
    expected = _describe_shape(spec.shape)
    if len(shape) != len(spec.shape):
        raise RequestError(
            f"input {spec.name!r} has shape {list(shape)}, but the model takes "
            f"{len(spec.shape)} dimensions {expected}"
        )
    for got, want in zip(shape, spec.shape, strict=True):
        if got < 1 or (want is not None and got != want):
            raise RequestError(
                f"input {spec.name!r} has shape {list(shape)}, but the model takes {expected}"
            )


_ALLOWED: dict[str, tuple[set[type], str]] = {
    "O": ({str}, "strings"),
    "b": ({bool}, "true/false values"),
    "i": ({int}, "integers"),
    "u": ({int}, "integers"),
    "f": ({int, float}, "numbers"),
}
_TYPE_NAMES = {
    bool: "true/false values",
    int: "integers",
    float: "floating-point numbers",
    str: "strings",
    type(None): "nulls",
    dict: "objects",
}


def _values(spec: InputSpec, data: Any, what: str) -> np.ndarray:
    """``data`` (a JSON array, nested or flat) as an array of ``spec``'s dtype, or why not.

    The array is first built of Python objects (8 bytes an element, whatever the
    values: a typed conversion of a list holding one long string would allocate
    that string's width for every element), its element types checked, and only
    then converted.
    """
    if not isinstance(data, list):
        raise RequestError(f"{what} must be a JSON array, not {type(data).__name__}")
    try:
        raw = np.asarray(data, dtype=object)
    except (ValueError, TypeError):
        raise RequestError(f"{what} is ragged or nested too deeply") from None
    if raw.size > MAX_ELEMENTS:
        raise RequestError(f"{what} has {raw.size} elements; the limit is {MAX_ELEMENTS}", 413)
    target = np.dtype(spec.dtype)
    if raw.size == 0:
        return np.empty(raw.shape, dtype=target)
    flat = raw.ravel()
    kinds = set(map(type, flat))
    if list in kinds:
        raise RequestError(f"{what} is ragged: every row must have the same length")
    allowed, wanted = _ALLOWED[target.kind]
    wrong = sorted(_TYPE_NAMES.get(kind, "other values") for kind in kinds - allowed)
    if wrong:
        raise RequestError(
            f"{what} must hold {wanted} for a {DATATYPES[spec.dtype]} input, not {wrong[0]}"
        )
    if target.kind == "O":
        for text in flat:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise RequestError(f"{what} holds a string that is not valid Unicode") from None
        return raw
    if target.kind in "iu":
        info = np.iinfo(target)
        if min(flat) < info.min or max(flat) > info.max:
            raise RequestError(
                f"{what} has a value outside {DATATYPES[spec.dtype]}'s range "
                f"[{info.min}, {info.max}]"
            )
        return raw.astype(target)
    if target.kind == "b":
        return raw.astype(target)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            values = raw.astype(target)
    except OverflowError:  # a Python int too large for any float
        values = np.full(raw.shape, np.inf, dtype=target)
    # JSON has no NaN or infinity (the parser refuses them): a non-finite value is an overflow.
    if not np.isfinite(values).all():
        raise RequestError(f"{what} has a value outside {DATATYPES[spec.dtype]}'s range")
    return values


def _shown(value: Any) -> str:
    """A client's value in a message, cut short: messages stay one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_axes(inputs: Mapping[str, InputSpec], feeds: Mapping[str, np.ndarray]) -> None:
    """Inputs that share a named axis (a batch axis 'N' on two inputs) must agree on it."""
    seen: dict[str, tuple[str, int]] = {}
    for name, spec in inputs.items():
        for axis, size in zip(spec.axes, feeds[name].shape, strict=False):
            if axis is None:
                continue
            first = seen.setdefault(axis, (name, size))
            if first[1] != size:
                raise RequestError(
                    f"inputs {first[0]!r} and {name!r} must have the same size on axis "
                    f"{axis!r}, not {first[1]} and {size}"
                )


def _spec_named(specs: Mapping[str, InputSpec], name: str, kind: str) -> InputSpec:
    spec = specs.get(name)
    if spec is None:
        raise RequestError(
            f"the model has no {kind} {_shown(name)}; its {kind}s: {', '.join(specs)}"
        )
    return spec


def decode_v2(
    body: Any, inputs: Mapping[str, InputSpec], outputs: Mapping[str, InputSpec]
) -> tuple[dict[str, np.ndarray], list[str], str | None]:
    """An Open Inference Protocol request as (feeds, output names, request id)."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object with an 'inputs' array")
    unknown = sorted(set(body) - {"id", "parameters", "inputs", "outputs"})
    if unknown:
        raise RequestError(f"unknown request field {_shown(unknown[0])}")
    request_id = body.get("id")
    if "id" in body and not isinstance(request_id, str):
        raise RequestError("'id' must be a string")
    if "parameters" in body and not isinstance(body["parameters"], dict):
        raise RequestError("'parameters' must be an object")
    tensors = body.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise RequestError("'inputs' must be a non-empty array of tensors")
    feeds: dict[str, np.ndarray] = {}
    for position, tensor in enumerate(tensors):
        if not isinstance(tensor, dict):
            raise RequestError(f"inputs[{position}] must be an object")
        name = tensor.get("name")
        if not isinstance(name, str):
            raise RequestError(f"inputs[{position}].name must be a string")
        spec = _spec_named(inputs, name, "input")
        if name in feeds:
            raise RequestError(f"input {name!r} is given twice")
        extra = sorted(set(tensor) - {"name", "shape", "datatype", "parameters", "data"})
        if extra:
            raise RequestError(f"input {name!r} has unknown field {_shown(extra[0])}")
        parameters = tensor.get("parameters", {})
        if not isinstance(parameters, dict):
            raise RequestError(f"input {name!r}: 'parameters' must be an object")
        if "binary_data_size" in parameters:
            raise RequestError("binary tensor data is not supported; send the data as JSON")
        datatype = tensor.get("datatype")
        if datatype != spec.datatype:
            raise RequestError(
                f"input {name!r} has datatype {_shown(datatype)}, but the model takes "
                f"{spec.datatype}"
            )
        shape = tensor.get("shape")
        if not (
            isinstance(shape, list)
            and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        ):
            raise RequestError(f"input {name!r}: 'shape' must be an array of integers")
        _check_shape(spec, tuple(shape))
        if "data" not in tensor:
            raise RequestError(f"input {name!r} has no 'data'")
        values = _values(spec, tensor["data"], f"input {name!r} data")
        expected = math.prod(shape)
        if values.size != expected:
            raise RequestError(
                f"input {name!r} has {values.size} values, but shape {shape} needs {expected}"
            )
        feeds[name] = values.reshape(shape)
    missing = [name for name in inputs if name not in feeds]
    if missing:
        raise RequestError(f"input {missing[0]!r} is missing; the model takes {', '.join(inputs)}")
    check_axes(inputs, feeds)
    wanted = _requested_outputs(body["outputs"], outputs) if "outputs" in body else list(outputs)
    return feeds, wanted, request_id


def _requested_outputs(requested: Any, outputs: Mapping[str, InputSpec]) -> list[str]:
    if not isinstance(requested, list) or not requested:
        raise RequestError("'outputs' must be a non-empty array of {'name': ...} objects")
    names = []
    for position, item in enumerate(requested):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise RequestError(f"outputs[{position}].name must be a string")
        assert isinstance(item, dict)
        extra = sorted(set(item) - {"name", "parameters"})
        if extra:
            raise RequestError(f"outputs[{position}] has unknown field {_shown(extra[0])}")
        if not isinstance(item.get("parameters", {}), dict):
            raise RequestError(f"outputs[{position}].parameters must be an object")
        names.append(_spec_named(outputs, name, "output").name)
    return list(dict.fromkeys(names))


def encode_v2(name: str, value: np.ndarray) -> dict[str, Any]:
    """One output tensor in the protocol's JSON form (flat, row-major data)."""
    dtype = "object" if value.dtype.kind in "OU" else value.dtype.name
    return {
        "name": name,
        "datatype": DATATYPES.get(dtype, "FP32"),
        "shape": list(value.shape),
        "data": json_safe(value.ravel()),
    }


def json_safe(value: np.ndarray) -> Any:
    """The array as (nested) lists, with NaN and infinities as null: JSON has neither,
    and strict parsers (JavaScript's, Go's) refuse a body that holds them."""
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        values = value.astype(object)
        values[~np.isfinite(value)] = None
        return values.tolist()
    if value.dtype.kind in "OU":
        return value.astype(str).tolist()
    return value.tolist()


def decode_predict(body: Any, inputs: Mapping[str, InputSpec]) -> dict[str, np.ndarray]:
    """The seeds' ``/predict`` body: ``{"inputs": rows}`` for a one-input model, or
    ``{"inputs": {name: rows}}``; a single example may leave out the batch axis."""
    if not isinstance(body, dict) or set(body) - {"inputs"} or "inputs" not in body:
        raise RequestError(
            "the request body must be a JSON object with one field, 'inputs' "
            '(e.g. {"inputs": [[...]]})'
        )
    given = body["inputs"]
    if not isinstance(given, dict):
        if len(inputs) != 1:
            raise RequestError(
                f"the model takes {len(inputs)} inputs; send 'inputs' as an object "
                f"keyed by {', '.join(inputs)}"
            )
        given = {next(iter(inputs)): given}
    for name in given:
        _spec_named(inputs, name, "input")
    feeds = {}
    for name, spec in inputs.items():
        if name not in given:
            raise RequestError(f"input {name!r} is missing; the model takes {', '.join(inputs)}")
        feeds[name] = _batched(spec, _values(spec, given[name], f"input {name!r}"))
    check_axes(inputs, feeds)
    return feeds


def _batched(spec: InputSpec, values: np.ndarray) -> np.ndarray:
    """``values`` with the batch axis added where one example left it out, checked
    against ``spec``'s shape."""
    if values.ndim == len(spec.shape) - 1 and spec.shape and spec.shape[0] is None:
        values = values[np.newaxis]
    _check_shape(spec, values.shape)
    return values


def _no_constants(name: str) -> Any:
    raise RequestError(f"the request body holds {name}, which is not JSON; send a number")


def parse_json(body: bytes) -> Any:
    """The body as JSON, strictly (no NaN or Infinity); a 400 for anything else."""
    try:
        return json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise RequestError("the request body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise RequestError(f"the request body is not valid JSON: {exc}") from None


# The array kinds each input kind takes: numbers into floats, integers into integers
# (range-checked), booleans into booleans, text into strings. Nothing is rounded.
_ARRAY_KINDS = {"f": "fiu", "i": "iu", "u": "iu", "b": "b", "O": "OU"}


def _array_values(spec: InputSpec, array: np.ndarray, what: str) -> np.ndarray:
    """``array`` (from a file, not JSON) as ``spec``'s dtype, or why not."""
    target = np.dtype(spec.dtype)
    if array.dtype.kind not in _ARRAY_KINDS[target.kind]:
        raise RequestError(
            f"{what} holds {array.dtype} values, but input {spec.name!r} takes {spec.datatype}"
        )
    if target.kind == "O":
        return array.astype(object)
    if target.kind in "iu" and array.size:
        info = np.iinfo(target)
        if array.min() < info.min or array.max() > info.max:
            raise RequestError(
                f"{what} has a value outside {spec.datatype}'s range [{info.min}, {info.max}]"
            )
    with np.errstate(over="ignore", invalid="ignore"):
        values = array.astype(target)
    if target.kind == "f" and not np.isfinite(values).all():
        raise RequestError(
            f"{what} holds NaN, an infinity or a value outside {spec.datatype}'s range"
        )
    return values


def decode_arrays(
    arrays: np.ndarray | Mapping[str, np.ndarray], inputs: Mapping[str, InputSpec], what: str
) -> dict[str, np.ndarray]:
    """Arrays as feeds, checked as :func:`decode_predict` checks JSON: one array for a
    one-input model, or one per input by name; a single example may leave out the batch
    axis. ``what`` names where they came from (a file), for the messages."""
    if not isinstance(arrays, Mapping):
        if len(inputs) != 1:
            raise RequestError(
                f"the model takes {len(inputs)} inputs ({', '.join(inputs)}), and {what} "
                "holds one array; give one array per input, by name"
            )
        arrays = {next(iter(inputs)): arrays}
    for name in arrays:
        _spec_named(inputs, name, "input")
    feeds = {}
    for name, spec in inputs.items():
        if name not in arrays:
            raise RequestError(f"input {name!r} is missing; the model takes {', '.join(inputs)}")
        feeds[name] = _batched(spec, _array_values(spec, np.asarray(arrays[name]), what))
    check_axes(inputs, feeds)
    return feeds


@dataclass(frozen=True)
class Ranked:
    """One class of one example: its index in the output, its label, its probability."""

    index: int
    label: str
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "confidence": self.confidence}


@dataclass(frozen=True)
class Classified:
    """A classifier's output ranked: per example its top classes, best first (none for
    an example whose outputs are not all finite)."""

    rows: tuple[tuple[Ranked, ...], ...]
    softmax: bool
    """Whether the confidences are a softmax of the output (it held logits); False when
    the output already was a probability per class."""


def _are_probabilities(rows: np.ndarray) -> bool:
    return bool((rows >= 0).all() and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3))


def classify(output: np.ndarray, classes: Sequence[str], top: int = 1) -> Classified | None:
    """The ``top`` classes of each example of a classifier's ``output`` (examples by
    classes, floating point), labelled from ``classes`` (a class without one by its
    index); None for an output that is not a classifier's.

    Nothing in a version records whether an output holds logits or probabilities, so
    the values decide: when every finite row is already a distribution (no negative
    value, summing to 1 within 0.001) it is taken as it is; otherwise each row is
    taken for logits and goes through a softmax. Ties rank the lower index first.
    """
    if output.ndim != 2 or output.dtype.kind != "f" or output.shape[1] < 2:
        return None
    finite = np.isfinite(output).all(axis=1)
    rows = np.where(finite[:, None], output.astype(np.float64), 0.0)
    with np.errstate(all="ignore"):  # huge logits: the softmax is still defined
        softmax = not _are_probabilities(rows[finite])
        if softmax:
            shifted = np.exp(rows - rows.max(axis=1, keepdims=True))
            rows = shifted / shifted.sum(axis=1, keepdims=True)
    count = max(1, min(top, output.shape[1]))
    ranked: list[tuple[Ranked, ...]] = []
    for row, ok in zip(rows, finite, strict=True):
        if not ok:
            ranked.append(())
            continue
        best = np.argsort(-row, kind="stable")[:count]
        ranked.append(
            tuple(
                Ranked(int(i), classes[i] if i < len(classes) else str(int(i)), float(row[i]))
                for i in best
            )
        )
    return Classified(tuple(ranked), softmax)
