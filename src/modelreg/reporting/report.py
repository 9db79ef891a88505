"""``modelreg report --markdown``: what a pull request or a merge changes, for people.

The job summary CI writes and the sticky comment it keeps on a pull request: the
events between two revisions (:mod:`modelreg.reporting.diff`), and for each model they
touch, the gate results of every stage that moved, the comparison of the version
now in the stage against the one before, the promoted version's model card (a
collapsed summary), and two Mermaid charts GitHub renders in Markdown: a metric
across the model's versions, and the promotion timeline.
Everything is read from the registry at HEAD and from git history; nothing runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from modelreg.core.errors import ModelregError
from modelreg.core.escape import code_fence, markdown_text
from modelreg.core.model import ModelVersion, StagePointer, author_name
from modelreg.core.policy import check_gates, gate_table
from modelreg.core.registry import Registry
from modelreg.reporting.card import build_card
from modelreg.reporting.compare import compare_versions, metric_direction
from modelreg.reporting.compare import render_markdown as render_comparison
from modelreg.reporting.diff import RegistryDiff, RegistryEvent, diff_revisions
from modelreg.reporting.diff import render_markdown as render_events
from modelreg.reporting.history import StageChange, stage_history

__all__ = ["MARKER", "chart_metric", "metric_chart", "render_report", "timeline_chart"]

MARKER = "<!-- modelreg:report -->"
"""The first line of every report, so CI can find and update its one comment."""

_CHART_VERSIONS = 30
_TIMELINE_CHANGES = 12
_UNSAFE = re.compile(r"[^\w .,/@+()=-]")


def render_report(repo: str | Path | None, base: str, head: str = "HEAD") -> str:
    """The Markdown report of the registry changes between ``base`` and ``head``."""
    found = diff_revisions(repo, base, head)
    parts = [MARKER, "## modelreg", "", render_events(found)]
    models = sorted({e.model for e in found.events if e.model})
    if models:
        with (
            Registry.open(repo, rev=found.head_commit) as registry,
            Registry.open(repo, rev=found.base_commit) as before,
        ):
            present = set(registry.model_names())
            for model in models:
                if model in present:
                    parts.append(_model_section(registry, before, found, model))
    return "\n".join(parts).rstrip("\n") + "\n"


def _model_section(registry: Registry, before: Registry, found: RegistryDiff, model: str) -> str:
    events = [e for e in found.events if e.model == model]
    parts = [f"### {markdown_text(model)}", ""]
    had_model = model in before.model_names()
    for event in events:
        if event.event in ("promoted", "rolled_back"):
            current = before.pointer(model, event.stage or "") if had_model else None
            parts.append(_stage_move(registry, model, event, current))
    registered = [e.version for e in events if e.event == "registered" and e.version]
    if registered:
        parts.append(_registered(registry, model, registered))
    versions = registry.versions(model)
    metric = chart_metric(registry, versions)
    if metric is not None:
        parts += [metric_chart(model, metric, versions[-_CHART_VERSIONS:]), ""]
    changes = [c for c in stage_history(registry, model, rev=found.head_commit) if not c.is_alias]
    if changes:
        parts += [timeline_chart(model, changes[:_TIMELINE_CHANGES]), ""]
    return "\n".join(parts)


def _stage_move(
    registry: Registry, model: str, event: RegistryEvent, current: StagePointer | None
) -> str:
    """Gate results and the comparison for a stage that moved to a new version."""
    assert event.version is not None and event.stage is not None
    what = "Promotion" if event.event == "promoted" else "Rollback"
    previous = f"v{event.previous}" if event.previous else "an empty stage"
    lines = [f"#### {what} of {markdown_text(event.stage)}: {previous} → v{event.version}", ""]
    version = registry.version(model, event.version)
    if event.event == "promoted":
        lines += ["Gates (the stage's policy at the head revision):", ""]
        lines.append(gate_table(check_gates(registry, version, event.stage, current)))
    if event.previous and event.previous in registry.version_numbers(model):
        selectors = [str(event.previous), str(event.version)]
        lines.append(render_comparison(compare_versions(registry, model, selectors)))
    if event.event == "promoted":
        # The card from the manifests alone: a report reads no artifact and no history.
        try:
            card = build_card(registry, version, artifacts=False, read_history=False)
            lines += ["", card.compact_markdown()]
        except ModelregError as error:  # a broken model.yaml: validate's job to say more
            lines += ["", markdown_text(f"The model card cannot be shown: {error}"), ""]
    return "\n".join(lines)


def _registered(registry: Registry, model: str, numbers: Sequence[int]) -> str:
    """The new versions beside the version in the last stage (else the one before them)."""
    pointer = registry.pointer(model, registry.config.stages[-1])
    earlier = [n for n in registry.version_numbers(model) if n < min(numbers)]
    baseline = pointer.version if pointer else (earlier[-1] if earlier else None)
    selectors = [str(baseline)] if baseline is not None and baseline not in numbers else []
    selectors += [str(n) for n in numbers]
    heading = f"#### New version{'s' if len(numbers) > 1 else ''}: " + ", ".join(
        f"v{n}" for n in numbers
    )
    if len(selectors) < 2:
        version = registry.version(model, numbers[0])
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(version.metrics.items())[:8])
        return f"{heading}\n\n{markdown_text(metrics) or 'no metrics recorded'}\n"
    comparison = compare_versions(registry, model, selectors)
    return f"{heading}\n\n{render_comparison(comparison)}"


def chart_metric(registry: Registry, versions: Sequence[ModelVersion]) -> str | None:
    """The metric worth charting: the first one the last stage's policy names, else
    accuracy, else the metric most versions record (None when fewer than two do)."""
    counts: dict[str, int] = {}
    for version in versions:
        for name in version.metrics:
            counts[name] = counts.get(name, 0) + 1
    candidates = [name for name, count in counts.items() if count >= 2]
    if not candidates:
        return None
    policy = registry.config.policies.get(registry.config.stages[-1])
    named = [*policy.no_regression, *policy.require] if policy else []
    for name in [*named, "accuracy"]:
        if name in candidates:
            return name
    return max(sorted(candidates), key=lambda name: counts[name])


def _label(text: str) -> str:
    """Text Mermaid reads as plain words: no quotes, colons, semicolons, markup,
    backticks or control characters (Mermaid has no escaping of its own)."""
    return " ".join(_UNSAFE.sub(" ", text).split())


def metric_chart(model: str, metric: str, versions: Sequence[ModelVersion]) -> str:
    """A Mermaid line chart of ``metric`` across ``versions`` (those that record it)."""
    points = [(v.version, float(v.metrics[metric])) for v in versions if metric in v.metrics]
    low = min(value for _, value in points)
    high = max(value for _, value in points)
    margin = (high - low) * 0.1 or abs(high) * 0.05 or 1.0
    direction = metric_direction(metric)
    better = f" ({direction} is better)" if direction else ""
    axis = ", ".join(f'"v{number}"' for number, _ in points)
    values = ", ".join(f"{value:.6g}" for _, value in points)
    chart = [
        "xychart-beta",
        f'    title "{_label(model)}: {_label(metric)} by version{better}"',
        f"    x-axis [{axis}]",
        f'    y-axis "{_label(metric)}" {low - margin:.6g} --> {high + margin:.6g}',
        f"    line [{values}]",
    ]
    return code_fence("\n".join(chart), "mermaid").rstrip("\n")


def timeline_chart(model: str, changes: Sequence[StageChange]) -> str:
    """A Mermaid timeline of stage changes, oldest first, grouped by day."""
    lines = ["timeline", f"    title {_label(model)}: stage changes"]
    day = ""
    for change in reversed(changes):
        date = change.date.strftime("%Y-%m-%d")
        moved = f"v{change.to_version}" if change.to_version else "cleared"
        who = author_name(change.author)
        pr = f" PR {change.pr}" if change.pr else ""
        text = _label(f"{change.stage} {moved} {change.kind} by {who}{pr}")
        if date != day:
            lines.append(f"    {date} : {text}")
            day = date
        else:
            lines.append(f"               : {text}")
    return code_fence("\n".join(lines), "mermaid").rstrip("\n")
