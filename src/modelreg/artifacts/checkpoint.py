"""Checkpoints: torch weights with what it takes to rebuild the network, never pickled code.

A checkpoint is one ``torch.save`` file holding a dict of plain values and tensors::

    format        "modelreg.checkpoint/1"
    architecture  "pipelines.digits_cnn.model:DigitsCNN"  (an nn.Module subclass)
    config        keyword arguments for it (JSON values)
    state_dict    the weights
    inputs        [{"name", "dtype", "shape"}], -1 for the batch dimension
    outputs       the same for outputs
    classes       class labels, for classifiers (optional)
    parity_data   repository path of the held-out .npz for ONNX parity (optional)

It is read with ``torch.load(weights_only=True)``, which refuses anything but
tensors and plain containers, so a tampered file cannot run code on load. The
architecture is imported from the repository (the pipeline's own code) and must
be an ``nn.Module`` subclass, so a checkpoint cannot name an arbitrary callable.
"""

from __future__ import annotations

import importlib
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.core.errors import InputError

if TYPE_CHECKING:
    import torch

FORMAT = "modelreg.checkpoint/1"
_ARCHITECTURE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*"
)
_DTYPES = frozenset({"float32", "float16", "float64", "int64", "int32", "bool", "uint8"})


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]  # -1: any size (the batch)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    architecture: str
    config: dict[str, Any]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    classes: tuple[str, ...] | None
    parity_data: str | None
    state_dict: dict[str, Any]

    def build(self, repo: Path | None = None) -> torch.nn.Module:
        """The network with its weights, in eval mode, on the CPU."""
        module = _architecture_class(self.architecture, repo, self.path)(**self.config)
        try:
            module.load_state_dict(self.state_dict)
        except (RuntimeError, KeyError) as exc:
            detail = " ".join(str(exc).split())[:300]
            raise InputError(
                f"{self.path}: the weights do not fit {self.architecture} with config "
                f"{self.config}: {detail}"
            ) from None
        return module.eval()


def save_checkpoint(
    path: Path,
    module: torch.nn.Module,
    *,
    architecture: str,
    config: dict[str, Any],
    inputs: list[TensorInfo],
    outputs: list[TensorInfo],
    classes: list[str] | None = None,
    parity_data: str | None = None,
) -> None:
    import torch

    document = {
        "format": FORMAT,
        "architecture": architecture,
        "config": config,
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "inputs": [t.to_json() for t in inputs],
        "outputs": [t.to_json() for t in outputs],
        "classes": classes,
        "parity_data": parity_data,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(document, temporary)
    temporary.replace(path)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read and check a checkpoint; any problem is one :class:`InputError` line."""
    import pickle

    import torch

    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{path}: not a readable torch checkpoint (torch.save writes a zip archive; "
            "this file is not one)"
        )
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is a page of advice; the line naming what was refused is the news.
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        detail = f"it names {refused.group(1)}" if refused else "torch refused it"
        raise InputError(
            f"{path}: not a plain-data checkpoint ({detail[:200]}); "
            "it is refused because loading it could run code"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InputError(f"{path}: not a readable torch checkpoint ({detail})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError(
            f"{path}: not a modelreg checkpoint (expected a dict with format {FORMAT!r}); "
            "save it with modelreg's save_checkpoint"
        )
    architecture = raw.get("architecture")
    if not isinstance(architecture, str) or not _ARCHITECTURE.fullmatch(architecture):
        raise InputError(f"{path}: architecture {architecture!r} is not 'package.module:ClassName'")
    config = raw.get("config")
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise InputError(f"{path}: config must be a mapping of keyword arguments")
    state = raw.get("state_dict")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise InputError(f"{path}: state_dict must map names to tensors")
    classes = raw.get("classes")
    if classes is not None and not (
        isinstance(classes, list) and all(isinstance(c, str) for c in classes)
    ):
        raise InputError(f"{path}: classes must be a list of strings")
    parity = raw.get("parity_data")
    if parity is not None and not isinstance(parity, str):
        raise InputError(f"{path}: parity_data must be a repository path")
    return Checkpoint(
        path=path,
        architecture=architecture,
        config=config,
        inputs=_tensors(path, raw.get("inputs"), "inputs"),
        outputs=_tensors(path, raw.get("outputs"), "outputs"),
        classes=tuple(classes) if classes is not None else None,
        parity_data=parity,
        state_dict=state,
    )


def _tensors(path: Path, value: Any, field: str) -> tuple[TensorInfo, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{path}: {field} must be a non-empty list of tensor descriptions")
    result = []
    for i, item in enumerate(value):
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and item.get("dtype") in _DTYPES
            and isinstance(item.get("shape"), list)
            and all(type(d) is int and (d > 0 or d == -1) for d in item["shape"])
        )
        if not ok:
            raise InputError(
                f"{path}: {field}[{i}] must have a name, a dtype ({', '.join(sorted(_DTYPES))}) "
                "and a shape of positive sizes or -1"
            )
        result.append(TensorInfo(item["name"], item["dtype"], tuple(item["shape"])))
    return tuple(result)


def _architecture_class(architecture: str, repo: Path | None, path: Path) -> type[torch.nn.Module]:
    from torch import nn

    module_name, _, class_name = architecture.partition(":")
    if repo is not None and str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(
            f"{path}: cannot import {module_name} for architecture {architecture} ({exc}); "
            "run from the repository that trained it"
        ) from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise InputError(f"{path}: {architecture} is not a torch nn.Module class")
    return cls
