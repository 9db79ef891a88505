"""Build registry files directly, for tests of rules that need many shapes of registry.

Files are written with modelreg's own canonical writer, and each artifact gets
a real ``.dvc`` record whose hash matches its content, so a registry built
here is valid until a test breaks it on purpose.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.artifacts.dvc import object_path
from modelreg.core.layout import (
    CONFIG_PATH,
    alias_pointer_path,
    artifact_dir,
    model_manifest_path,
    stage_pointer_path,
    version_path,
)
from modelreg.core.yaml_edit import write_manifest
from modelreg.core.yaml_io import dump_yaml, write_text_atomic

if TYPE_CHECKING:
    from modelreg.validation.checks import ValidationReport

CREATED = "2026-01-15T09:30:00Z"
# The model-card fields validate asks of a model with a version in production (a
# warning without them); registries that model production use pass card=CARD.
CARD = {"intended_use": "Tests of the registry.", "limitations": "None known."}


def write_config(
    root: Path, stages: tuple[str, ...] = ("staging", "production"), **extra: Any
) -> None:
    document: dict[str, Any] = {"schema_version": 1, "stages": list(stages), **extra}
    write_text_atomic(root / CONFIG_PATH, dump_yaml(document))


def write_model(root: Path, name: str, **fields: Any) -> None:
    write_manifest(root, model_manifest_path(name), {"name": name, **fields}, "model")


def md5_of(path: Path) -> str:
    """The file's md5, as DVC and the manifests record it."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def artifact_content(name: str, number: int) -> bytes:
    return f"weights of {name} version {number}\n".encode()


def write_version(
    root: Path,
    name: str,
    number: int,
    *,
    store: Path | None = None,
    model_file: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """Write version ``number`` with one real artifact; ``store`` (a DVC cache or remote
    folder) also receives the artifact's object. Extra fields override the manifest's."""
    if model_file and not (root / model_manifest_path(name)).exists():
        write_model(root, name)
    content = artifact_content(name, number)
    md5 = hashlib.md5(content).hexdigest()
    folder = root / artifact_dir(name, number)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pt.dvc").write_text(
        f"outs:\n- md5: {md5}\n  size: {len(content)}\n  hash: md5\n  path: model.pt\n"
    )
    if store is not None:
        target = object_path(store, md5)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    document: dict[str, Any] = {
        "model": name,
        "version": number,
        "created": CREATED,
        "author": "Test Author <test@example.com>",
        "artifacts": [
            {
                "name": "weights",
                "path": f"{artifact_dir(name, number)}/model.pt",
                "md5": md5,
                "size": len(content),
                "format": "pytorch",
            }
        ],
        "metrics": {"accuracy": round(0.9 + number / 1000, 4)},
    }
    document.update(fields)
    write_manifest(root, version_path(name, number), document, "version")
    return document


def write_dvc_remotes(root: Path, shared: Path) -> None:
    """DVC config with two local remotes: ``shared`` (at ``shared``) and ``other``, the
    default, beside ``root``; tests of which remote validate looks in use both."""
    (root / ".dvc").mkdir()
    (root / ".dvc" / "config").write_text(
        "[core]\n    remote = other\n"
        f"['remote \"shared\"']\n    url = {shared}\n"
        f"['remote \"other\"']\n    url = {root.parent / 'other'}\n"
    )


def write_pointer(root: Path, name: str, stage: str, version: int, **extra: Any) -> None:
    write_manifest(root, stage_pointer_path(name, stage), {"version": version, **extra}, "pointer")


def write_alias(root: Path, name: str, alias: str, version: int, **extra: Any) -> None:
    write_manifest(root, alias_pointer_path(name, alias), {"version": version, **extra}, "pointer")


# A version is its number alone (``{"digits": 3}``: versions 1-3 as write_version makes
# them) or the fields that differ (``{"digits": {1: {"metrics": ...}, 2: {}}}``).
Versions = Mapping[str, int | Mapping[int, Mapping[str, Any]]]
# A stage or alias points at a version number, or at ``{"version": 2, **extra fields}``.
Pointers = Mapping[str, Mapping[str, int | Mapping[str, Any]]]


def write_registry(
    root: Path,
    versions: Versions,
    *,
    models: Mapping[str, Mapping[str, Any]] | None = None,
    stages: Pointers | None = None,
    aliases: Pointers | None = None,
    policies: Mapping[str, Any] | None = None,
) -> None:
    """Write a whole registry described in one call, so that a test's fixture says what
    it holds rather than how the files are made. ``models`` gives model.yaml fields;
    ``policies`` rewrites registry.yaml with them. Nothing is committed."""
    if policies is not None:
        write_config(root, policies=dict(policies))
    for name, fields in (models or {}).items():
        write_model(root, name, **fields)
    for name, described in versions.items():
        numbered = (
            {n: {} for n in range(1, described + 1)} if isinstance(described, int) else described
        )
        for number, extra in numbered.items():
            write_version(root, name, number, **extra)
    for write, pointers in ((write_pointer, stages), (write_alias, aliases)):
        for name, targets in (pointers or {}).items():
            for target, pointer in targets.items():
                fields = {"version": pointer} if isinstance(pointer, int) else dict(pointer)
                write(root, name, target, **fields)


@dataclass(frozen=True)
class ModelFiles:
    weights: Path
    onnx: Path
    metrics: Path
    params: Path


def onnx_model_bytes(seed: int = 0) -> bytes:
    """A small, valid ONNX classifier (8x8 image in, 10 logits out)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    weights = np.random.default_rng(seed).standard_normal((64, 10)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"]),
            helper.make_node("MatMul", ["flat", "W"], ["logits"]),
        ],
        "digits",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        [helper.make_tensor("W", TensorProto.FLOAT, [64, 10], weights.flatten().tolist())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def model_files(folder: Path, seed: int = 0) -> ModelFiles:
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "model.pt"
    weights.write_bytes(hashlib.sha256(f"weights {seed}".encode()).digest() * 64)
    onnx_path = folder / "model.onnx"
    onnx_path.write_bytes(onnx_model_bytes(seed))
    metrics = folder / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": 0.97, "f1_macro": 0.965, "test": {"loss": 0.11}}))
    params = folder / "params.yaml"
    params.write_text("train:\n  lr: 0.001\n  epochs: 10\nseed: 42\n")
    return ModelFiles(weights, onnx_path, metrics, params)


def container_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths (keys and indices) of every non-empty mapping and list in the JSON-like
    ``value``, itself first: where a generator may change a document."""
    if not isinstance(value, dict | list) or not value:
        return []
    found = [path]
    for key, child in value.items() if isinstance(value, dict) else enumerate(value):
        found += container_paths(child, (*path, key))
    return found


# What the validate tests compare: each finding as a tuple of some of its fields.
FINDING_FIELDS = ("severity", "code", "path", "field", "message")


def finding_tuples(report: ValidationReport, *fields: str) -> list[tuple[Any, ...]]:
    """``report``'s findings, each as the tuple of ``fields``: severity, code, path, field and
    message unless named."""
    names = fields or FINDING_FIELDS
    return [tuple(getattr(finding, name) for name in names) for finding in report.findings]


def findings(root: Path, *fields: str) -> list[tuple[Any, ...]]:
    """:func:`finding_tuples` of ``validate(root)``, offline and without the manifest cache."""
    from modelreg.api import validate

    return finding_tuples(validate(root, offline=True, cache=False), *fields)
