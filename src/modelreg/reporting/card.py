"""``modelreg card REF``: a version's model card, built from the registry's files.

The card gathers what the registry already records about one version: model.yaml's
``card:`` section (intended use, data, limitations), the version manifest (metrics,
per-class figures, benchmark latencies, signature, lineage, artifacts), the stage
pointers' history, and two files the manifest names by hash: the ONNX model (its
parameter count and operators) and the ``confusion_matrix`` image the pipeline drew.
Those two are read through :func:`~modelreg.artifacts.pull.verified_bytes` (the
working tree, the DVC cache or, unless ``fetch`` is off, the DVC remote), checked
against their md5; when one cannot be had, the card says so and why.

One :class:`ModelCard`, four renderings, each escaping for its own output: Markdown
with Hugging Face front matter (:meth:`ModelCard.markdown`; ``yaml.safe_dump``, and
:mod:`modelreg.core.escape` for the text), a compact Markdown block for pull requests
(:meth:`ModelCard.compact_markdown`), one self-contained HTML page
(:meth:`ModelCard.html`), a CycloneDX 1.6 ML-BOM (:meth:`ModelCard.cyclonedx`), and
the ``modelreg.card/1`` JSON document (:meth:`ModelCard.to_json`). Nothing here prints.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from modelreg import __version__
from modelreg.artifacts.onnx_info import OnnxSummary, summarize_onnx
from modelreg.artifacts.pull import verified_bytes
from modelreg.core.errors import ModelregError
from modelreg.core.escape import html_text, markdown_cell, markdown_code, markdown_text
from modelreg.core.layout import model_manifest_path, version_path
from modelreg.core.model import (
    Artifact,
    Model,
    ModelVersion,
    TensorSpec,
    author_name,
    format_timestamp,
)
from modelreg.core.refs import parse_ref
from modelreg.core.registry import Registry, VersionStatus
from modelreg.reporting.history import StageChange, stage_history

__all__ = [
    "CONFUSION_MATRIX",
    "FORMATS",
    "BenchmarkRow",
    "Figure",
    "ModelCard",
    "OnnxFacts",
    "build_card",
    "model_card",
]

FORMATS = ("markdown", "html", "json", "cyclonedx")
CONFUSION_MATRIX = "confusion_matrix"
"""The artifact name of the evaluation's confusion-matrix image (a PNG)."""

CYCLONEDX_SCHEMA = "http://cyclonedx.org/schema/bom-1.6.schema.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_IMAGE_BYTES = 8 << 20  # a confusion matrix is tens of kilobytes
_OPERATORS_SHOWN = 40
_CHANGES_SHOWN = 50
_BENCHMARK = re.compile(
    r"(latency_p50_ms|latency_p95_ms|latency_p99_ms|throughput_per_s)\.([A-Za-z0-9_-]+)\.b([0-9]+)"
)
_PER_CLASS = re.compile(r"per_class\.(.+)\.([^.]+)")
# Figures of the running model rather than of its answers: shown with the benchmark.
_SYSTEM = re.compile(r"(latency_|throughput_)|model_size_bytes\Z")
# The lines a card's text blocks are split into paragraphs at.
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def _is_png(data: bytes) -> bool:
    """The PNG signature, then the IHDR chunk every PNG starts with."""
    return data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"


# --- the card ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OnnxFacts:
    """The version's ONNX model in figures, or why they are not available."""

    artifact: Artifact | None
    summary: OnnxSummary | None
    note: str = ""


@dataclass(frozen=True)
class Figure:
    """An image the version records (the confusion matrix): its PNG bytes, or why not."""

    artifact: Artifact
    png: bytes | None
    note: str = ""


@dataclass(frozen=True)
class BenchmarkRow:
    """One device and batch size of the benchmark (the best ONNX Runtime configuration)."""

    device: str
    batch: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    throughput_per_s: float | None


@dataclass(frozen=True)
class ModelCard:
    """Everything a model card shows about one version, read from the registry."""

    model: Model
    version: ModelVersion
    status: VersionStatus | None
    onnx: OnnxFacts
    confusion_matrix: Figure | None
    history: tuple[StageChange, ...] | None
    """The stage and alias changes that moved this version, newest first; None when
    they were not read (the compact card)."""
    history_note: str = ""
    commit: str = ""
    """The registry commit the card was built at (HEAD of the working tree)."""

    # --- the figures, sorted by kind ----------------------------------------------------

    @property
    def ref(self) -> str:
        return self.version.ref

    def text(self, field: str) -> str:
        value = self.model.card.get(field)
        return value.strip() if isinstance(value, str) else ""

    @property
    def splits(self) -> dict[str, int]:
        value = self.model.card.get("data_splits")
        return {str(k): int(v) for k, v in value.items()} if isinstance(value, Mapping) else {}

    @property
    def evaluation(self) -> dict[str, float]:
        """The metrics of the model's answers (accuracy, F1, loss...), by name."""
        return {
            name: value
            for name, value in sorted(self.version.metrics.items())
            if not _PER_CLASS.fullmatch(name)
            and not _BENCHMARK.fullmatch(name)
            and not _SYSTEM.match(name)
            and not name.startswith("onnx_")
        }

    @property
    def per_class(self) -> dict[str, dict[str, float]]:
        """``per_class.<class>.<metric>`` metrics, as class -> metric -> value."""
        found: dict[str, dict[str, float]] = {}
        for name, value in self.version.metrics.items():
            match = _PER_CLASS.fullmatch(name)
            if match:
                found.setdefault(match.group(1), {})[match.group(2)] = value
        return dict(sorted(found.items(), key=lambda item: _class_order(item[0])))

    @property
    def benchmark(self) -> list[BenchmarkRow]:
        """``latency_pNN_ms.<device>.b<N>`` and ``throughput_per_s...`` as table rows."""
        cells: dict[tuple[str, int], dict[str, float]] = {}
        for name, value in self.version.metrics.items():
            match = _BENCHMARK.fullmatch(name)
            if match:
                key = (match.group(2), int(match.group(3)))
                cells.setdefault(key, {})[match.group(1)] = value
        return [
            BenchmarkRow(
                device,
                batch,
                row.get("latency_p50_ms"),
                row.get("latency_p95_ms"),
                row.get("latency_p99_ms"),
                row.get("throughput_per_s"),
            )
            for (device, batch), row in sorted(cells.items())
        ]

    @property
    def system(self) -> dict[str, float]:
        """Latency at the smallest batch and the ONNX file's size."""
        return {
            name: value
            for name, value in sorted(self.version.metrics.items())
            if _SYSTEM.match(name) and not _BENCHMARK.fullmatch(name)
        }

    @property
    def parity(self) -> dict[str, float]:
        """The ONNX export's agreement with the trained model (``onnx_*``)."""
        return {
            name: value
            for name, value in sorted(self.version.metrics.items())
            if name.startswith("onnx_")
        }

    def missing_fields(self) -> list[str]:
        """The card fields ``validate`` asks of a production model, where empty."""
        return [f for f in ("intended_use", "limitations") if not self.text(f)]

    # --- renderings --------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """``modelreg card --format json``: the card's content as data."""
        version, model = self.version, self.model
        status = self.status
        onnx = self.onnx
        summary = onnx.summary
        figure = self.confusion_matrix
        return {
            "format": "modelreg.card/1",
            "ref": version.ref,
            "model": model.name,
            "version": version.version,
            "commit": self.commit or None,
            "description": model.description or None,
            "version_description": version.description or None,
            "task": model.task,
            "owners": list(model.owners),
            "license": self.text("license") or None,
            "contact": self.text("contact") or None,
            "tags": dict(model.tags),
            "version_tags": dict(version.tags),
            "created": format_timestamp(version.created),
            "author": version.author or None,
            "status": {
                "stages": list(status.stages) if status else [],
                "aliases": list(status.aliases) if status else [],
                "canary_in": list(status.canary_in) if status else [],
                "archived": bool(status and status.archived),
                "deprecated": version.deprecated,
                "deprecation_reason": (
                    version.deprecation.reason or None if version.deprecation else None
                ),
            },
            "intended_use": self.text("intended_use") or None,
            "out_of_scope_use": self.text("out_of_scope_use") or None,
            "training_data": {
                "description": self.text("training_data") or None,
                "evaluation_data": self.text("evaluation_data") or None,
                "dataset": self.text("dataset") or None,
                "source": self.text("data_source") or None,
                "data_hash": version.lineage.data_hash,
                "splits": self.splits,
            },
            "architecture": {
                "available": summary is not None,
                "note": onnx.note or None,
                "onnx": onnx.artifact.path if onnx.artifact else None,
                "parameters": summary.parameters if summary else None,
                "operators": dict(summary.operators) if summary else None,
                "opset": summary.opset if summary else None,
                "ir_version": summary.ir_version if summary else None,
                "producer": (summary.producer or None) if summary else None,
                "signature": version.signature.to_document() if version.signature else None,
            },
            "performance": {
                "metrics": self.evaluation,
                "per_class": self.per_class,
                "benchmark": [
                    {
                        "device": row.device,
                        "batch": row.batch,
                        "p50_ms": row.p50_ms,
                        "p95_ms": row.p95_ms,
                        "p99_ms": row.p99_ms,
                        "throughput_per_s": row.throughput_per_s,
                    }
                    for row in self.benchmark
                ],
                "system": self.system,
                "onnx_parity": self.parity,
                "confusion_matrix": (
                    {
                        "path": figure.artifact.path,
                        "md5": figure.artifact.md5,
                        "available": figure.png is not None,
                        "note": figure.note or None,
                    }
                    if figure
                    else None
                ),
            },
            "limitations": self.text("limitations") or None,
            "ethical_considerations": self.text("ethical_considerations") or None,
            "lineage": version.lineage.to_document(),
            "artifacts": [a.to_document() for a in version.artifacts],
            "stage_history": (
                [c.to_json() for c in self.history] if self.history is not None else None
            ),
        }

    def markdown(self) -> str:
        """The card as Markdown, with Hugging Face model-card front matter."""
        return _render_markdown(self)

    def compact_markdown(self) -> str:
        """A short Markdown form for a pull request: a collapsed block with the card's
        key facts (no front matter, no headings, nothing fetched)."""
        return _render_compact(self)

    def html(self, *, back: str | None = None) -> str:
        """The card as one self-contained HTML page (inline CSS, no script); ``back``
        is a relative link shown as the way back (the dashboard's page)."""
        return _render_html(self, back)

    def front_matter(self) -> dict[str, Any]:
        """Hugging Face model-card metadata, ``model-index`` with the evaluation results."""
        return _front_matter(self)

    def cyclonedx(
        self, *, serial: uuid.UUID | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """The card as a CycloneDX 1.6 ML-BOM: one ``machine-learning-model`` component
        with its ``modelCard``, its artifacts as files, its lineage as properties."""
        return _cyclonedx(self, serial or uuid.uuid4(), now or datetime.now(UTC))


# --- building ----------------------------------------------------------------------------


def model_card(ref: str, repo: str | Path | None = None, *, fetch: bool = True) -> ModelCard:
    """The model card of the version ``ref`` names, in the working tree's registry.

    The ONNX file and the confusion-matrix image come from the working tree or the
    DVC cache and, with ``fetch``, from the DVC remote; verified by md5 either way.
    """
    parse_ref(ref)  # a malformed reference is one line before anything is read
    with Registry.open(repo) as registry:
        version = registry.resolve(ref).version
        return build_card(registry, version, fetch=fetch)


def build_card(
    registry: Registry,
    version: ModelVersion,
    *,
    fetch: bool = True,
    artifacts: bool = True,
    history: Sequence[StageChange] | None = None,
    read_history: bool = True,
    model: Model | None = None,
) -> ModelCard:
    """The card of ``version``. ``artifacts=False`` reads no file the manifest names
    (the ONNX facts and the image say so); ``history`` passes a model's stage changes
    already read (the dashboard's), ``read_history=False`` leaves them out."""
    name = version.model
    model = model if model is not None else registry.model(name)
    status = registry.status(name).get(version.version)
    onnx_artifact = next((a for a in version.artifacts if a.format == "onnx"), None)
    if not artifacts:
        onnx = OnnxFacts(onnx_artifact, None, "not read for this summary")
        figure_artifact = version.artifact(CONFUSION_MATRIX)
        figure = Figure(figure_artifact, None, "not read") if figure_artifact else None
    else:
        onnx = _onnx_facts(registry.root, version, onnx_artifact, fetch)
        figure = _figure(registry.root, version, fetch)
    changes: tuple[StageChange, ...] | None = None
    note = ""
    if history is not None:
        changes = _touching(history, version.version)
    elif read_history:
        try:
            changes = _touching(stage_history(registry, name), version.version)
        except ModelregError as error:
            changes, note = (), f"the stage history could not be read: {error}"
    commit = ""
    with contextlib.suppress(ModelregError):  # no commit yet: the card names none
        commit = registry.git.head_commit() or ""
    return ModelCard(model, version, status, onnx, figure, changes, note, commit)


def _touching(changes: Iterable[StageChange], number: int) -> tuple[StageChange, ...]:
    return tuple(c for c in changes if number in (c.to_version, c.from_version))


def _verified(root: Path, version: ModelVersion, artifact: Artifact, fetch: bool) -> bytes:
    data, _ = verified_bytes(root, version, artifact, fetch=fetch)
    return data


def _onnx_facts(
    root: Path, version: ModelVersion, artifact: Artifact | None, fetch: bool
) -> OnnxFacts:
    if artifact is None:
        return OnnxFacts(None, None, "the version records no ONNX file")
    if artifact.is_directory:
        return OnnxFacts(artifact, None, f"{artifact.path} is a folder, not one ONNX file")
    try:
        data = _verified(root, version, artifact, fetch)
        return OnnxFacts(artifact, summarize_onnx(data, f"{version.ref} {artifact.path}"))
    except (ModelregError, OSError) as error:  # OSError: a cache or remote that fails to read
        hint = "" if fetch else "; 'modelreg pull' fetches it"
        return OnnxFacts(artifact, None, f"not available: {error}{hint}")


def _figure(root: Path, version: ModelVersion, fetch: bool) -> Figure | None:
    artifact = version.artifact(CONFUSION_MATRIX)
    if artifact is None:
        return None
    if artifact.is_directory or artifact.size > _MAX_IMAGE_BYTES:
        return Figure(artifact, None, f"{artifact.path} is not an image of at most 8 MiB")
    try:
        data = _verified(root, version, artifact, fetch)
    except (ModelregError, OSError) as error:
        return Figure(artifact, None, f"not available: {error}")
    if not _is_png(data):
        return Figure(artifact, None, f"{artifact.path} is not a PNG image; it is not shown")
    return Figure(artifact, data)


# --- text helpers ------------------------------------------------------------------------


def _class_order(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _shape(spec: TensorSpec) -> str:
    dims = ", ".join("?" if d == -1 else str(d) for d in spec.shape)
    return f"{spec.dtype}[{dims}]"


def _flat(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            items += _flat(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _status_text(card: ModelCard) -> str:
    status, version = card.status, card.version
    parts: list[str] = []
    if status is not None:
        parts += list(status.stages)
        parts += [f"canary in {s}" for s in status.canary_in]
        parts += [f"@{a}" for a in status.aliases]
        if status.archived:
            parts.append("archived")
    if version.deleted:
        parts.append("deleted")
    elif version.deprecation:
        reason = f" ({version.deprecation.reason})" if version.deprecation.reason else ""
        parts.append(f"deprecated{reason}")
    return ", ".join(parts) or "no stage"


def _missing(card: ModelCard, field: str) -> str:
    return f"Not stated: add card.{field} to {model_manifest_path(card.model.name)}."


def _task_name(task: str) -> str:
    return " ".join(word.capitalize() for word in task.split("-"))


def _change_text(change: StageChange) -> tuple[str, str]:
    where = ("@" if change.is_alias else "") + change.stage
    before = f"v{change.from_version}" if change.from_version else "—"
    after = f"v{change.to_version}" if change.to_version else "cleared"
    return where, f"{before} → {after}"


# --- Markdown ----------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    """Free text as Markdown paragraphs: each escaped, line breaks within one joined."""
    return [markdown_text(p) for p in _PARAGRAPH.split(text.strip()) if p.strip()]


def _md_block(card: ModelCard, field: str, heading: str) -> list[str]:
    text = card.text(field)
    body = _paragraphs(text) if text else [markdown_text(_missing(card, field))]
    return [heading, "", *"\n\n".join(body).split("\n"), ""]


def _md_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table; every cell is given already escaped (:func:`markdown_cell`)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _front_matter(card: ModelCard) -> dict[str, Any]:
    model = card.model
    dataset = _one_line(card.text("dataset"))
    metrics = card.evaluation
    result: dict[str, Any] = {
        "task": {
            "type": model.task or "other",
            "name": _task_name(model.task) if model.task else "Other",
        },
        "dataset": {
            "type": dataset or "custom",
            "name": dataset or f"{model.name} evaluation data",
        },
        "metrics": [
            {"type": name, "value": value, "name": name, "verified": False}
            for name, value in metrics.items()
        ],
    }
    if "test" in card.splits:
        result["dataset"]["split"] = "test"
    front: dict[str, Any] = {}
    if card.text("license"):
        front["license"] = _one_line(card.text("license"))
    if card.onnx.artifact is not None:
        front["library_name"] = "onnx"
    if model.task:
        front["pipeline_tag"] = model.task
    front["tags"] = ["modelreg", *sorted({_one_line(v) for v in model.tags.values() if v.strip()})]
    if dataset:
        front["datasets"] = [dataset]
    if metrics:
        front["metrics"] = list(metrics)
    front["model-index"] = [{"name": model.name, "results": [result] if metrics else []}]
    return front


def _yaml_front_matter(front: Mapping[str, Any]) -> str:
    import yaml

    # safe_dump quotes whatever needs it; non-ASCII is written as \u escapes, so no
    # control, bidirectional or line-separator character reaches the file as itself.
    text = yaml.safe_dump(dict(front), sort_keys=False, allow_unicode=False, width=1000)
    if any(line.rstrip() in ("---", "...") for line in text.splitlines()):  # pragma: no cover
        raise ValueError("front matter would close itself")  # labels are one line: cannot
    return text


def _render_markdown(card: ModelCard) -> str:
    model, version = card.model, card.version
    out = ["---", _yaml_front_matter(card.front_matter()).rstrip("\n"), "---", ""]
    out += [f"# Model card: {markdown_text(model.name)} v{version.version}", ""]
    if model.description.strip():
        out += ["\n\n".join(_paragraphs(model.description)), ""]
    facts = [
        ("Reference", markdown_code(version.ref)),
        ("Status", markdown_cell(_status_text(card))),
        ("This version", markdown_cell(version.description) if version.description else "—"),
        ("Registered", markdown_cell(f"{format_timestamp(version.created)} by {version.author}")),
        ("Task", markdown_cell(model.task or "—")),
        ("Owners", markdown_cell(", ".join(model.owners) or "—")),
        ("License", markdown_cell(card.text("license") or "—")),
        ("Contact", markdown_cell(card.text("contact") or "—")),
    ]
    if model.tags:
        facts.append(
            ("Tags", markdown_cell(", ".join(f"{k}={v}" for k, v in sorted(model.tags.items()))))
        )
    out += _md_table(["", ""], [[f"**{label}**", value] for label, value in facts])
    out += _md_block(card, "intended_use", "## Intended use")
    if card.text("out_of_scope_use"):
        out += _md_block(card, "out_of_scope_use", "### Out of scope")
    out += _md_training(card)
    out += _md_architecture(card)
    out += _md_performance(card)
    out += _md_block(card, "limitations", "## Limitations and biases")
    if card.text("ethical_considerations"):
        out += _md_block(card, "ethical_considerations", "### Ethical considerations")
    out += _md_lineage(card)
    out += _md_history(card)
    commit = f" at commit {markdown_code(card.commit[:12])}" if card.commit else ""
    out += [f"_Built by modelreg {__version__} from the registry{commit}._", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _md_training(card: ModelCard) -> list[str]:
    out = _md_block(card, "training_data", "## Training data")
    rows = [
        ["Dataset", markdown_cell(card.text("dataset") or "—")],
        ["Source", markdown_cell(card.text("data_source") or "—")],
        [
            "Data hash",
            markdown_code(card.version.lineage.data_hash)
            if card.version.lineage.data_hash
            else "—",
        ],
    ]
    rows += [[f"Split: {markdown_cell(k)}", _number(v)] for k, v in card.splits.items()]
    out += _md_table(["", ""], rows)
    if card.text("evaluation_data"):
        out += ["**Evaluation data:** " + " ".join(_paragraphs(card.text("evaluation_data"))), ""]
    return out


def _md_architecture(card: ModelCard) -> list[str]:
    out = ["## Architecture", ""]
    summary = card.onnx.summary
    if summary is not None and card.onnx.artifact is not None:
        opset = f", opset {summary.opset}" if summary.opset else ""
        producer = f", exported by {summary.producer}" if summary.producer else ""
        out += [
            markdown_text(
                f"{summary.parameters:,} parameters; {sum(n for _, n in summary.operators):,} "
                f"nodes of {len(summary.operators)} operator types (ONNX IR "
                f"{summary.ir_version}{opset}{producer})."
            ),
            "",
        ]
        shown = summary.operators[:_OPERATORS_SHOWN]
        out += _md_table(["operator", "nodes"], [[markdown_cell(o), str(n)] for o, n in shown])
        if len(summary.operators) > len(shown):
            out += [f"and {len(summary.operators) - len(shown)} more operator types", ""]
    else:
        out += [markdown_text(f"ONNX figures: {card.onnx.note}"), ""]
    signature = card.version.signature
    if signature is None:
        out += ["The version records no input/output signature.", ""]
        return out
    rows = [
        [kind, markdown_cell(t.name), markdown_cell(_shape(t))]
        for kind, specs in (("input", signature.inputs), ("output", signature.outputs))
        for t in specs
    ]
    out += _md_table(["", "tensor", "type and shape"], rows)
    if signature.classes:
        classes = ", ".join(signature.classes)
        out += [f"**Classes ({len(signature.classes)}):** {markdown_text(classes)}", ""]
    return out


def _md_performance(card: ModelCard) -> list[str]:
    out = ["## Performance", ""]
    evaluation = card.evaluation
    if evaluation:
        rows = [[markdown_cell(k), _number(v)] for k, v in evaluation.items()]
        out += _md_table(["metric", "value"], rows)
    else:
        out += ["No evaluation metrics are recorded.", ""]
    per_class = card.per_class
    if per_class:
        names = list(dict.fromkeys(m for values in per_class.values() for m in values))
        rows = [
            [markdown_cell(_class_label(card, c)), *(_number(v.get(m)) for m in names)]
            for c, v in per_class.items()
        ]
        out += ["### Per class", "", *_md_table(["class", *map(markdown_cell, names)], rows)]
    figure = card.confusion_matrix
    if figure is not None:
        shown = "; the HTML card shows it" if figure.png is not None else f" ({figure.note})"
        out += [
            "### Confusion matrix",
            "",
            f"Recorded as {markdown_code(figure.artifact.path)} (md5 "
            f"{markdown_code(figure.artifact.md5)}){markdown_text(shown)}.",
            "",
        ]
    benchmark = card.benchmark
    if benchmark:
        rows = [
            [
                markdown_cell(r.device),
                str(r.batch),
                _number(r.p50_ms),
                _number(r.p95_ms),
                _number(r.p99_ms),
                _number(r.throughput_per_s),
            ]
            for r in benchmark
        ]
        columns = ["device", "batch", "p50 ms", "p95 ms", "p99 ms", "per second"]
        out += ["### Benchmark", "", *_md_table(columns, rows)]
    if card.system:
        rows = [[markdown_cell(k), _number(v)] for k, v in card.system.items()]
        out += ([] if benchmark else ["### Benchmark", ""]) + _md_table(["figure", "value"], rows)
    if card.parity:
        rows = [[markdown_cell(k), _number(v)] for k, v in card.parity.items()]
        out += ["### ONNX export parity", "", *_md_table(["check", "value"], rows)]
    return out


def _class_label(card: ModelCard, key: str) -> str:
    classes = card.version.signature.classes if card.version.signature else ()
    if key.isdigit() and int(key) < len(classes) and classes[int(key)] != key:
        return f"{key} ({classes[int(key)]})"
    return key


def _lineage_rows(card: ModelCard) -> list[tuple[str, str]]:
    lineage = card.version.lineage
    rows: list[tuple[str, str]] = []
    if lineage.git_commit:
        dirty = " (with uncommitted changes)" if lineage.git_dirty else ""
        rows.append(("Code commit", lineage.git_commit + dirty))
    if lineage.dvc_stage:
        rows.append(("DVC stage", lineage.dvc_stage))
    if lineage.dvc_lock_hash:
        rows.append(("DVC lock entry (md5)", lineage.dvc_lock_hash))
    if lineage.data_hash:
        rows.append(("Data hash", lineage.data_hash))
    if lineage.mlflow:
        rows.append(("MLflow run", lineage.mlflow.run_id))
        if lineage.mlflow.experiment_id:
            rows.append(("MLflow experiment", lineage.mlflow.experiment_id))
        if lineage.mlflow.tracking_uri:
            rows.append(("MLflow tracking URI", lineage.mlflow.tracking_uri))
    return rows


def _md_lineage(card: ModelCard) -> list[str]:
    out = ["## Lineage", ""]
    rows = _lineage_rows(card)
    if rows:
        out += _md_table(["", ""], [[label, markdown_code(value)] for label, value in rows])
    else:
        out += ["The version records no lineage.", ""]
    params = _flat(card.version.lineage.params)
    if params:
        rows2 = [[markdown_cell(k), markdown_cell(_value_text(v))] for k, v in params]
        out += ["### Parameters", "", *_md_table(["parameter", "value"], rows2)]
    artifacts = [
        [
            markdown_cell(a.name),
            markdown_cell(a.format),
            _number(a.size),
            markdown_code(a.md5),
            markdown_code(a.path),
        ]
        for a in card.version.artifacts
    ]
    out += ["### Artifacts", "", *_md_table(["name", "format", "bytes", "md5", "path"], artifacts)]
    return out


def _md_history(card: ModelCard) -> list[str]:
    out = ["## Stage history", ""]
    if card.history is None:
        return []
    if card.history_note:
        return [*out, markdown_text(card.history_note), ""]
    if not card.history:
        return [*out, f"v{card.version.version} has never held a stage or alias.", ""]
    rows = []
    for change in card.history[:_CHANGES_SHOWN]:
        where, moved = _change_text(change)
        rows.append(
            [
                change.date.strftime("%Y-%m-%d %H:%M"),
                markdown_cell(where),
                moved,
                markdown_cell(change.kind),
                markdown_cell(author_name(change.author)),
                markdown_code(change.commit[:10]),
                f"#{change.pr}" if change.pr else "",
                markdown_cell(change.reason),
            ]
        )
    columns = ["date (UTC)", "stage", "change", "kind", "by", "commit", "PR", "reason"]
    return [*out, *_md_table(columns, rows)]


def _render_compact(card: ModelCard) -> str:
    version, lineage = card.version, card.version.lineage

    def fact(label: str, field: str) -> str:
        text = card.text(field)
        shown = markdown_text(text) if text else f"_{markdown_text(_missing(card, field))}_"
        return f"- **{label}:** {shown}"

    data = [markdown_text(card.text("training_data"))] if card.text("training_data") else []
    if lineage.data_hash:
        data.append(f"data hash {markdown_code(lineage.data_hash)}")
    if card.splits:
        data.append(
            "splits " + markdown_text(", ".join(f"{k} {v:,}" for k, v in card.splits.items()))
        )
    metrics = ", ".join(f"{k} {_number(v)}" for k, v in list(card.evaluation.items())[:8])
    code = []
    if lineage.git_commit:
        code.append(f"code {markdown_code(lineage.git_commit[:12])}")
    if lineage.dvc_stage:
        code.append(f"DVC stage {markdown_code(lineage.dvc_stage)}")
    if lineage.mlflow:
        code.append(f"MLflow run {markdown_code(lineage.mlflow.run_id)}")
    signature = ""
    if version.signature:
        inputs = ", ".join(f"{t.name} {_shape(t)}" for t in version.signature.inputs)
        outputs = ", ".join(f"{t.name} {_shape(t)}" for t in version.signature.outputs)
        classes = f"; {len(version.signature.classes)} classes" if version.signature.classes else ""
        signature = markdown_text(f"{inputs} → {outputs}{classes}")
    lines = [
        "<details>",
        f"<summary>Model card of {html_text(version.ref)}</summary>",
        "",
        fact("Intended use", "intended_use"),
        fact("Limitations", "limitations"),
        f"- **Training data:** {' · '.join(data) or '_not described_'}",
        f"- **Evaluation:** {markdown_text(metrics) if metrics else '_no metrics recorded_'}",
        f"- **Lineage:** {' · '.join(code) or '_none recorded_'}",
    ]
    if signature:
        lines.append(f"- **Signature:** {signature}")
    lines += [
        "",
        f"The full card: {markdown_code('modelreg card ' + version.ref)}.",
        "</details>",
        "",
    ]
    return "\n".join(lines)


# --- HTML --------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return (resources.files("modelreg") / "web" / name).read_text(encoding="utf-8")


def _html_text_block(card: ModelCard, field: str) -> str:
    text = card.text(field)
    if not text:
        return f'<p class="missing">{html_text(_missing(card, field))}</p>'
    return "".join(f'<p class="text">{html_text(p.strip())}</p>' for p in _PARAGRAPH.split(text))


def _html_table(columns: Sequence[str], rows: Iterable[Sequence[str]], numeric: int = 0) -> str:
    """A table whose cells are given already escaped; the last ``numeric`` columns align
    right."""
    first = len(columns) - numeric

    def cell(tag: str, index: int, value: str) -> str:
        kind = ' class="num"' if index >= first else ""
        return f"<{tag}{kind}>{value}</{tag}>"

    head = "".join(cell("th", i, html_text(c)) for i, c in enumerate(columns))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_facts(rows: Iterable[tuple[str, str]]) -> str:
    return (
        '<table class="facts"><tbody>'
        + "".join(f"<tr><th>{html_text(k)}</th><td>{v}</td></tr>" for k, v in rows)
        + "</tbody></table>"
    )


def _render_html(card: ModelCard, back: str | None) -> str:
    model, version = card.model, card.version
    e = html_text
    facts = [
        ("Reference", f"<code>{e(version.ref)}</code>"),
        ("Status", e(_status_text(card))),
        ("This version", e(version.description) if version.description else "—"),
        ("Registered", e(f"{format_timestamp(version.created)} by {version.author}")),
        ("Task", e(model.task or "—")),
        ("Owners", e(", ".join(model.owners) or "—")),
        ("License", e(card.text("license") or "—")),
        ("Contact", e(card.text("contact") or "—")),
    ]
    if model.tags:
        facts.append(("Tags", e(", ".join(f"{k}={v}" for k, v in sorted(model.tags.items())))))
    description = (
        "".join(f'<p class="text">{e(p.strip())}</p>' for p in _PARAGRAPH.split(model.description))
        if model.description.strip()
        else ""
    )
    sections = [
        f'<section id="summary">{description}{_html_facts(facts)}</section>',
        '<section id="intended-use"><h2>Intended use</h2>'
        + _html_text_block(card, "intended_use")
        + (
            "<h3>Out of scope</h3>" + _html_text_block(card, "out_of_scope_use")
            if card.text("out_of_scope_use")
            else ""
        )
        + "</section>",
        _html_training(card),
        _html_architecture(card),
        _html_performance(card),
        '<section id="limitations"><h2>Limitations and biases</h2>'
        + _html_text_block(card, "limitations")
        + (
            "<h3>Ethical considerations</h3>" + _html_text_block(card, "ethical_considerations")
            if card.text("ethical_considerations")
            else ""
        )
        + "</section>",
        _html_lineage(card),
        _html_history(card),
    ]
    nav = f'<a href="{e(back)}">← all models</a>' if back else ""
    commit = f" · registry commit <code>{e(card.commit[:12])}</code>" if card.commit else ""
    return _asset("card.html").format(
        css=_asset("dashboard.css") + _asset("card.css"),
        title=e(f"{version.ref} model card"),
        heading=f"{e(model.name)} <span>v{version.version}</span>",
        meta=f"model card · modelreg {e(__version__)}{commit}",
        nav=nav,
        body="\n".join(sections),
    )


def _html_training(card: ModelCard) -> str:
    e = html_text
    data_hash = card.version.lineage.data_hash
    rows = [
        ("Dataset", e(card.text("dataset") or "—")),
        ("Source", e(card.text("data_source") or "—")),
        ("Data hash", f"<code>{e(data_hash)}</code>" if data_hash else "—"),
    ]
    rows += [(f"Split: {k}", e(_number(v))) for k, v in card.splits.items()]
    evaluation = (
        "<h3>Evaluation data</h3>" + _html_text_block(card, "evaluation_data")
        if card.text("evaluation_data")
        else ""
    )
    return (
        '<section id="training-data"><h2>Training data</h2>'
        + _html_text_block(card, "training_data")
        + _html_facts(rows)
        + evaluation
        + "</section>"
    )


def _html_architecture(card: ModelCard) -> str:
    e = html_text
    parts = ['<section id="architecture"><h2>Architecture</h2>']
    summary = card.onnx.summary
    if summary is not None:
        parts.append(
            _html_facts(
                [
                    ("Parameters", e(f"{summary.parameters:,}")),
                    ("Nodes", e(f"{sum(n for _, n in summary.operators):,}")),
                    ("ONNX", e(f"IR {summary.ir_version}, opset {summary.opset or '?'}")),
                    ("Exported by", e(summary.producer or "—")),
                ]
            )
        )
        shown = summary.operators[:_OPERATORS_SHOWN]
        parts.append("<h3>Operators</h3>")
        parts.append(_html_table(["operator", "nodes"], [[e(o), str(n)] for o, n in shown], 1))
        if len(summary.operators) > len(shown):
            parts.append(f'<p class="note">and {len(summary.operators) - len(shown)} more</p>')
    else:
        parts.append(f'<p class="missing">{e("ONNX figures: " + card.onnx.note)}</p>')
    signature = card.version.signature
    parts.append("<h3>Signature</h3>")
    if signature is None:
        parts.append('<p class="missing">The version records no input/output signature.</p>')
    else:
        rows = [
            [kind, e(t.name), f"<code>{e(_shape(t))}</code>"]
            for kind, specs in (("input", signature.inputs), ("output", signature.outputs))
            for t in specs
        ]
        parts.append(_html_table(["", "tensor", "type and shape"], rows))
        if signature.classes:
            parts.append(
                f"<p><b>Classes ({len(signature.classes)}):</b> "
                f"{e(', '.join(signature.classes))}</p>"
            )
    parts.append("</section>")
    return "".join(parts)


def _html_performance(card: ModelCard) -> str:
    e = html_text
    parts = ['<section id="performance"><h2>Performance</h2>']
    if card.evaluation:
        rows = [[e(k), e(_number(v))] for k, v in card.evaluation.items()]
        parts.append(_html_table(["metric", "value"], rows, 1))
    else:
        parts.append('<p class="missing">No evaluation metrics are recorded.</p>')
    per_class = card.per_class
    if per_class:
        names = list(dict.fromkeys(m for values in per_class.values() for m in values))
        rows = [
            [e(_class_label(card, c)), *(e(_number(v.get(m))) for m in names)]
            for c, v in per_class.items()
        ]
        parts += [
            '<h3 id="per-class">Per class</h3>',
            _html_table(["class", *names], rows, len(names)),
        ]
    figure = card.confusion_matrix
    if figure is not None:
        parts.append('<h3>Confusion matrix</h3><figure id="confusion-matrix">')
        if figure.png is not None and _is_png(figure.png):
            encoded = base64.b64encode(figure.png).decode("ascii")
            parts.append(f'<img src="data:image/png;base64,{encoded}" alt="confusion matrix">')
            parts.append(f"<figcaption>{e(figure.artifact.path)}</figcaption>")
        else:
            parts.append(f'<p class="missing">{e(figure.note)}</p>')
        parts.append("</figure>")
    if card.benchmark:
        rows = [
            [
                e(r.device),
                str(r.batch),
                e(_number(r.p50_ms)),
                e(_number(r.p95_ms)),
                e(_number(r.p99_ms)),
                e(_number(r.throughput_per_s)),
            ]
            for r in card.benchmark
        ]
        columns = ["device", "batch", "p50 ms", "p95 ms", "p99 ms", "per second"]
        parts += ['<h3 id="benchmark">Benchmark</h3>', _html_table(columns, rows, 5)]
    if card.system:
        rows = [[e(k), e(_number(v))] for k, v in card.system.items()]
        if not card.benchmark:
            parts.append('<h3 id="benchmark">Benchmark</h3>')
        parts.append(_html_table(["figure", "value"], rows, 1))
    if card.parity:
        rows = [[e(k), e(_number(v))] for k, v in card.parity.items()]
        parts += ["<h3>ONNX export parity</h3>", _html_table(["check", "value"], rows, 1)]
    parts.append("</section>")
    return "".join(parts)


def _html_lineage(card: ModelCard) -> str:
    e = html_text
    parts = ['<section id="lineage"><h2>Lineage</h2>']
    rows = _lineage_rows(card)
    if rows:
        parts.append(_html_facts((label, f"<code>{e(value)}</code>") for label, value in rows))
    else:
        parts.append('<p class="missing">The version records no lineage.</p>')
    params = _flat(card.version.lineage.params)
    if params:
        rows2 = [[e(k), f"<code>{e(_value_text(v))}</code>"] for k, v in params]
        parts += ["<h3>Parameters</h3>", _html_table(["parameter", "value"], rows2)]
    artifacts = [
        [
            e(a.name),
            e(a.format),
            e(_number(a.size)),
            f"<code>{e(a.md5)}</code>",
            f"<code>{e(a.path)}</code>",
        ]
        for a in card.version.artifacts
    ]
    parts += [
        "<h3>Artifacts</h3>",
        _html_table(["name", "format", "bytes", "md5", "path"], artifacts),
    ]
    parts.append("</section>")
    return "".join(parts)


def _html_history(card: ModelCard) -> str:
    e = html_text
    parts = ['<section id="stage-history"><h2>Stage history</h2>']
    if card.history_note:
        parts.append(f'<p class="missing">{e(card.history_note)}</p>')
    elif not card.history:
        parts.append(
            f'<p class="missing">v{card.version.version} has never held a stage or alias.</p>'
        )
    else:
        rows = []
        for change in card.history[:_CHANGES_SHOWN]:
            where, moved = _change_text(change)
            rows.append(
                [
                    e(change.date.strftime("%Y-%m-%d %H:%M")),
                    f'<span class="tag stage">{e(where)}</span>',
                    e(moved),
                    e(change.kind),
                    e(author_name(change.author)),
                    f"<code>{e(change.commit[:10])}</code>",
                    e(f"#{change.pr}") if change.pr else "",
                    e(change.reason),
                ]
            )
        columns = ["date (UTC)", "stage", "change", "kind", "by", "commit", "PR", "reason"]
        parts.append(_html_table(columns, rows))
    parts.append("</section>")
    return "".join(parts)


# --- CycloneDX ---------------------------------------------------------------------------


def _bom_number(value: float) -> str:
    """A metric as CycloneDX writes it (a string): integers stay integers."""
    return str(value) if isinstance(value, int) else repr(float(value))


def _property(name: str, value: Any) -> dict[str, str]:
    return {"name": name, "value": _value_text(value)}


def _cyclonedx(card: ModelCard, serial: uuid.UUID, now: datetime) -> dict[str, Any]:
    """An ML-BOM per CycloneDX 1.6. Every value from the registry is a JSON string or
    number placed where the schema expects one; nothing is concatenated into syntax."""
    model, version = card.model, card.version
    lineage = version.lineage
    ref = f"{version.model}/{version.version}"
    primary = card.onnx.artifact or version.artifacts[0]
    parameters: dict[str, Any] = {}
    if model.task:
        parameters["task"] = model.task
    summary = card.onnx.summary
    if summary is not None:
        top = ", ".join(f"{op} x{n}" for op, n in summary.operators[:12])
        parameters["modelArchitecture"] = (
            f"ONNX graph (IR {summary.ir_version}, opset {summary.opset or '?'}): "
            f"{summary.parameters} parameters; {top}"
        )
    dataset: dict[str, Any] = {
        "type": "dataset",
        "name": _one_line(card.text("dataset")) or f"{model.name} training data",
    }
    data_properties = [
        _property(f"modelreg:data:{key}", value)
        for key, value in (
            ("description", card.text("training_data")),
            ("evaluation", card.text("evaluation_data")),
            ("source", card.text("data_source")),
            ("hash", lineage.data_hash or ""),
        )
        if value
    ]
    data_properties += [
        _property(f"modelreg:data:split:{split}", count) for split, count in card.splits.items()
    ]
    if data_properties:
        dataset["contents"] = {"properties": data_properties}
    parameters["datasets"] = [dataset]
    if version.signature:
        parameters["inputs"] = [
            {"format": f"{t.name}: {_shape(t)}"} for t in version.signature.inputs
        ]
        parameters["outputs"] = [
            {"format": f"{t.name}: {_shape(t)}"} for t in version.signature.outputs
        ]
    metrics: list[dict[str, str]] = [
        {"type": name, "value": _bom_number(value)} for name, value in card.evaluation.items()
    ]
    for label, values in card.per_class.items():
        metrics += [
            {
                "type": name,
                "value": _bom_number(value),
                "slice": f"class {_class_label(card, label)}",
            }
            for name, value in values.items()
        ]
    for row in card.benchmark:
        where = f"{row.device}, batch {row.batch}"
        for name, value in (
            ("latency_p50_ms", row.p50_ms),
            ("latency_p95_ms", row.p95_ms),
            ("latency_p99_ms", row.p99_ms),
            ("throughput_per_s", row.throughput_per_s),
        ):
            if value is not None:
                metrics.append({"type": name, "value": _bom_number(value), "slice": where})
    metrics += [
        {"type": name, "value": _bom_number(value)}
        for name, value in {**card.system, **card.parity}.items()
    ]
    analysis: dict[str, Any] = {}
    if metrics:
        analysis["performanceMetrics"] = metrics
    figure = card.confusion_matrix
    if figure is not None and figure.png is not None and _is_png(figure.png):
        analysis["graphics"] = {
            "collection": [
                {
                    "name": "confusion matrix",
                    "image": {
                        "contentType": "image/png",
                        "encoding": "base64",
                        "content": base64.b64encode(figure.png).decode("ascii"),
                    },
                }
            ]
        }
    considerations: dict[str, Any] = {}
    if card.text("intended_use"):
        considerations["useCases"] = [card.text("intended_use")]
    limitations = [card.text("limitations")] if card.text("limitations") else []
    if card.text("out_of_scope_use"):
        limitations.append(f"Out of scope: {card.text('out_of_scope_use')}")
    if limitations:
        considerations["technicalLimitations"] = limitations
    if card.text("ethical_considerations"):
        considerations["ethicalConsiderations"] = [{"name": card.text("ethical_considerations")}]
    model_card: dict[str, Any] = {"bom-ref": f"{ref}#model-card", "modelParameters": parameters}
    if analysis:
        model_card["quantitativeAnalysis"] = analysis
    if considerations:
        model_card["considerations"] = considerations

    properties = [_property("modelreg:ref", ref), _property("modelreg:status", _status_text(card))]
    properties += [
        _property(f"modelreg:lineage:{label.lower().replace(' ', '_')}", value)
        for label, value in _lineage_rows(card)
    ]
    properties += [
        _property(f"modelreg:param:{key}", value) for key, value in _flat(lineage.params)
    ]
    properties += [
        _property(f"modelreg:tag:{key}", value) for key, value in sorted(model.tags.items())
    ]
    for change in card.history or ():
        where, moved = _change_text(change)
        properties.append(
            _property(
                "modelreg:stage_change",
                f"{format_timestamp(change.date)} {where} {moved} {change.kind} by "
                f"{author_name(change.author)} ({change.commit[:12]})",
            )
        )
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": ref,
        "name": model.name,
        "version": str(version.version),
    }
    description = "\n\n".join(t for t in (model.description.strip(), version.description) if t)
    if description:
        component["description"] = description
    if version.author:
        component["authors"] = [{"name": author_name(version.author)}]
    if not primary.is_directory:
        component["hashes"] = [{"alg": "MD5", "content": primary.md5}]
    if card.text("license"):
        component["licenses"] = [{"license": {"name": _one_line(card.text("license"))}}]
    if lineage.git_commit:
        component["pedigree"] = {"commits": [{"uid": lineage.git_commit}]}
    component["modelCard"] = model_card
    component["components"] = [
        {
            "type": "file",
            # Numbered: validate refuses two artifacts of one name, but a card is still
            # written for such a version, and a BOM's references must be unique.
            "bom-ref": f"{ref}#{index}-{artifact.name}",
            "name": artifact.path,
            **(
                {"hashes": [{"alg": "MD5", "content": artifact.md5}]}
                if not artifact.is_directory
                else {}
            ),
            "properties": [
                _property("modelreg:artifact", artifact.name),
                _property("modelreg:format", artifact.format),
                _property("modelreg:size", artifact.size),
                *([_property("modelreg:dvc_md5", artifact.md5)] if artifact.is_directory else []),
            ],
        }
        for index, artifact in enumerate(version.artifacts, start=1)
    ]
    component["properties"] = properties
    metadata: dict[str, Any] = {
        "timestamp": now.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "tools": {
            "components": [{"type": "application", "name": "modelreg", "version": __version__}]
        },
        "properties": [_property("modelreg:manifest", version_path(version.model, version.version))]
        + ([_property("modelreg:registry_commit", card.commit)] if card.commit else []),
    }
    return {
        "$schema": CYCLONEDX_SCHEMA,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial.urn,
        "version": 1,
        "metadata": metadata,
        "components": [component],
    }
