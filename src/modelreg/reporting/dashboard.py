"""``modelreg dashboard --out DIR``: the registry as one static page.

For each model: the version in each stage and alias, its versions with their key
metrics and status, the trend of a quality metric and of latency across versions,
and the timeline of stage changes with authors and pull-request links; above them,
whether the registry validates. One self-contained ``index.html`` (inline CSS and
SVG, no script, no external asset), so it can be published to GitHub Pages or
opened from disk, and reads the same everywhere. Beside it, ``cards/<model>/<N>.html``
holds the model card of each version the page lists, linked from its row; the
cards read the ONNX file and confusion matrix from the working tree or the DVC
cache only (a dashboard never downloads models), and say so where they are absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from modelreg.core.errors import ModelregError
from modelreg.core.escape import html_text as _e  # every text and attribute on the page
from modelreg.core.model import ModelVersion, StagePointer, author_name, format_timestamp
from modelreg.core.registry import Registry
from modelreg.core.yaml_io import write_text_atomic
from modelreg.reporting.card import build_card
from modelreg.reporting.compare import metric_direction
from modelreg.reporting.history import StageChange, stage_history
from modelreg.reporting.report import chart_metric

__all__ = ["Dashboard", "build_dashboard"]

_LATENCY = ("latency_p50_ms", "latency_p50_ms.cpu.b1", "latency_ms")
_VERSIONS_SHOWN = 50
_CHANGES_SHOWN = 30
_GITHUB_REMOTE = re.compile(
    r"(?:git@github\.com:|https://github\.com/)([\w.-]+/[\w.-]+?)(?:\.git)?/?\Z"
)


@dataclass(frozen=True)
class Dashboard:
    path: Path
    models: int
    versions: int
    valid: bool
    cards: int = 0
    """Model cards written under ``cards/`` beside the page."""


def build_dashboard(repo: str | Path | None, out: str | Path) -> Dashboard:
    """Write ``out/index.html`` for the registry of ``repo`` as it is in the working tree."""
    from modelreg.validation.checks import validate

    report = validate(repo, offline=True)
    target = Path(out)
    written = 0
    with Registry.open(repo) as registry:
        models = registry.model_names()
        pulls = _pull_url(registry)
        head = registry.git.head_commit() or ""
        sections = []
        total = 0
        for name in models:
            # A broken file is shown as the validation finding it is; the rest still reads.
            versions = _readable_versions(registry, name)
            total += len(versions)
            try:
                changes = stage_history(registry, name)
                links = _write_cards(registry, name, versions[-_VERSIONS_SHOWN:], changes, target)
                written += len(links)
                sections.append(_model_section(registry, name, versions, changes, pulls, links))
            except ModelregError as error:
                sections.append(
                    f'<section id="m-{_id(name)}"><h2>{_e(name)}</h2>'
                    f'<p class="bad">{_e(error)}</p></section>'
                )
    errors = len(report.errors)
    state = (
        f'<span class="ok">valid</span> ({report.files_checked} files checked)'
        if report.ok
        else f'<span class="bad">{errors} error{"s" if errors != 1 else ""}</span> '
        "(run <code>modelreg validate</code>)"
    )
    findings = "".join(f"<li><code>{_e(f.render())}</code></li>" for f in report.errors[:20])
    if findings:
        sections.insert(0, f'<section id="problems"><h2>Problems</h2><ul>{findings}</ul></section>')
    now = format_timestamp(datetime.now(UTC).replace(microsecond=0))
    nav = "".join(f'<a href="#m-{_id(n)}">{_e(n)}</a>' for n in models)
    body = (
        "\n".join(sections) or '<p class="empty">No models yet: <code>modelreg register</code>.</p>'
    )
    page = _asset("dashboard.html").format(
        css=_asset("dashboard.css"),
        summary=f"{len(models)} models · {total} versions · registry {state}",
        commit=_e(head[:12]),
        generated=_e(now),
        nav=nav,
        body=body,
    )
    target.mkdir(parents=True, exist_ok=True)
    (target / "index.html").write_text(page, encoding="utf-8")
    return Dashboard(target / "index.html", len(models), total, report.ok, written)


def _write_cards(
    registry: Registry,
    name: str,
    versions: Sequence[ModelVersion],
    changes: Sequence[StageChange],
    target: Path,
) -> dict[int, str]:
    """Write ``cards/<model>/<N>.html`` for ``versions``; each card's link, by number."""
    try:
        model = registry.model(name)
    except ModelregError:  # the page lists validate's finding about model.yaml
        return {}
    links = {}
    for version in versions:
        try:
            card = build_card(registry, version, fetch=False, history=changes, model=model)
        except ModelregError:
            continue
        relative = f"cards/{name}/{version.version}.html"
        write_text_atomic(target / relative, card.html(back="../../index.html"))
        links[version.version] = quote(relative)
    return links


def _readable_versions(registry: Registry, name: str) -> list[ModelVersion]:
    readable = []
    for number in registry.version_numbers(name):
        try:
            readable.append(registry.version(name, number))
        except ModelregError:
            continue
    return readable


def _id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _pull_url(registry: Registry) -> str | None:
    """``https://github.com/OWNER/NAME/pull/`` when origin is on GitHub."""
    remote = registry.git.config_get("remote.origin.url") or ""
    match = _GITHUB_REMOTE.match(remote)
    return f"https://github.com/{match.group(1)}/pull/" if match else None


def _model_section(
    registry: Registry,
    name: str,
    versions: list[ModelVersion],
    changes: list[StageChange],
    pulls: str | None,
    card_links: Mapping[int, str],
) -> str:
    stages = registry.stage_pointers(name)
    aliases = registry.aliases(name)
    status = registry.status(name)
    cards = [_stage_card(stage, stages.get(stage)) for stage in registry.config.stages]
    cards += [_stage_card(f"@{alias}", pointer) for alias, pointer in sorted(aliases.items())]
    quality = chart_metric(registry, versions)
    latency = next((m for m in _LATENCY if sum(m in v.metrics for v in versions) >= 2), None)
    held = {p.version for p in stages.values()}
    charts = [
        _chart(versions, metric, held)
        for metric in dict.fromkeys(m for m in (quality, latency) if m is not None)
    ]
    # The charted metrics first, then plain names before per-device ones (a.b.c).
    names = sorted({k for v in versions for k in v.metrics}, key=lambda k: ("." in k, k))
    shown = [quality, latency, *names]
    columns = list(dict.fromkeys(c for c in shown if c is not None))[:4]
    rows = []
    for version in reversed(versions[-_VERSIONS_SHOWN:]):
        state = status.get(version.version)
        labels = [f'<span class="tag stage">{_e(s)}</span>' for s in state.stages] if state else []
        labels += [f'<span class="tag">@{_e(a)}</span>' for a in state.aliases] if state else []
        if state and state.archived:
            labels.append('<span class="tag muted">archived</span>')
        if version.deprecated:
            labels.append('<span class="tag bad">deprecated</span>')
        metrics = "".join(
            f'<td class="num">{_metric(version.metrics.get(c))}</td>' for c in columns
        )
        link = card_links.get(version.version)
        card = f'<a href="{_e(link)}">card</a>' if link else ""
        rows.append(
            f"<tr><td>v{version.version}</td><td>{_e(version.created.strftime('%Y-%m-%d'))}</td>"
            f"<td>{_e(author_name(version.author))}</td>{metrics}"
            f'<td>{"".join(labels)}</td><td class="desc">{_e(version.description)}</td>'
            f"<td>{card}</td></tr>"
        )
    header = "".join(f'<th class="num">{_e(c)}</th>' for c in columns)
    table = (
        f"<table><thead><tr><th>version</th><th>created</th><th>author</th>{header}"
        f"<th>status</th><th>description</th><th>card</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    timeline = _timeline(changes[:_CHANGES_SHOWN], pulls)
    return (
        f'<section id="m-{_id(name)}"><h2>{_e(name)}</h2>'
        f'<div class="cards">{"".join(cards)}</div>'
        f'<div class="charts">{"".join(charts)}</div>'
        f"<h3>Versions</h3>{table}<h3>Stage changes</h3>{timeline}</section>"
    )


def _stage_card(label: str, pointer: StagePointer | None) -> str:
    if pointer is None:
        return (
            f'<div class="card empty"><div class="label">{_e(label)}</div>'
            '<div class="v">—</div></div>'
        )
    since = pointer.since.strftime("%Y-%m-%d") if pointer.since else ""
    canary = (
        f'<div class="note">canary v{pointer.canary.version} at {pointer.canary.weight:.0%}</div>'
        if pointer.canary
        else ""
    )
    reason = f'<div class="note">{_e(pointer.reason)}</div>' if pointer.reason else ""
    return (
        f'<div class="card"><div class="label">{_e(label)}</div>'
        f'<div class="v">v{pointer.version}</div><div class="note">since {_e(since)}</div>'
        f"{canary}{reason}</div>"
    )


def _metric(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _chart(versions: Sequence[ModelVersion], metric: str, held: set[int]) -> str:
    """An SVG line chart of ``metric`` across versions; stage-held versions stand out."""
    points = [(v.version, float(v.metrics[metric])) for v in versions if metric in v.metrics]
    points = points[-_VERSIONS_SHOWN:]
    width, height, left, right, top, bottom = 520, 200, 56, 16, 28, 30
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    span = (high - low) or abs(high) * 0.1 or 1.0
    low, high = low - span * 0.1, high + span * 0.1

    def x(i: int) -> float:
        return left + (width - left - right) * (i / max(len(points) - 1, 1))

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - (value - low) / (high - low))

    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{5 if n in held else 3}" '
        f'class="{"held" if n in held else "dot"}"><title>v{n}: {_e(_metric(v))}</title></circle>'
        for i, (n, v) in enumerate(points)
    )
    step = max(1, len(points) // 8)
    ticks = "".join(
        f'<text x="{x(i):.1f}" y="{height - 10}" class="tick" text-anchor="middle">v{n}</text>'
        for i, (n, _) in enumerate(points)
        if i % step == 0 or i == len(points) - 1
    )
    grid = "".join(
        f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
        f'<text x="{left - 6}" y="{y(v) + 4:.1f}" class="tick" text-anchor="end">'
        f"{_e(_metric(v))}</text>"
        for v in (low + (high - low) * k / 3 for k in range(4))
    )
    direction = metric_direction(metric)
    better = f" · {direction} is better" if direction else ""
    return (
        f'<figure class="chart"><figcaption>{_e(metric)}{_e(better)}</figcaption>'
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(metric)} by version">'
        f'{grid}<polyline points="{line}" class="line"/>{dots}{ticks}</svg></figure>'
    )


def _timeline(changes: Sequence[StageChange], pulls: str | None) -> str:
    if not changes:
        return '<p class="empty">No stage has changed yet.</p>'
    items = []
    for change in changes:
        before = f"v{change.from_version}" if change.from_version else "—"
        moved = f"{before} → v{change.to_version}" if change.to_version else f"{before} → cleared"
        where = ("@" if change.is_alias else "") + change.stage
        pr = ""
        if change.pr:
            pr = (
                f' <a href="{_e(pulls)}{change.pr}">#{change.pr}</a>' if pulls else f" #{change.pr}"
            )
        reason = f'<div class="note">{_e(change.reason)}</div>' if change.reason else ""
        items.append(
            f'<li class="{_id(change.kind)}"><span class="when">'
            f"{_e(change.date.strftime('%Y-%m-%d %H:%M'))}</span> "
            f'<span class="tag stage">{_e(where)}</span> <b>{_e(moved)}</b> '
            f'<span class="kind">{_e(change.kind)}</span> by {_e(author_name(change.author))}'
            f" · <code>{_e(change.commit[:10])}</code>{pr}{reason}</li>"
        )
    return f'<ol class="timeline">{"".join(items)}</ol>'


def _asset(name: str) -> str:
    return (resources.files("modelreg") / "web" / name).read_text(encoding="utf-8")
