"""What an ONNX file declares about itself: its opset and signature, and (for model
cards) its size in parameters and the operators its graph is built from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelreg.core.errors import InputError
from modelreg.core.model import Signature, TensorSpec

__all__ = ["OnnxInfo", "OnnxSummary", "inspect_onnx", "summarize_onnx"]

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


@dataclass(frozen=True)
class OnnxSummary:
    """An ONNX graph in figures: what a model card shows as its architecture."""

    opset: int | None
    ir_version: int
    producer: str
    parameters: int
    """Elements of the graph's initializers (its weights), dense and sparse."""
    operators: tuple[tuple[str, int], ...]
    """Each operator (``domain.Op`` outside the default domain) and how many nodes use
    it, subgraphs (If, Loop, Scan bodies) and model-local functions included; most used first."""


def summarize_onnx(data: bytes, what: str) -> OnnxSummary:
    """Count the parameters and operators of the ONNX model serialised in ``data``.

    ``data`` has been checked against its recorded md5 by the caller; it is parsed, never
    run. Raises :class:`InputError` naming ``what`` if it is not an ONNX model.
    """
    import onnx  # heavy: only the commands that read an ONNX file pay for it

    try:
        model = onnx.load_from_string(data)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InputError(f"{what} is not a valid ONNX model: {detail}") from None
    counts: dict[str, int] = {}
    parameters = 0

    def walk(nodes: object) -> None:
        for node in nodes:  # type: ignore[attr-defined]
            default = node.domain in ("", "ai.onnx")
            name = node.op_type if default else f"{node.domain}.{node.op_type}"
            counts[name] = counts.get(name, 0) + 1
            for attribute in node.attribute:  # the bodies of If, Loop and Scan
                if attribute.type == onnx.AttributeProto.GRAPH:
                    visit(attribute.g)
                for graph in attribute.graphs:
                    visit(graph)

    def visit(graph: object) -> None:
        nonlocal parameters
        for tensor in graph.initializer:  # type: ignore[attr-defined]
            parameters += _elements(tensor.dims)
        for sparse in graph.sparse_initializer:  # type: ignore[attr-defined]
            parameters += _elements(sparse.dims)
        walk(graph.node)  # type: ignore[attr-defined]

    visit(model.graph)
    for function in model.functions:
        walk(function.node)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    ranked = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return OnnxSummary(opset, int(model.ir_version), str(model.producer_name), parameters, ranked)


def _elements(dims: object) -> int:
    total = 1
    for dim in dims:  # type: ignore[attr-defined]
        total *= max(int(dim), 0)
    return total
