"""``modelreg dashboard``: a static page, checked as HTML and rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelreg.api import promote, rollback
from modelreg.cli import cli
from modelreg.reporting.dashboard import build_dashboard
from tests import builders
from tests.conftest import RegistryFactory, Workspace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    digits = {
        number: {
            "metrics": {"accuracy": accuracy, "latency_p50_ms": latency},
            "description": f"<script>alert({number})</script> try {number}",
        }
        for number, (accuracy, latency) in enumerate(
            [(0.91, 0.40), (0.94, 0.35), (0.93, 0.20), (0.96, 0.22)], start=1
        )
    }
    ws = make_registry({"digits": digits, "iris": 1}, message="versions")
    root = ws.root
    ws.git("remote", "add", "origin", "git@github.com:acme/models.git")
    for hour, number in ((9, 1), (10, 2), (11, 3)):
        promote("digits", number, "production", repo=root, now=lambda h=hour: NOW.replace(hour=h))
    rollback("digits", "production", repo=root, reason="latency regression")
    builders.write_alias(root, "digits", "champion", 4)
    ws.git("checkout", "-q", "-b", "promote-4")
    promote("digits", 4, "staging", repo=root, now=lambda: NOW.replace(hour=13))
    ws.git("checkout", "-q", "main")
    ws.git("merge", "-q", "--no-ff", "-m", "Merge pull request #12 from x", "promote-4")
    ws.commit_all("champion alias")
    return ws


def test_the_page_shows_stages_versions_trends_and_the_timeline(
    registry: Workspace, tmp_path: Path
) -> None:
    done = build_dashboard(registry.root, tmp_path / "site")
    page = done.path.read_text()

    assert (done.models, done.versions, done.valid) == (2, 5, True)
    assert 'registry <span class="ok">valid</span>' in page
    digits = page[page.index('<section id="m-digits">') : page.index('<section id="m-iris">')]
    cards = re.findall(r'<div class="label">([^<]+)</div><div class="v">([^<]+)</div>', digits)
    assert cards == [("staging", "v4"), ("production", "v2"), ("@champion", "v4")]
    assert "<figcaption>accuracy · higher is better</figcaption>" in digits
    assert "<figcaption>latency_p50_ms · lower is better</figcaption>" in digits
    assert digits.count("<circle ") == 8  # four versions on each chart
    assert "<title>v2: 0.94</title>" in digits
    # Newest version first; stage and alias tags; hostile text escaped.
    rows = re.findall(r"<tr><td>v(\d+)</td>", digits)
    assert rows == ["4", "3", "2", "1"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; try 1" in digits
    assert "<script" not in page
    timeline = re.findall(
        r'<li class="([\w-]+)">.*?<span class="tag stage">(.*?)</span> <b>(.*?)</b>', digits
    )
    assert timeline == [
        ("assigned", "@champion", "— → v4"),
        ("assigned", "staging", "— → v4"),
        ("rolled-back", "production", "v3 → v2"),
        ("promoted", "production", "v2 → v3"),
        ("promoted", "production", "v1 → v2"),
        ("assigned", "production", "— → v1"),
    ]
    assert '<a href="https://github.com/acme/models/pull/12">#12</a>' in digits
    assert "latency regression" in digits
    # Nothing is fetched from anywhere: the only URLs are pull-request links.
    assert re.findall(r'(?:src|href)="(https?:[^"]*)"', page) == [
        "https://github.com/acme/models/pull/12"
    ]


def test_an_invalid_registry_says_so_and_the_cli_writes_the_page(
    registry: Workspace, tmp_path: Path
) -> None:
    path = registry.root / "registry/digits/versions/2.yaml"
    path.write_text(path.read_text() + "metrix: {accuracy: 1}\n")
    out = CliRunner().invoke(
        cli, ["--repo", str(registry.root), "dashboard", "--out", str(tmp_path / "site")]
    )
    assert out.exit_code == 0, out.output
    site = tmp_path / "site"
    assert out.output == f"wrote {site / 'index.html'} (2 models, 4 versions; NOT valid)\n"
    page = (site / "index.html").read_text()
    assert '<span class="bad">1 error</span>' in page
    assert "registry/digits/versions/2.yaml:16: metrix: unknown field" in page
    assert re.findall(r"<tr><td>v(\d+)</td>", page)[:3] == ["4", "3", "1"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed: apt-get install chromium (.ci/run does)")
    return found


def render(page: Path, out: Path, *flags: str) -> tuple[Path, list[str]]:
    """A screenshot of ``page`` and the console messages Chromium logged while loading it."""
    done = subprocess.run(
        [
            chromium(),
            *flags,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={out / 'profile'}",
            "--window-size=1280,1400",
            f"--screenshot={out / 'shot.png'}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (out / "shot.png").exists(), done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    return out / "shot.png", console


def distinct_colours(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours or [])


_PROBE = """<!doctype html><meta charset="utf-8">
<iframe id="page" src="%(page)s" style="width:1280px;height:6000px;border:0"></iframe>
<script>
const selectors = %(selectors)s;
document.getElementById("page").addEventListener("load", (event) => {
  const view = event.target.contentWindow, doc = event.target.contentDocument;
  const shown = (el) => {
    const box = el.getBoundingClientRect(), style = view.getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== "hidden"
      && style.display !== "none" && parseFloat(style.opacity || "1") > 0
      && (el.tagName !== "IMG" || el.naturalWidth > 0);  // an image that decoded
  };
  const counts = {};
  for (const [name, selector] of Object.entries(selectors)) {
    counts[name] = [...doc.querySelectorAll(selector)].filter(shown).length;
  }
  console.log("VISIBLE " + JSON.stringify(counts));
});
</script>
"""


def visible(page: Path, selectors: dict[str, str], out: Path) -> dict[str, int]:
    """How many elements of each CSS selector Chromium lays out visibly in ``page``
    (non-zero size, not hidden; an image decoded). The page is loaded in a frame of a
    probe page beside it, so it runs no script of ours and keeps its own policy."""
    probe = page.parent / f"probe-{out.name}.html"
    probe.write_text(_PROBE % {"page": page.name, "selectors": json.dumps(selectors)})
    try:
        _, console = render(probe, out, "--allow-file-access-from-files")
    finally:
        probe.unlink()
    found = [re.search(r"VISIBLE (\{.*\})", line) for line in console]
    reports = [json.loads(match[1]) for match in found if match]
    assert len(reports) == 1, console
    counts: dict[str, int] = reports[0]
    return counts


# What the page promises for each model (docs/dashboard.md): stage cards, the versions
# table and, where versions have metrics, their trend charts; and the timeline.
PARTS = {
    "stage cards": ".cards .card",
    "versions table rows": "table tbody tr",
    "trend charts": "figure.chart svg",
    "chart points": "figure.chart svg circle",
    "stage changes": "ol.timeline li",
}


def dashboard_parts(page: Path, out: Path) -> dict[str, dict[str, int]]:
    selectors = {
        f"{model} {part}": f"#m-{model} {selector}"
        for model in ("digits", "iris")
        for part, selector in PARTS.items()
    }
    counts = visible(page, selectors, out)
    return {
        model: {part: counts[f"{model} {part}"] for part in PARTS} for model in ("digits", "iris")
    }


def test_the_rendered_page_shows_cards_versions_charts_and_changes(
    registry: Workspace, tmp_path: Path
) -> None:
    done = build_dashboard(registry.root, tmp_path / "site")
    assert dashboard_parts(done.path, tmp_path / "whole") == {
        "digits": {
            "stage cards": 3,  # staging, production, @champion
            "versions table rows": 4,
            "trend charts": 2,  # accuracy, latency_p50_ms
            "chart points": 8,
            "stage changes": 6,
        },
        # No metrics, no stage: the empty cards and the one version, no chart.
        "iris": {
            "stage cards": 2,
            "versions table rows": 1,
            "trend charts": 0,
            "chart points": 0,
            "stage changes": 0,
        },
    }

    # The check can fail: a page whose part is missing, or there but not shown.
    page = done.path.read_text()
    broken = {
        "versions table rows": re.sub(r"<table>.*?</table>", "", page, flags=re.S),
        "stage cards": page.replace("</head>", "<style>.cards{display:none}</style></head>"),
        "trend charts": page.replace(
            "</head>", "<style>.charts svg{width:0 !important}</style></head>"
        ),
    }
    for part, text in broken.items():
        damaged = tmp_path / f"damaged-{part.replace(' ', '-')}" / "index.html"
        damaged.parent.mkdir()
        damaged.write_text(text)
        parts = dashboard_parts(damaged, damaged.parent / "render")
        assert parts["digits"][part] == 0, (part, parts)


def test_it_renders_in_headless_chromium_without_console_errors(
    registry: Workspace, tmp_path: Path
) -> None:
    done = build_dashboard(registry.root, tmp_path / "site")
    shot, console = render(done.path, tmp_path)
    assert console == []
    assert distinct_colours(shot) > 50  # text, charts and tags, not a blank page

    # The checks can fail: a blank page, and a page that logs an error.
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><body></body></html>")
    assert distinct_colours(render(blank, tmp_path / "b")[0]) <= 2
    noisy = tmp_path / "noisy.html"
    noisy.write_text('<!doctype html><script>console.error("boom")</script>')
    assert any("boom" in line for line in render(noisy, tmp_path / "n")[1])
