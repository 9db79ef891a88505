"""``modelreg export``: a checkpoint to ONNX, proven equal to torch on held-out data.

The export uses ``torch.onnx.export`` with ``dynamo`` set by the caller (never
left to torch's default, which changed in 2.9), a dynamic batch dimension and the
weights inside the one ``.onnx`` file. The file is then checked by
``onnx.checker`` (full check, with shape inference) and run by ONNX Runtime on
the real held-out inputs beside torch: the largest absolute difference of the
outputs, the share of inputs whose top-1 class agrees, and (with labels) the
accuracy of each. Outside the tolerances the export fails with the figures and
no ``.onnx`` file is left where a pipeline would pick it up.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.artifacts.checkpoint import Checkpoint, load_checkpoint
from modelreg.core.errors import InputError, ParityError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Tolerances:
    max_abs_diff: float = 1e-4
    min_top1_agreement: float = 0.999
    max_accuracy_drop: float = 0.0


@dataclass(frozen=True)
class ParityReport:
    samples: int
    max_abs_diff: float
    top1_agreement: float | None  # classifiers only
    torch_accuracy: float | None  # with labels only
    onnx_accuracy: float | None
    tolerances: Tolerances
    failures: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class ExportResult:
    onnx_path: Path
    opset: int
    dynamo: bool
    size: int
    parity: ParityReport

    def to_json(self) -> dict[str, Any]:
        parity = asdict(self.parity)
        parity["passed"] = self.parity.passed
        parity["failures"] = list(self.parity.failures)
        return {
            "format": "modelreg.export/1",
            "onnx": str(self.onnx_path),
            "opset": self.opset,
            "dynamo": self.dynamo,
            "size": self.size,
            "checker": "onnx.checker full_check",
            "parity": parity,
        }


def load_parity_data(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs and (optional) labels or targets from an ``.npz`` with ``inputs`` and
    ``labels`` or ``targets``."""
    import numpy as np

    if not path.is_file():
        raise InputError(f"{path}: no such parity data file (an .npz with 'inputs')")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "inputs" not in data:
                raise InputError(f"{path}: no 'inputs' array; keys are {sorted(data.files)}")
            inputs = data["inputs"]
            expected = next((data[k] for k in ("labels", "targets") if k in data), None)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None
    if expected is not None and len(expected) != len(inputs):
        raise InputError(f"{path}: {len(inputs)} inputs but {len(expected)} labels")
    if len(inputs) == 0:
        raise InputError(f"{path}: 'inputs' is empty")
    return inputs, expected


def export_onnx(
    checkpoint_path: Path,
    out: Path,
    *,
    parity_data: Path | None = None,
    repo: Path | None = None,
    opset: int = 18,
    dynamo: bool = True,
    tolerances: Tolerances | None = None,
) -> ExportResult:
    """Export, check and prove; raise :class:`ParityError` outside the tolerances."""
    from modelreg.core.extras import require

    require("modelreg export", "export")
    tolerances = tolerances or Tolerances()
    checkpoint = load_checkpoint(checkpoint_path)
    if parity_data is None:
        if checkpoint.parity_data is None:
            raise InputError(
                f"{checkpoint_path}: no parity data named in the checkpoint; pass --parity-data"
            )
        parity_data = (repo or Path.cwd()) / checkpoint.parity_data
    inputs, expected = load_parity_data(parity_data)
    module = checkpoint.build(repo)
    _check_input_shape(checkpoint, inputs, parity_data)

    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    # The folder is a version's artifact folder: a link planted at the temporary name
    # must not steer the write elsewhere, so the exporter always creates a new file.
    temporary.unlink(missing_ok=True)
    try:
        _torch_export(module, checkpoint, inputs, temporary, opset=opset, dynamo=dynamo)
        _check_model(temporary)
        report = measure_parity(module, temporary, inputs, expected, tolerances)
        if not report.passed:
            raise ParityError(
                f"ONNX export of {checkpoint_path} fails parity on {report.samples} held-out "
                f"inputs: {'; '.join(report.failures)}"
            )
        temporary.replace(out)
    finally:
        temporary.unlink(missing_ok=True)
    return ExportResult(out, opset, dynamo, out.stat().st_size, report)


def _check_input_shape(checkpoint: Checkpoint, inputs: np.ndarray, path: Path) -> None:
    spec = checkpoint.inputs[0]
    want = tuple(d for d in spec.shape[1:])
    got = tuple(inputs.shape[1:])
    if len(want) != len(got) or any(w not in (-1, g) for w, g in zip(want, got, strict=True)):
        raise InputError(
            f"{path}: inputs have shape {list(inputs.shape)}, the model takes "
            f"{list(spec.shape)} ({spec.name})"
        )


def _torch_export(
    module: Any, checkpoint: Checkpoint, inputs: np.ndarray, out: Path, *, opset: int, dynamo: bool
) -> None:
    import torch

    example = torch.from_numpy(inputs[:2].astype(checkpoint.inputs[0].dtype))
    input_name = checkpoint.inputs[0].name
    output_name = checkpoint.outputs[0].name
    # The exporter logs a line per optional torchvision op it skips, and torch's own
    # pytree code raises deprecation warnings: neither is the user's business.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            if dynamo:
                torch.onnx.export(
                    module,
                    (example,),
                    str(out),
                    dynamo=True,
                    input_names=[input_name],
                    output_names=[output_name],
                    dynamic_shapes=({0: torch.export.Dim("batch")},),
                    opset_version=opset,
                    external_data=False,
                    verbose=False,
                )
            else:
                torch.onnx.export(
                    module,
                    (example,),
                    str(out),
                    dynamo=False,
                    input_names=[input_name],
                    output_names=[output_name],
                    dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                    opset_version=opset,
                )
        except Exception as exc:  # torch raises many types; the user needs one line
            detail = " ".join(str(exc).split())[:400]
            raise InputError(
                f"torch.onnx.export (dynamo={dynamo}) failed for {checkpoint.architecture}: "
                f"{type(exc).__name__}: {detail}"
            ) from None
    if dynamo:
        _drop_stack_traces(out)


# The dynamo exporter records, on every node, the Python stack that produced it:
# absolute paths of the checkout and the virtualenv. They would make the same
# training give a different file (and md5) in every clone, so they are dropped;
# the node's module path and FX node stay.
_BUILD_PATH_KEYS = frozenset({"pkg.torch.onnx.stack_trace"})


def _drop_stack_traces(path: Path) -> None:
    import onnx

    model = onnx.load(str(path))

    def clean(nodes: Any) -> None:
        for node in nodes:
            kept = [p for p in node.metadata_props if p.key not in _BUILD_PATH_KEYS]
            del node.metadata_props[:]
            node.metadata_props.extend(kept)
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    clean(attribute.g.node)
                for graph in attribute.graphs:
                    clean(graph.node)

    clean(model.graph.node)
    for function in model.functions:
        clean(function.node)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)  # never write through a planted link
    onnx.save(model, str(temporary))
    temporary.replace(path)


def _check_model(path: Path) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"the exported model fails onnx.checker: {first}") from None


def measure_parity(
    module: Any,
    onnx_path: Path,
    inputs: np.ndarray,
    expected: np.ndarray | None,
    tolerances: Tolerances,
    batch: int = 256,
) -> ParityReport:
    """Run torch and ONNX Runtime (CPU) on the same inputs and compare."""
    import numpy as np
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    dtype = np.float32 if "float" in session.get_inputs()[0].type else inputs.dtype
    torch_out, onnx_out = [], []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch):
            chunk = np.ascontiguousarray(inputs[start : start + batch], dtype=dtype)
            torch_out.append(module(torch.from_numpy(chunk)).numpy())
            onnx_out.append(session.run(None, {name: chunk})[0])
    reference = np.concatenate(torch_out)
    candidate = np.concatenate(onnx_out)
    if reference.shape != candidate.shape:
        return ParityReport(
            len(inputs),
            float("inf"),
            None,
            None,
            None,
            tolerances,
            (f"output shapes differ: torch {reference.shape}, ONNX {candidate.shape}",),
        )
    max_diff = float(np.max(np.abs(reference - candidate)))
    failures = []
    if not max_diff <= tolerances.max_abs_diff:  # also catches NaN
        failures.append(
            f"max abs difference {max_diff:.3g} > {tolerances.max_abs_diff:g} (max_abs_diff)"
        )
    agreement = torch_accuracy = onnx_accuracy = None
    classifier = reference.ndim == 2 and reference.shape[1] > 1
    if classifier:
        ref_top1, cand_top1 = reference.argmax(axis=1), candidate.argmax(axis=1)
        agreement = float(np.mean(ref_top1 == cand_top1))
        if agreement < tolerances.min_top1_agreement:
            failures.append(
                f"top-1 agreement {agreement:.2%} < {tolerances.min_top1_agreement:.2%} "
                "(min_top1_agreement)"
            )
        if expected is not None:
            torch_accuracy = float(np.mean(ref_top1 == expected))
            onnx_accuracy = float(np.mean(cand_top1 == expected))
            drop = torch_accuracy - onnx_accuracy
            if drop > tolerances.max_accuracy_drop + 1e-12:
                failures.append(
                    f"accuracy {onnx_accuracy:.2%} vs torch {torch_accuracy:.2%}, a drop over "
                    f"{tolerances.max_accuracy_drop:.2%} (max_accuracy_drop)"
                )
    return ParityReport(
        len(inputs), max_diff, agreement, torch_accuracy, onnx_accuracy, tolerances, tuple(failures)
    )


def write_report(result: ExportResult, path: Path) -> None:
    from modelreg.core.yaml_io import write_text_atomic

    write_text_atomic(path, json.dumps(result.to_json(), indent=2) + "\n")
