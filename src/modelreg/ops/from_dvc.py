"""``modelreg register NAME --from-dvc``: a version from the DVC pipeline's outputs.

``registry/<model>/model.yaml`` names the model's training stage and output files
(its ``pipeline:`` section). From ``dvc.lock`` and those files this builds
everything a version records, and refuses, before anything is written, when the
outputs are not what the last ``dvc repro`` produced:

* every named file must be an output of a stage in ``dvc.lock``, with the hash
  the lock records (a file changed since ``dvc repro`` is not that run's output);
* the stages behind them must be up to date: their code and data dependencies
  and their parameters in ``params.yaml`` as the lock records them;
* the ONNX export's parity check must have passed.

The lineage is the training stage and the MD5 of its ``dvc.lock`` entry, the
parameters of every stage behind the registered files, the hash of the training
data, and the MLflow run the training logged. Metrics come from the metrics
files, the parity report (``onnx_*``) and the benchmark report (``latency_*``,
``throughput_*``). A confusion-matrix image the evaluation drew is registered with
the version (artifact ``confusion_matrix``) for its model card.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelreg.artifacts.local import file_md5
from modelreg.core.errors import InputError, ManifestError
from modelreg.core.model import Lineage, MlflowRun
from modelreg.core.yaml_io import parse_yaml
from modelreg.integrations.tracking_uri import lineage_tracking_uri
from modelreg.ops.inputs import check_metrics

__all__ = ["PipelineOutputs", "read_pipeline"]

LOCK = "dvc.lock"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PipelineOutputs:
    """What ``register`` needs, gathered from the pipeline and checked."""

    weights: Path
    onnx: Path | None
    metrics: dict[str, float]
    params: dict[str, Any]
    lineage: Lineage
    extra: dict[str, Path] = field(default_factory=dict)
    """More files recorded with the version, by artifact name (``confusion_matrix``)."""


@dataclass(frozen=True)
class _Stage:
    name: str
    entry: Mapping[str, Any]

    def files(self, key: str) -> Iterator[tuple[str, str | None]]:
        for item in self.entry.get(key) or ():
            if isinstance(item, Mapping) and isinstance(item.get("path"), str):
                md5 = item.get("md5")
                yield item["path"], md5 if isinstance(md5, str) else None

    def params(self) -> Mapping[str, Mapping[str, Any]]:
        params = self.entry.get("params")
        return params if isinstance(params, Mapping) else {}


def _read_lock(root: Path) -> dict[str, _Stage]:
    path = root / LOCK
    if not path.is_file():
        raise InputError(f"{LOCK} does not exist; run 'dvc repro' first")
    try:
        document = parse_yaml(path.read_bytes(), LOCK)
    except ManifestError as exc:
        raise InputError(str(exc)) from None
    stages = document.get("stages") if isinstance(document, Mapping) else None
    if not isinstance(stages, Mapping):
        raise InputError(f"{LOCK} has no 'stages' mapping; is it a DVC 3 lock file?")
    return {
        str(name): _Stage(str(name), entry)
        for name, entry in stages.items()
        if isinstance(entry, Mapping)
    }


def _lock_hash(stage: _Stage) -> str:
    """MD5 of the stage's lock entry, serialised canonically (key order does not matter)."""
    text = json.dumps(stage.entry, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.md5(text.encode()).hexdigest()


def _producers(stages: Mapping[str, _Stage]) -> dict[str, tuple[_Stage, str | None]]:
    """Output path -> (the stage that writes it, the md5 the lock records)."""
    produced: dict[str, tuple[_Stage, str | None]] = {}
    for stage in stages.values():
        for path, md5 in stage.files("outs"):
            produced[path] = (stage, md5)
    return produced


def _behind(start: list[_Stage], produced: Mapping[str, tuple[_Stage, str | None]]) -> list[_Stage]:
    """``start`` and every stage whose outputs they (transitively) depend on."""
    seen: dict[str, _Stage] = {}
    todo = list(start)
    while todo:
        stage = todo.pop()
        if stage.name in seen:
            continue
        seen[stage.name] = stage
        for path, _ in stage.files("deps"):
            if path in produced:
                todo.append(produced[path][0])
    return sorted(seen.values(), key=lambda s: s.name)


def _check_output(root: Path, path: str, produced: Mapping[str, tuple[_Stage, str | None]]) -> str:
    if path not in produced:
        raise InputError(
            f"{path} is not an output of any stage in {LOCK}; check model.yaml's pipeline "
            "section, or run 'dvc repro'"
        )
    stage, md5 = produced[path]
    if not (root / path).is_file():
        raise InputError(f"{path} does not exist; run 'dvc repro {stage.name}' (or 'dvc pull')")
    actual = file_md5(root / path)
    if md5 is not None and actual != md5:
        raise InputError(
            f"{path} has md5 {actual}, but {LOCK} records {md5} for stage {stage.name}: "
            f"it changed after 'dvc repro'; run 'dvc repro {stage.name}'"
        )
    return actual


def _check_up_to_date(root: Path, stages: list[_Stage]) -> None:
    """The dependencies and parameters of ``stages`` are what the lock recorded."""
    for stage in stages:
        for path, md5 in stage.files("deps"):
            target = root / path
            if md5 is None or md5.endswith(".dir") or not target.is_file():
                if not target.exists():
                    raise InputError(
                        f"{path} (a dependency of stage {stage.name}) does not exist; "
                        "run 'dvc repro'"
                    )
                continue
            if file_md5(target) != md5:
                raise InputError(
                    f"{path} changed since the last 'dvc repro' (stage {stage.name} used md5 "
                    f"{md5}); run 'dvc repro' and register its outputs"
                )
        for file, values in stage.params().items():
            current = _params_file(root, file)
            for key, locked in (values or {}).items():
                now = _dotted(current, key)
                if now != locked:
                    key, now, locked = _first_difference(key, now, locked)
                    shown = "missing" if now is _MISSING else json.dumps(now, default=str)
                    raise InputError(
                        f"{file}: {key} is {shown} but stage {stage.name} "
                        f"ran with {json.dumps(locked, default=str)}; run 'dvc repro' "
                        "before registering"
                    )


_MISSING = object()


def _first_difference(key: str, now: Any, locked: Any) -> tuple[str, Any, Any]:
    """Narrow a difference between two param sections down to the first key that differs."""
    while isinstance(now, Mapping) and isinstance(locked, Mapping):
        for part in [*locked, *(k for k in now if k not in locked)]:
            if now.get(part, _MISSING) != locked.get(part, _MISSING):
                key, now, locked = f"{key}.{part}", now.get(part, _MISSING), locked.get(part)
                break
        else:  # pragma: no cover - the mappings differ, so some key does
            break
    return key, now, locked


def _params_file(root: Path, name: str) -> Any:
    path = root / name
    if not path.is_file():
        raise InputError(f"{name} (parameters in {LOCK}) does not exist")
    data = path.read_bytes()
    try:
        return json.loads(data) if name.endswith(".json") else parse_yaml(data, name)
    except (ManifestError, ValueError) as exc:
        raise InputError(f"{name}: {exc}") from None


def _dotted(document: Any, key: str) -> Any:
    value = document
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _params(stages: list[_Stage]) -> dict[str, Any]:
    """Every stage's parameters, nested as in params.yaml (other files under their name)."""
    nested: dict[str, Any] = {}
    for stage in stages:
        for file, values in stage.params().items():
            target = nested if file == "params.yaml" else nested.setdefault(file, {})
            for key, value in (values or {}).items():
                *parents, last = key.split(".")
                node = target
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = value
    return nested


def _read_json_or_yaml(root: Path, path: str) -> Any:
    data = (root / path).read_bytes()
    try:
        return json.loads(data) if path.endswith(".json") else parse_yaml(data, path)
    except (ManifestError, ValueError) as exc:
        raise InputError(f"{path} is not valid JSON/YAML: {exc}") from None


def _numbers(document: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Numeric leaves, keys joined with '.' as ``dvc metrics show`` does; others skipped."""
    if isinstance(document, Mapping):
        for key, value in document.items():
            yield from _numbers(value, f"{prefix}{key}.")
    elif isinstance(document, int | float) and not isinstance(document, bool):
        yield prefix.rstrip("."), document


def _parity_metrics(report: Any, path: str) -> dict[str, float]:
    parity = report.get("parity") if isinstance(report, Mapping) else None
    if not isinstance(parity, Mapping) or "passed" not in parity:
        raise InputError(f"{path} is not a 'modelreg export' report (no parity section)")
    if parity["passed"] is not True:
        failures = "; ".join(str(f) for f in parity.get("failures") or ()) or "see the report"
        raise InputError(
            f"the ONNX export failed its parity check ({failures}); the version cannot be "
            f"registered until the export matches torch ({path})"
        )
    metrics = {"onnx_max_abs_diff": parity.get("max_abs_diff")}
    if parity.get("top1_agreement") is not None:
        metrics["onnx_top1_agreement"] = parity["top1_agreement"]
    if parity.get("onnx_accuracy") is not None:
        metrics["onnx_accuracy"] = parity["onnx_accuracy"]
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}


def _benchmark_metrics(report: Any, path: str) -> dict[str, float]:
    """The best ONNX Runtime configuration per batch size; ``latency_p50_ms`` at the smallest."""
    if not isinstance(report, Mapping) or not str(report.get("format", "")).startswith(
        "modelreg.benchmark/"
    ):
        raise InputError(f"{path} is not a 'modelreg benchmark' report")
    device = report.get("settings", {}).get("device", "cpu")
    rows = {
        (r["runner"], r["batch"]): r
        for r in report.get("results", ())
        if r.get("subject") == "candidate"
    }
    metrics: dict[str, float] = {}
    best = [b for b in report.get("best", ()) if b.get("subject") == "candidate"]
    for item in sorted(best, key=lambda b: b["batch"]):
        row = rows.get((item["runner"], item["batch"]))
        if row is None:
            continue
        key = f"{device}.b{row['batch']}"
        if not metrics:  # the smallest batch: what policies gate on
            metrics["latency_p50_ms"] = row["p50_ms"]
            metrics["latency_p99_ms"] = row["p99_ms"]
        metrics[f"latency_p50_ms.{key}"] = row["p50_ms"]
        metrics[f"latency_p95_ms.{key}"] = row["p95_ms"]
        metrics[f"latency_p99_ms.{key}"] = row["p99_ms"]
        metrics[f"throughput_per_s.{key}"] = row["throughput_per_s"]
    return metrics


def _mlflow(root: Path, path: str) -> MlflowRun | None:
    run = _read_json_or_yaml(root, path)
    if not isinstance(run, Mapping) or not run.get("mlflow_run_id"):
        return None
    return MlflowRun(
        run_id=str(run["mlflow_run_id"]),
        # Without credentials, and relative to the repository when the store is inside it.
        tracking_uri=lineage_tracking_uri(
            str(run["mlflow_tracking_uri"]) if run.get("mlflow_tracking_uri") else None, root
        ),
        experiment_id=(
            str(run["mlflow_experiment_id"]) if run.get("mlflow_experiment_id") else None
        ),
    )


def read_pipeline(root: Path, name: str, config: Mapping[str, Any]) -> PipelineOutputs:
    """Gather and check the outputs ``config`` (model.yaml's ``pipeline``) names."""
    if not config:
        raise InputError(
            f"registry/{name}/model.yaml has no 'pipeline' section; add one naming the "
            "training stage and its outputs (docs/registry-format.md, 'pipeline')"
        )
    stages = _read_lock(root)
    train_name = config["stage"]
    if train_name not in stages:
        raise InputError(
            f"{LOCK} has no stage {train_name!r} (model.yaml's pipeline.stage); "
            f"run 'dvc repro {train_name}'"
        )
    produced = _producers(stages)

    outputs = [config["weights"]]
    for key in ("onnx", "parity", "benchmark", "run", "confusion_matrix"):
        if config.get(key):
            outputs.append(config[key])
    outputs += list(config.get("metrics") or ())
    hashes = {path: _check_output(root, path, produced) for path in outputs}
    behind = _behind([stages[train_name]] + [produced[p][0] for p in outputs], produced)
    _check_up_to_date(root, behind)

    metrics: dict[str, float] = {}
    for path in config.get("metrics") or ():
        metrics.update(_numbers(_read_json_or_yaml(root, path)))
    if config.get("parity"):
        parity = config["parity"]
        metrics.update(_parity_metrics(_read_json_or_yaml(root, parity), parity))
    elif config.get("onnx"):
        raise InputError(
            f"model.yaml's pipeline names an ONNX file but no parity report; an export is "
            f"registered only with its parity check (add pipeline.parity for {name})"
        )
    if config.get("benchmark"):
        metrics.update(
            _benchmark_metrics(_read_json_or_yaml(root, config["benchmark"]), config["benchmark"])
        )
    if config.get("onnx"):
        metrics["model_size_bytes"] = (root / config["onnx"]).stat().st_size
    extra: dict[str, Path] = {}
    if config.get("confusion_matrix"):
        image = config["confusion_matrix"]
        with (root / image).open("rb") as handle:
            if handle.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
                raise InputError(
                    f"{image} (model.yaml's pipeline.confusion_matrix) is not a PNG image; "
                    "save the plot as PNG"
                )
        extra["confusion_matrix"] = root / image

    data = list(config.get("data") or ())
    if not data:  # by default: the training stage's inputs that another stage produced
        data = [p for p, _ in stages[train_name].files("deps") if p in produced]
    data_md5 = [_check_output(root, p, produced) if p not in hashes else hashes[p] for p in data]
    data_hash = None
    if len(data_md5) == 1:
        data_hash = data_md5[0]
    elif data_md5:
        listing = "".join(f"{m}  {p}\n" for p, m in sorted(zip(data, data_md5, strict=True)))
        data_hash = hashlib.md5(listing.encode()).hexdigest()

    lineage = Lineage(
        dvc_stage=train_name,
        dvc_lock_hash=_lock_hash(stages[train_name]),
        data_hash=data_hash,
        mlflow=_mlflow(root, config["run"]) if config.get("run") else None,
    )
    return PipelineOutputs(
        weights=root / config["weights"],
        onnx=root / config["onnx"] if config.get("onnx") else None,
        metrics=check_metrics(metrics, f"{name} pipeline metric"),
        params=_params(behind),
        lineage=lineage,
        extra=extra,
    )
