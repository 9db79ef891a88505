"""Versions of one model side by side: metrics, params diff, artifacts, lineage.

The first version named is the baseline: every metric of the others shows its
change against it, and the best value of each metric is marked, using the
metric's direction (:func:`metric_direction`). Params show only where the
versions differ, as a review would want to read them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelreg.core.errors import InputError
from modelreg.core.escape import markdown_cell, markdown_text
from modelreg.core.model import ModelVersion, author_name
from modelreg.core.registry import Registry, VersionStatus

__all__ = [
    "Comparison",
    "Row",
    "compare_versions",
    "metric_direction",
    "render_markdown",
    "table_rows",
    "version_ref",
]

# Metric names say which way is better: checked in this order, first match wins.
_HIGHER_IS_BETTER = re.compile(
    r"(accuracy|acc\b|f1|precision|recall|auc|score|r2|agreement|throughput|per_s\b|iou|map\b)",
    re.IGNORECASE,
)
_LOWER_IS_BETTER = re.compile(
    r"(latency|loss|error|rmse|mse|mae|mape|diff|_ms\b|_ms\.|seconds|time|size|bytes|memory"
    r"|perplexity)",
    re.IGNORECASE,
)
# Per-class breakdowns make comparisons long; they are left out of the text unless asked.
_DETAIL = re.compile(r"^per_class\.")


def metric_direction(name: str) -> str | None:
    """``"higher"`` or ``"lower"``: which value of metric ``name`` is the better one;
    None for a quantity with no better side (a count, a support, a setting)."""
    if _HIGHER_IS_BETTER.search(name):
        return "higher"
    if _LOWER_IS_BETTER.search(name):
        return "lower"
    return None


@dataclass(frozen=True)
class Row:
    """One compared quantity, with a value per version (None where a version lacks it)."""

    section: str  # "version", "metrics", "params", "artifacts", "lineage"
    key: str
    values: tuple[Any, ...]
    direction: str | None = None  # metrics only: "higher" or "lower" is better
    detail: bool = False  # hidden from the text unless every row is asked for

    @property
    def differs(self) -> bool:
        return len({_hashable(v) for v in self.values}) > 1

    def deltas(self) -> tuple[float | None, ...]:
        """Relative change of each value against the first (None where undefined)."""
        base = self.values[0]
        out: list[float | None] = []
        for value in self.values:
            if _number(base) and _number(value) and base != 0:
                out.append((value - base) / abs(base))
            else:
                out.append(None)
        return tuple(out)

    def best(self) -> int | None:
        """Index of the best value of a metric, when the versions differ on it."""
        if self.direction is None or not self.differs:
            return None
        numbers = [(v, i) for i, v in enumerate(self.values) if _number(v)]
        if len(numbers) < 2:
            return None
        pick = min if self.direction == "lower" else max
        return pick(numbers)[1]


@dataclass(frozen=True)
class Comparison:
    model: str
    refs: tuple[str, ...]
    rows: tuple[Row, ...]
    same_params: int  # params equal across the versions, not listed
    score: str | None = None
    """The registry's weighted score, in words, when it defines one (a 'score' row then
    leads the metrics, and a 'rank' row follows the version's own rows)."""

    @property
    def hidden(self) -> int:
        """How many detail rows (per-class metrics) the text leaves out by default."""
        return sum(1 for row in self.rows if row.detail)

    def section(self, name: str) -> list[Row]:
        return [row for row in self.rows if row.section == name]

    def to_json(self) -> dict[str, Any]:
        """``compare --json``: each row's values by ref, with change and best for metrics."""
        document: dict[str, Any] = {
            "format": "modelreg.compare/1",
            "model": self.model,
            "versions": list(self.refs),
            "baseline": self.refs[0],
            "same_params": self.same_params,
            "score": self.score,
        }
        for name in ("version", "metrics", "params", "artifacts", "lineage"):
            entries = {}
            for row in self.section(name):
                entry: dict[str, Any] = {"values": dict(zip(self.refs, row.values, strict=True))}
                if row.direction:
                    entry["better"] = row.direction
                    entry["change"] = dict(zip(self.refs, row.deltas(), strict=True))
                    best = row.best()
                    entry["best"] = self.refs[best] if best is not None else None
                entries[row.key] = entry
            document[name] = entries
        return document


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, list | dict) else value


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _natural(key: str) -> list[Any]:
    """Sort key that puts b8 before b64 and class 2 before class 10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def version_ref(name: str, selector: str) -> str:
    """``3`` → ``NAME/3``, ``latest`` → ``NAME/latest``, a stage or alias → ``NAME@it``;
    a full reference (``NAME/3``, ``NAME@production``, ``models:/...``) is kept as is."""
    if "/" in selector or "@" in selector:
        return selector
    if selector.isdigit() or selector.lower() == "latest":
        return f"{name}/{selector}"
    return f"{name}@{selector}"


def _stages(status: VersionStatus | None) -> str:
    if status is None:
        return ""
    labels = [*status.stages, *(f"@{a}" for a in status.aliases)]
    if status.archived:
        labels.append("archived")
    return ", ".join(labels)


def _version_rows(versions: Sequence[ModelVersion], statuses: Sequence[Any]) -> list[Row]:
    rows = [
        Row("version", "created", tuple(v.created.strftime("%Y-%m-%d %H:%M") for v in versions)),
        Row("version", "author", tuple(v.author for v in versions)),
        Row("version", "stages", tuple(_stages(s) for s in statuses)),
        Row("version", "description", tuple(v.description for v in versions)),
    ]
    return [row for row in rows if any(row.values)]


def _lineage_rows(versions: Sequence[ModelVersion]) -> list[Row]:
    lineages = [v.lineage for v in versions]
    rows = [
        Row("lineage", "git_commit", tuple((x.git_commit or "")[:12] or None for x in lineages)),
        Row("lineage", "git_dirty", tuple(x.git_dirty for x in lineages)),
        Row("lineage", "dvc_stage", tuple(x.dvc_stage for x in lineages)),
        Row("lineage", "dvc_lock_hash", tuple(x.dvc_lock_hash for x in lineages)),
        Row("lineage", "data_hash", tuple(x.data_hash for x in lineages)),
        Row(
            "lineage", "mlflow_run", tuple(x.mlflow.run_id if x.mlflow else None for x in lineages)
        ),
    ]
    return [row for row in rows if any(v is not None for v in row.values)]


def _artifact_rows(versions: Sequence[ModelVersion]) -> list[Row]:
    names: list[str] = []
    for version in versions:
        names += [a.name for a in version.artifacts if a.name not in names]
    rows = []
    for name in names:
        found = [next((a for a in v.artifacts if a.name == name), None) for v in versions]
        rows.append(
            Row(
                "artifacts",
                f"{name}.size_bytes",
                tuple(a.size if a else None for a in found),
                "lower",
            )
        )
        rows.append(Row("artifacts", f"{name}.md5", tuple(a.md5 if a else None for a in found)))
        if any(a and a.opset for a in found):
            rows.append(
                Row("artifacts", f"{name}.opset", tuple(a.opset if a else None for a in found))
            )
    return rows


def compare_versions(registry: Registry, name: str, selectors: Sequence[str]) -> Comparison:
    """Compare versions of model ``name``; the first of ``selectors`` is the baseline."""
    versions = [registry.resolve(version_ref(name, s)).version for s in selectors]
    name = versions[0].model
    for version in versions:
        if version.model != name:
            raise InputError(
                f"{version.ref} is not a version of {name}; compare one model's versions"
            )
    status = registry.status(name)
    statuses = [status.get(v.version) for v in versions]

    metric_keys = sorted({k for v in versions for k in v.metrics}, key=_natural)
    metric_rows = [
        Row(
            "metrics",
            key,
            tuple(v.metrics.get(key) for v in versions),
            metric_direction(key),
            detail=bool(_DETAIL.match(key)),
        )
        for key in metric_keys
    ]
    score = registry.config.score
    rank_rows: list[Row] = []
    if score is not None:
        scores = tuple(score.of(v.metrics) for v in versions)
        ranked = sorted((s, i) for i, s in enumerate(scores) if s is not None)[::-1]
        ranks: list[int | None] = [None] * len(versions)
        for place, (_, index) in enumerate(ranked, start=1):
            ranks[index] = place
        metric_rows.insert(0, Row("metrics", "score", scores, "higher"))
        rank_rows.append(Row("version", "rank", tuple(ranks)))
    params = [_flatten(v.lineage.params) for v in versions]
    param_keys = sorted({k for p in params for k in p}, key=_natural)
    param_rows = [Row("params", key, tuple(p.get(key) for p in params)) for key in param_keys]
    differing = [row for row in param_rows if row.differs]
    return Comparison(
        model=name,
        refs=tuple(v.ref for v in versions),
        rows=(
            *_version_rows(versions, statuses),
            *rank_rows,
            *metric_rows,
            *differing,
            *_artifact_rows(versions),
            *_lineage_rows(versions),
        ),
        same_params=len(param_rows) - len(differing),
        score=score.describe() if score is not None else None,
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.1f}"
    if isinstance(value, float):
        return (
            f"{value:.4g}"
            if abs(value) < 1e-3 or abs(value) >= 1e6
            else f"{value:.4f}".rstrip("0").rstrip(".")
        )
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _metric_cells(row: Row, strong: tuple[str, str], escape: Callable[[str], str]) -> list[str]:
    best = row.best()
    cells = []
    for index, (value, delta) in enumerate(zip(row.values, row.deltas(), strict=True)):
        text = _cell(value)
        if index and delta is not None and row.differs:
            text += f" ({delta:+.1%})"
        text = escape(text)
        if index == best:
            text = f"{strong[0]}{text}{strong[1]}"
        cells.append(text)
    return cells


def table_rows(
    comparison: Comparison,
    *,
    everything: bool = False,
    strong: tuple[str, str] = ("", " *"),
    escape: Callable[[str], str] = str,
) -> list[list[str]]:
    """[section, key, value per version] rows for a table; each text goes through
    ``escape`` (for the output it is written to), the best metric value is then
    wrapped in ``strong``, and detail metrics are left out unless ``everything``."""
    rows = []
    for row in comparison.rows:
        if row.detail and not everything:
            continue
        if row.section == "metrics" or row.direction:
            cells = _metric_cells(row, strong, escape)
        elif row.key == "author":  # the name; the address is in the manifest
            cells = [escape(author_name(str(v))) for v in row.values]
        else:
            cells = [escape(_cell(v)) for v in row.values]
        rows.append([escape(row.section), escape(row.key), *cells])
    return rows


def render_markdown(comparison: Comparison, *, everything: bool = False) -> str:
    """The comparison as a GitHub-flavoured Markdown table (best values in bold)."""
    header = ["", "", *comparison.refs]
    lines = [
        "| " + " | ".join(markdown_cell(h) for h in header) + " |",
        "|" + "---|" * 2 + "---:|" * len(comparison.refs),
    ]
    section = ""
    rows = table_rows(comparison, everything=everything, strong=("**", "**"), escape=markdown_cell)
    for cells in rows:
        label = cells[0] if cells[0] != section else ""
        section = cells[0]
        lines.append("| " + " | ".join([label, *cells[1:]]) + " |")
    notes = []
    if comparison.hidden and not everything:
        notes.append(f"{comparison.hidden} per-class metrics not shown.")
    if comparison.same_params:
        notes.append(f"{comparison.same_params} params are the same in every version.")
    notes.append(
        f"Changes are against {markdown_text(comparison.refs[0])}; "
        "the best value of each metric is in bold."
    )
    if comparison.score:
        notes.append(f"Score: {markdown_text(comparison.score)}; rank 1 is the highest.")
    return "\n".join(lines) + "\n\n" + " ".join(notes) + "\n"
