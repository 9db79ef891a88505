"""What an ONNX file declares about itself: its opset and its signature."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelreg.core.errors import InputError
from modelreg.core.model import Signature, TensorSpec

__all__ = ["OnnxInfo", "inspect_onnx"]

# TensorProto element types by number, as the schema's dtype names.
_DTYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    16: "bfloat16",
}


@dataclass(frozen=True)
class OnnxInfo:
    opset: int
    signature: Signature


def inspect_onnx(path: Path) -> OnnxInfo:
    """Read the opset and input/output tensors of the ONNX model at ``path``.

    Raises :class:`InputError` if the file is not a well-formed ONNX model.
    """
    import onnx  # heavy: only register and export need it

    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InputError(f"{path} is not a valid ONNX model: {detail}") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise InputError(f"{path} declares no default-domain opset; re-export it")
    initializers = {i.name for i in model.graph.initializer}

    def specs(values: object) -> tuple[TensorSpec, ...]:
        found = []
        for value in values:  # type: ignore[attr-defined]
            if value.name in initializers:
                continue
            tensor = value.type.tensor_type
            dtype = _DTYPES.get(tensor.elem_type)
            if dtype is None:
                raise InputError(
                    f"{path}: tensor {value.name!r} has element type {tensor.elem_type}, "
                    "which modelreg does not record; use a standard numeric type"
                )
            shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
            found.append(TensorSpec(value.name, dtype, shape))
        return tuple(found)

    return OnnxInfo(opset, Signature(specs(model.graph.input), specs(model.graph.output)))
