"""``modelreg report --markdown``: the job summary of a change, on real git."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from modelreg.api import promote, rollback
from modelreg.cli import cli as cli_group
from modelreg.cli import main
from modelreg.reporting.report import MARKER, render_report
from tests import builders
from tests.conftest import RegistryFactory, Workspace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = {
    "production": {
        "require": {"accuracy": {"min": 0.9}},
        "no_regression": {"accuracy": {"better": "higher", "tolerance": 0.01}},
    }
}


def _at(hour: int) -> datetime:
    return NOW.replace(hour=hour)


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    ws = make_registry({"digits": 2}, policies=POLICY, message="two versions")
    ws.git("config", "user.name", 'Mallory: "x"; y')
    promote("digits", 1, "production", repo=ws.root, now=lambda: _at(9))
    return ws


def section(report: str, heading: str) -> str:
    """The lines of ``report`` from ``heading`` up to the next heading of any level."""
    lines = report.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[start:end])


def test_a_promotion_with_a_new_version(registry: Workspace) -> None:
    base = registry.git("rev-parse", "HEAD").strip()
    builders.write_version(registry.root, "digits", 3, metrics={"accuracy": 0.95})
    registry.commit_all("register v3")
    promote("digits", 3, "production", repo=registry.root, reason="best", now=lambda: _at(10))

    report = render_report(registry.root, base)

    assert report.startswith(MARKER + "\n## modelreg\n")
    assert "| promoted | digits | v1 → v3 | production | best |" in report
    assert "| registered | digits | v3 |  |  |" in report
    gates = section(report, "#### Promotion of production: v1 → v3")
    assert gates.splitlines()[4:11] == [
        "| gate | result | detail |",
        "|---|---|---|",
        "| not deprecated | pass | v3 is not deprecated |",
        "| accuracy >= 0.9 | pass | 0.95 |",
        "| no accuracy regression | pass | 0.95 vs 0.901 in v1 (higher is better; "
        "0.01 worse allowed) |",
        "",
        "|  |  | digits/1 | digits/3 |",
    ]
    assert "|  |  | digits/1 | digits/3 |" in report
    assert "| metrics | accuracy | 0.901 | **0.95 (+5.4%)** |" in report
    # The metric the policy names, across all versions, and the stage timeline.
    assert (
        "\n".join(
            [
                "```mermaid",
                "xychart-beta",
                '    title "digits: accuracy by version (higher is better)"',
                '    x-axis ["v1", "v2", "v3"]',
            ]
        )
        in report
    )
    assert "    line [0.901, 0.902, 0.95]" in report
    timeline = report[report.index("timeline\n") :]
    day = registry.git("log", "-1", "--format=%as").strip()
    # The author's colon and quotes would break Mermaid's syntax: they become spaces.
    assert timeline.splitlines()[1:5] == [
        "    title digits: stage changes",
        f"    {day} : production v1 assigned by Mallory x y",
        "               : production v3 promoted by Mallory x y",
        "```",
    ]


def test_a_rollback_shows_no_gates_and_compares(registry: Workspace) -> None:
    promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))
    base = registry.git("rev-parse", "HEAD").strip()
    rollback("digits", "production", repo=registry.root)

    report = render_report(registry.root, base)

    moved = section(report, "#### Rollback of production: v2 → v1")
    assert "Gates" not in moved
    assert "|  |  | digits/2 | digits/1 |" in report
    assert "production v1 rolled back by" in report


def test_nothing_changed_and_a_removed_model(registry: Workspace, cli: CliRunner) -> None:
    out = cli.invoke(cli_group, ["--repo", str(registry.root), "report", "--base", "HEAD"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[:3] == [MARKER, "## modelreg", ""]
    assert lines[3].startswith("No registry changes between `HEAD` (")

    base = registry.git("rev-parse", "HEAD").strip()
    builders.write_version(registry.root, "iris", 1)
    registry.commit_all("iris")
    registry.git("rm", "-q", "-r", "registry/digits")
    registry.git("commit", "-q", "-m", "remove digits")
    report = cli.invoke(
        cli_group, ["--repo", str(registry.root), "report", "--base", base, "--markdown"]
    ).output
    assert "| removed | digits | v1 |" in report and "| cleared | digits |" in report
    assert "### digits" not in report  # nothing left to chart
    assert "### iris" in report and "#### New version: v1" in report
    assert "xychart-beta" not in section(report, "### iris")  # one version: no chart


def test_unknown_revision_is_a_one_line_error(
    registry: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--repo", str(registry.root), "report", "--base", "nope"]) == 1
    assert capsys.readouterr().err == (
        "error: unknown revision 'nope': no such branch, tag or commit here\n"
    )
