"""``modelreg diff BASE HEAD``: registry events between two revisions, on real git."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelreg.api import (
    GitError,
    InputError,
    ManifestError,
    deprecate,
    diff_revisions,
    promote,
    rollback,
)
from modelreg.cli import cli as cli_group
from modelreg.cli import main
from tests import builders
from tests.conftest import RegistryFactory, Workspace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _at(hour: int) -> datetime:
    return NOW.replace(hour=hour)


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    return make_registry({"digits": 3}, message="three versions")


def events(ws: Workspace, base: str, head: str = "HEAD") -> list[tuple[object, ...]]:
    found = diff_revisions(ws.root, base, head)
    return [
        (e.event, e.model, e.version, e.stage or e.alias, e.previous, e.detail or e.fields)
        for e in found.events
    ]


def test_registration_promotion_and_deprecation(registry: Workspace) -> None:
    base = registry.git("rev-parse", "HEAD").strip()
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    promote("digits", 2, "production", repo=registry.root, reason="fresher", now=lambda: _at(10))
    builders.write_version(registry.root, "digits", 4)
    builders.write_version(registry.root, "iris", 1)
    registry.commit_all("register two")
    deprecate("digits", 3, repo=registry.root, reason="bad labels", commit=True)
    builders.write_alias(registry.root, "digits", "champion", 2)
    registry.commit_all("alias")

    assert events(registry, base) == [
        ("registered", "digits", 4, None, None, ()),
        ("deprecated", "digits", 3, None, None, "bad labels"),
        # Two promotions in the range show as one move, from the state at BASE.
        ("promoted", "digits", 2, "production", None, "fresher"),
        ("alias_set", "digits", 2, "champion", None, ()),
        ("registered", "iris", 1, None, None, ()),
    ]


def test_rollback_and_hand_revert_are_told_from_promotion(registry: Workspace) -> None:
    promote("digits", 1, "production", repo=registry.root, reason="first", now=lambda: _at(9))
    promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))
    promoted = registry.git("rev-parse", "HEAD").strip()
    (registry.root / "unrelated.txt").write_text("not a registry file\n")
    registry.commit_all("unrelated")
    rollback("digits", "production", repo=registry.root)
    assert events(registry, promoted) == [("rolled_back", "digits", 1, "production", 2, ())]

    # A hand 'git revert' of the rollback is a promotion again in effect; a hand revert of
    # a promotion commit is a rollback, whatever its message says.
    promote("digits", 3, "production", repo=registry.root, now=lambda: _at(11))
    third = registry.git("rev-parse", "HEAD").strip()
    registry.git("revert", "--no-edit", third)
    assert events(registry, third) == [("rolled_back", "digits", 1, "production", 3, ())]
    # Promoting v3 afresh, at a new time, is a promotion even though v3 held the stage.
    reverted = registry.git("rev-parse", "HEAD").strip()
    promote("digits", 3, "production", repo=registry.root, now=lambda: _at(12))
    assert events(registry, reverted) == [("promoted", "digits", 3, "production", 1, ())]
    # The whole range, from before any promotion, is one promotion to the state now.
    assert events(registry, "HEAD~7") == [("promoted", "digits", 3, "production", None, ())]


def test_metadata_removal_clearing_and_config(registry: Workspace) -> None:
    builders.write_pointer(registry.root, "digits", "staging", 1)
    builders.write_alias(registry.root, "digits", "champion", 1)
    base = registry.commit_all("stage and alias")
    builders.write_version(
        registry.root, "digits", 2, metrics={"accuracy": 0.5}, description="relabelled"
    )
    (registry.root / "registry/digits/versions/3.yaml").unlink()
    (registry.root / "registry/digits/stages/staging.yaml").unlink()
    (registry.root / "registry/digits/aliases/champion.yaml").unlink()
    builders.write_config(registry.root, stages=("dev", "staging", "production"))
    builders.write_model(registry.root, "digits", description="handwritten digits")
    registry.commit_all("edits")

    assert events(registry, base) == [
        ("config_changed", None, None, None, None, ("stages",)),
        ("metadata_changed", "digits", None, None, None, ("description",)),
        ("metadata_changed", "digits", 2, None, None, ("description", "metrics")),
        ("removed", "digits", 3, None, None, ()),
        ("cleared", "digits", None, "staging", 1, ()),
        ("alias_removed", "digits", None, "champion", 1, ()),
    ]
    # Reversed, the same range reads the other way round.
    assert [e[0] for e in events(registry, "HEAD", base)] == [
        "config_changed",
        "registered",
        "metadata_changed",
        "metadata_changed",
        "promoted",
        "alias_set",
    ]


def test_canary_and_note_only_changes(registry: Workspace) -> None:
    builders.write_pointer(registry.root, "digits", "production", 1, reason="first")
    base = registry.commit_all("production")
    builders.write_pointer(registry.root, "digits", "production", 1, reason="typo fixed")
    registry.commit_all("reword")
    assert events(registry, base) == []
    builders.write_pointer(
        registry.root, "digits", "production", 1, canary={"version": 2, "weight": 0.1}
    )
    registry.commit_all("canary")
    assert events(registry, base) == [
        ("canary_changed", "digits", 1, "production", 1, "v2 takes 10%")
    ]


def test_outputs_json_markdown_and_text(registry: Workspace, cli: CliRunner) -> None:
    base = registry.git("rev-parse", "HEAD").strip()
    promote("digits", 2, "production", repo=registry.root, reason="a | b", now=lambda: _at(9))
    repo = ["--repo", str(registry.root)]

    document = json.loads(cli.invoke(cli_group, [*repo, "diff", base, "--json"]).output)
    assert document["format"] == "modelreg.diff/1"
    assert (document["base"], document["head"], document["base_commit"]) == (base, "HEAD", base)
    assert document["head_commit"] == registry.git("rev-parse", "HEAD").strip()
    assert document["events"] == [
        {
            "event": "promoted",
            "model": "digits",
            "version": 2,
            "ref": "digits/2",
            "stage": "production",
            "alias": None,
            "previous": None,
            "fields": [],
            "detail": "a | b",
            "path": "registry/digits/stages/production.yaml",
        }
    ]

    markdown = cli.invoke(cli_group, [*repo, "diff", base, "HEAD", "--markdown"]).output
    assert markdown.splitlines()[2:] == [
        "| Event | Model | Version | Stage | Detail |",
        "|---|---|---|---|---|",
        "| promoted | digits | - → v2 | production | a \\| b |",
    ]
    text = cli.invoke(cli_group, [*repo, "diff", base]).output
    assert text.splitlines()[0] == f"1 registry event between {base} and HEAD"
    assert "promoted  digits  - → v2   production  a | b" in text

    same = cli.invoke(cli_group, [*repo, "diff", "HEAD", "HEAD", "--markdown"]).output
    assert same.startswith("No registry changes between `HEAD` (")
    assert cli.invoke(cli_group, [*repo, "diff", "HEAD"]).output == (
        "no registry changes between HEAD and HEAD\n"
    )


def test_bad_revisions_and_broken_files_are_one_line_errors(
    registry: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = ["--repo", str(registry.root)]
    assert main([*repo, "diff", "no-such-branch"]) == 1
    assert capsys.readouterr().err == (
        "error: unknown revision 'no-such-branch': no such branch, tag or commit here\n"
    )
    with pytest.raises(InputError, match="'--output=x' is not a revision"):
        diff_revisions(registry.root, "--output=x")
    with pytest.raises(GitError):
        diff_revisions(registry.root, "HEAD", "HEAD~99")

    base = registry.git("rev-parse", "HEAD").strip()
    path = registry.root / "registry/digits/versions/2.yaml"
    path.write_text(path.read_text().replace("version: 2", "version: two"))
    registry.commit_all("broken")
    with pytest.raises(ManifestError, match=r"versions/2.yaml:\d+: version: .*\(at HEAD; run"):
        diff_revisions(registry.root, base)
    assert main([*repo, "diff", base, "--json", "--markdown"]) == 2


def test_github_output_for_deploy_jobs(
    registry: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CliRunner
) -> None:
    base = registry.git("rev-parse", "HEAD").strip()
    promote("digits", 2, "production", repo=registry.root, now=lambda: _at(9))
    builders.write_version(registry.root, "digits", 4)
    registry.commit_all("v4")
    repo = ["--repo", str(registry.root)]
    assert (
        "--github-output needs $GITHUB_OUTPUT"
        in cli.invoke(cli_group, [*repo, "diff", base, "--github-output"]).output
    )

    output = tmp_path / "github_output"
    output.write_text("earlier=kept\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    done = cli.invoke(cli_group, [*repo, "diff", base, "--github-output", "--markdown"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("### Registry changes between")
    lines = output.read_text().splitlines()
    assert lines[:5] == [
        "earlier=kept",
        "changed=true",
        "count=2",
        'models=["digits"]',
        'moves=[{"model":"digits","stage":"production","version":2,"previous":null,'
        '"event":"promoted"}]',
    ]
    assert lines[5].startswith('events=[{"event":"registered","model":"digits","version":4,')
    assert len(lines) == 6

    output.write_text("")
    cli.invoke(cli_group, [*repo, "diff", "HEAD", "--github-output"])
    assert output.read_text().splitlines()[:3] == ["changed=false", "count=0", "models=[]"]
