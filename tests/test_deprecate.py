"""``modelreg deprecate``: a version that must not be used, reviewed like any edit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from modelreg.api import ConflictError, NotFoundError, Registry, deprecate, validate
from modelreg.cli import cli as cli_group
from tests import builders
from tests.conftest import RegistryFactory, Workspace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    return make_registry(
        {"digits": 3},
        models={"digits": {"card": builders.CARD}},
        stages={"digits": {"production": 2}},
        aliases={"digits": {"champion": 1}},
        message="three versions",
    )


def test_deprecating_writes_the_reason_and_commits_with_trailers(registry: Workspace) -> None:
    done = deprecate(
        "digits",
        3,
        repo=registry.root,
        reason="trained on leaked labels",
        commit=True,
        now=lambda: NOW,
    )

    assert done.path == "registry/digits/versions/3.yaml" and done.aliases == ()
    with Registry.open(registry.root) as reg:
        version = reg.version("digits", 3)
    assert version.deprecation is not None
    assert (version.deprecation.date, version.deprecation.reason) == (
        NOW,
        "trained on leaked labels",
    )
    after = (registry.root / done.path).read_text()
    # Only the deprecation was added: three lines, nothing else in the file moved.
    numstat = registry.git("diff", "--numstat", "HEAD~1", "HEAD").split()
    assert numstat == ["3", "0", "registry/digits/versions/3.yaml"]
    assert (
        "deprecation:\n  date: '2026-03-01T12:00:00Z'\n  reason: trained on leaked labels\n"
        in after
    )
    message = registry.git("log", "-1", "--format=%B")
    assert message.startswith("deprecate digits version 3\n\ntrained on leaked labels\n")
    assert "Modelreg-Event: deprecate\nModelreg-Model: digits\nModelreg-Version: 3\n" in message
    assert "Modelreg-Reason: trained on leaked labels" in message
    assert registry.status() == ""
    # Deprecation is a mutable field: the change validates against the base.
    assert validate(registry.root, base="HEAD~1", offline=True).ok


def test_a_version_in_a_stage_cannot_be_deprecated(registry: Workspace) -> None:
    with pytest.raises(ConflictError) as caught:
        deprecate("digits", 2, repo=registry.root)
    assert str(caught.value) == (
        "digits/2 is in production; promote another version there (or roll back) before "
        "deprecating it"
    )
    assert registry.status() == ""


def test_a_canary_cannot_be_deprecated(registry: Workspace) -> None:
    """validate refuses a deprecated canary, so deprecating one would break the registry."""
    builders.write_pointer(
        registry.root, "digits", "production", 2, canary={"version": 3, "weight": 0.1}
    )
    registry.commit_all("canary v3")
    with pytest.raises(ConflictError) as caught:
        deprecate("digits", 3, repo=registry.root, commit=True)
    assert str(caught.value) == (
        "digits/3 is the canary in production; take the canary out of that pointer before "
        "deprecating it"
    )
    assert registry.status() == ""
    assert validate(registry.root, offline=True).ok


def test_an_alias_is_reported_not_refused(registry: Workspace) -> None:
    done = deprecate("digits", 1, repo=registry.root)
    assert done.aliases == ("champion",)
    report = validate(registry.root, offline=True)
    assert report.ok and [f.code for f in report.warnings] == ["pointer-deprecated"]


def test_twice_undo_and_unknown(registry: Workspace) -> None:
    deprecate("digits", 3, repo=registry.root, reason="bad", now=lambda: NOW)
    with pytest.raises(
        ConflictError, match=r"digits/3 is already deprecated \(since 2026-03-01: bad\); use --undo"
    ):
        deprecate("digits", 3, repo=registry.root)
    deprecate("digits", 3, repo=registry.root, undo=True)
    with Registry.open(registry.root) as reg:
        assert reg.version("digits", 3).deprecation is None
    with pytest.raises(ConflictError, match=r"digits/3 is not deprecated; nothing to undo"):
        deprecate("digits", 3, repo=registry.root, undo=True)
    with pytest.raises(NotFoundError, match=r"digits"):
        deprecate("digits", 9, repo=registry.root)


def test_uncommitted_edits_are_not_swept_into_the_commit(registry: Workspace) -> None:
    path = registry.root / "registry/digits/versions/3.yaml"
    path.write_text(path.read_text() + "# local edit\n")
    with pytest.raises(ConflictError, match=r"has uncommitted changes; commit or discard them"):
        deprecate("digits", 3, repo=registry.root, commit=True)


def test_cli(registry: Workspace, cli: CliRunner) -> None:
    repo = ["--repo", str(registry.root)]
    done = cli.invoke(cli_group, [*repo, "deprecate", "digits", "1", "--reason", "old", "--commit"])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0] == "deprecated digits/1: old (registry/digits/versions/1.yaml)"
    assert lines[1] == "warning: @champion still point at it; move them to another version"
    assert lines[2].startswith("committed ")
    shown = cli.invoke(cli_group, [*repo, "show", "digits/1"])
    assert "deprecated" in shown.output
    usage = cli.invoke(cli_group, [*repo, "deprecate", "digits", "1", "--undo", "--reason", "x"])
    assert (
        usage.exit_code == 2 and "--reason goes with deprecating, not with --undo" in usage.output
    )
    zero = cli.invoke(cli_group, [*repo, "deprecate", "digits", "0"])
    assert zero.exit_code == 2
