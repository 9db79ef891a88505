"""``history``: stage changes read from real git history, however they were made."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg.api import Registry, stage_history
from modelreg.api import promote as api_promote
from modelreg.api import rollback as api_rollback
from modelreg.cli import cli
from modelreg.core.errors import NotFoundError
from modelreg.core.git import Git
from modelreg.core.pointer_log import (
    PointerBlob,
    pointer_stack,
    read_canonical_pointer,
    read_pointer_blob,
)
from modelreg.core.yaml_io import dump_yaml, top_level_scalars
from modelreg.reporting.diff import diff_revisions
from tests import builders
from tests.conftest import RegistryFactory, Workspace


def promote(
    ws: Workspace,
    version: int,
    message: str,
    *,
    stage: str = "production",
    author: str = "Test Author",
    **extra: object,
) -> None:
    builders.write_pointer(ws.root, "digits", stage, version, **extra)
    ws.git("add", "-A")
    ws.git("-c", f"user.name={author}", "commit", "-q", "-m", message)


@pytest.fixture
def history_repo(make_registry: RegistryFactory) -> Workspace:
    ws = make_registry({"digits": 3}, message="register digits 1-3")
    promote(ws, 1, "promote digits 1 to production", reason="first release", author="Ada")
    promote(ws, 1, "reword the reason", reason="first release, reviewed")  # no version change
    promote(ws, 2, "Promote digits 2 to production (#7)", reason="better accuracy", author="Bob")
    promote(ws, 3, "promote digits 3 to staging", stage="staging", author="Cy")
    # A pull request merged with a merge commit: the change shows as the merge.
    ws.git("checkout", "-q", "-b", "promote-3")
    promote(ws, 3, "promote digits 3 to production", reason="faster", author="Dee")
    ws.git("checkout", "-q", "main")
    ws.git(
        "merge", "-q", "--no-ff", "-m", "Merge pull request #15 from team/promote-3", "promote-3"
    )
    # An incident: a plain git revert of that merge.
    ws.git("revert", "--no-edit", "-m", "1", "HEAD")
    return ws


def test_history_reads_every_kind_of_change(history_repo: Workspace) -> None:
    with Registry.open(history_repo.root) as registry:
        changes = stage_history(registry, "digits")
    summary = [
        (c.stage, c.from_version, c.to_version, c.kind, c.pr, c.reason, c.merge) for c in changes
    ]
    assert summary == [
        # A hand revert has no reason of its own (not v2's old one it restored).
        ("production", 3, 2, "rolled back", None, "", False),
        ("production", 2, 3, "promoted", 15, "faster", True),
        ("staging", None, 3, "assigned", None, "", False),
        ("production", 1, 2, "promoted", 7, "better accuracy", False),
        ("production", None, 1, "assigned", None, "first release", False),
    ]
    assert [c.author.split(" <")[0] for c in changes] == [
        "Test Author",
        "Test Author",
        "Cy",
        "Bob",
        "Ada",
    ]
    assert changes[0].subject.startswith('Revert "Merge pull request #15')


def test_history_of_one_stage_with_a_limit(history_repo: Workspace) -> None:
    with Registry.open(history_repo.root) as registry:
        production = stage_history(registry, "digits", stage="Production")
        latest = stage_history(registry, "digits", stage="production", limit=2)
    assert {c.stage for c in production} == {"production"}
    assert len(production) == 4
    assert [c.to_version for c in latest] == [2, 3]


def test_aliases_and_cleared_stages(history_repo: Workspace) -> None:
    ws = history_repo
    builders.write_alias(ws.root, "digits", "champion", 2)
    ws.commit_all("alias champion")
    (ws.root / "registry/digits/stages/staging.yaml").unlink()
    ws.commit_all("empty staging")
    with Registry.open(ws.root) as registry:
        changes = stage_history(registry, "digits", limit=2)
        no_aliases = stage_history(registry, "digits", include_aliases=False, limit=1)
    assert [(c.stage, c.is_alias, c.from_version, c.to_version, c.kind) for c in changes] == [
        ("staging", False, 3, None, "cleared"),
        ("champion", True, None, 2, "assigned"),
    ]
    assert no_aliases[0].stage == "staging"


def test_a_broken_pointer_in_history_does_not_break_history(history_repo: Workspace) -> None:
    ws = history_repo
    (ws.root / "registry/digits/stages/production.yaml").write_text("version: [\n")
    ws.commit_all("oops")
    promote(ws, 3, "fix it")
    with Registry.open(ws.root) as registry:
        changes = stage_history(registry, "digits", stage="production", limit=2)
    assert [(c.from_version, c.to_version) for c in changes] == [(None, 3), (2, None)]


def test_history_errors(history_repo: Workspace) -> None:
    with Registry.open(history_repo.root) as registry:
        with pytest.raises(
            NotFoundError,
            match=r"'prod' is not a stage of this registry; did "
            r"you mean 'production'\?",
        ):
            stage_history(registry, "digits", stage="prod")
        with pytest.raises(NotFoundError, match="no model named 'digit'"):
            stage_history(registry, "digit")


def test_history_cli(history_repo: Workspace) -> None:
    runner = CliRunner()
    base = ["--repo", str(history_repo.root), "history"]
    result = runner.invoke(cli, [*base, "digits", "--stage", "production", "--json"])
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["format"] == "modelreg.history/1"
    assert [c["to_version"] for c in document["changes"]] == [2, 3, 2, 1]
    assert document["changes"][1]["pr"] == 15

    table = runner.invoke(cli, [*base, "digits", "--stage", "production"])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0] == "digits: 4 stage changes"
    assert lines[1].split() == [
        "DATE",
        "STAGE",
        "VERSION",
        "CHANGE",
        "AUTHOR",
        "COMMIT",
        "PR",
        "REASON",
    ]
    assert "3 → 2" in lines[2] and "rolled back" in lines[2]
    assert "#15" in lines[3] and "faster" in lines[3]

    empty = runner.invoke(cli, [*base, "digits", "--stage", "staging", "--limit", "1"])
    assert "staging" in empty.output and empty.exit_code == 0


def test_a_commit_message_holding_the_logs_separators_hides_no_change(
    history_repo: Workspace, modelreg_exe: str
) -> None:
    """Commit messages are untrusted: one holding the record and field separators of the
    log reader (git keeps both in a subject) must neither hide its change nor shift its
    fields; before, such a promotion was missing from history, stacks and rollback."""
    hostile = "promote digits 1\x1e\x1fabc\x1f\x1f\x1f\x1f\x1f\x1fto production"
    promote(history_repo, 1, hostile, reason="sneaky", author="Mallory")
    promote(history_repo, 3, "promote digits 3 to production", reason="after", author="Eve")

    done = subprocess.run(
        [modelreg_exe, "--repo", str(history_repo.root), "history", "digits", "--stage",
         "production", "--json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    changes = json.loads(done.stdout)["changes"]
    assert [(c["from_version"], c["to_version"]) for c in changes[:3]] == [(1, 3), (2, 1), (3, 2)]
    assert changes[1]["author"].startswith("Mallory") and changes[1]["reason"] == "sneaky"
    # The rollback stack holds it too, with its subject whole.
    stack = pointer_stack(Git(history_repo.root), "HEAD", "registry/digits/stages/production.yaml")
    assert [state.subject for state in stack[-2:]] == [hostile, "promote digits 3 to production"]


# --- the history cache ---------------------------------------------------------------------


def summary(ws: Workspace, **kwargs: object) -> list[tuple[object, ...]]:
    with Registry.open(ws.root) as registry:
        changes = stage_history(registry, "digits", **kwargs)  # type: ignore[arg-type]
    return [(c.commit, c.stage, c.from_version, c.to_version, c.kind, c.reason) for c in changes]


def cache_files(ws: Workspace) -> list[str]:
    folder = ws.root / ".git" / "modelreg" / "history"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_the_cache_gives_exactly_what_git_gives(history_repo: Workspace) -> None:
    ws = history_repo
    fresh = summary(ws, use_cache=False)
    assert summary(ws) == fresh and len(cache_files(ws)) == 1
    assert summary(ws) == fresh  # answered from the cache

    # New commits extend it, merges included.
    promote(ws, 1, "promote digits 1 again", reason="back to basics")
    ws.git("checkout", "-q", "-b", "later")
    promote(ws, 2, "promote 2 to staging on a branch", stage="staging")
    ws.git("checkout", "-q", "main")
    ws.git("merge", "-q", "--no-ff", "-m", "Merge pull request #20 from team/later", "later")
    assert summary(ws) == summary(ws, use_cache=False)
    assert summary(ws)[0][1:5] == ("staging", 3, 2, "promoted")
    assert summary(ws)[1][1:5] == ("production", 2, 1, "promoted")

    # An older revision, then a rewritten history (a force-push), are recomputed.
    older = ws.git("rev-parse", "HEAD~3").strip()
    assert summary(ws, rev=older) == summary(ws, rev=older, use_cache=False)
    ws.git("reset", "-q", "--hard", older)
    promote(ws, 2, "a different future", reason="rewritten")
    assert summary(ws) == summary(ws, use_cache=False)
    assert summary(ws)[0][5] == "rewritten"


def test_a_damaged_or_unwritable_cache_is_only_slower(history_repo: Workspace) -> None:
    ws = history_repo
    fresh = summary(ws, use_cache=False)
    summary(ws)
    [name] = cache_files(ws)
    cache = ws.root / ".git" / "modelreg" / "history" / name
    for damage in ("{not json", '{"format": 99}', '{"format": 1, "paths": []}', ""):
        cache.write_text(damage)
        assert summary(ws) == fresh
    # A folder where the file should be can be neither read nor replaced (tests run as
    # root, so permissions cannot stand in for a read-only repository).
    cache.unlink()
    cache.mkdir()
    promote(ws, 1, "one more")
    assert summary(ws) == summary(ws, use_cache=False)
    assert cache.is_dir()


_REASONS = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="ab yes:#-.)(,\"'\n\t", max_size=12),
    st.sampled_from(["better accuracy", "no", "Null", "rollback: bad", "a #1", "ok.", "x"]),
)


@settings(max_examples=300, deadline=None)
@given(version=st.integers(min_value=1, max_value=10**6), reason=_REASONS, retired=st.booleans())
def test_the_fast_pointer_reader_agrees_with_the_parser(
    version: int, reason: str, retired: bool
) -> None:
    """Canonical pointer files skip the YAML parser; whatever the reason says, the
    answer must be the parser's."""
    document: dict[str, object] = {"version": version, "since": "2026-01-01T00:00:00Z"}
    if reason:
        document["reason"] = reason
    if retired:
        document["retired"] = [1, 2]
    blob = dump_yaml(document).encode()
    slow = top_level_scalars(blob, {"version", "reason"})
    expected = (
        slow.get("version"),
        slow.get("reason") if isinstance(slow.get("reason"), str) else "",
    )
    got = read_pointer_blob(blob)
    assert (got.version, got.reason) == expected
    fast = read_canonical_pointer(blob)
    assert fast is None or fast == got


def test_the_fast_pointer_reader_declines_what_it_cannot_read() -> None:
    assert read_canonical_pointer(b"version: 3\nreason: better accuracy\n") == PointerBlob(
        3, "better accuracy"
    )
    for blob in (
        b"version: 3\nreason: 'quoted'\n",
        b"version: 3\nreason: >-\n  folded\n",
        b"version: 3\nversion: 4\n",
        b"{version: 3}\n",
        b"version: 03\n",
        b"version: 3\nreason: no\n",
    ):
        assert read_canonical_pointer(blob) is None, blob


# --- classification from state, not from commit messages --------------------------------------


def _history_kinds(
    modelreg_exe: str, root: Path
) -> tuple[list[list[str]], list[tuple[object, ...]]]:
    """``modelreg history`` of digits' production stage, as the table's (VERSION, CHANGE)
    cells and as the --json changes' (from, to, kind)."""
    command = [modelreg_exe, "--repo", str(root), "history", "digits", "--stage", "production"]
    table = subprocess.run(command, capture_output=True, text=True, check=False)
    assert table.returncode == 0, table.stderr
    rows = [line.split("  ") for line in table.stdout.splitlines()[2:]]
    cells = [[c.strip() for c in row if c.strip()][2:4] for row in rows]
    document = subprocess.run([*command, "--json"], capture_output=True, text=True, check=False)
    assert document.returncode == 0, document.stderr
    changes = json.loads(document.stdout)["changes"]
    return cells, [(c["from_version"], c["to_version"], c["kind"]) for c in changes]


def test_a_hand_revert_of_a_rollback_shows_as_a_promotion(
    offline_registry: Workspace, modelreg_exe: str
) -> None:
    ws = offline_registry
    for number in (1, 2):
        builders.write_version(ws.root, "digits", number)
    ws.commit_all("register digits 1-2")
    clock = datetime(2026, 3, 1, 9, tzinfo=UTC)
    api_promote("digits", 1, "production", repo=ws.root, now=lambda: clock)
    api_promote("digits", 2, "production", repo=ws.root, now=lambda: clock.replace(hour=10))
    undone = api_rollback("digits", "production", repo=ws.root, reason="latency spike")
    # Someone reverts the rollback by hand: v2 is back, promoted again, whatever the
    # subject ('Revert "Revert ..."') says.
    ws.git("revert", "--no-edit", undone.commit)

    cells, changes = _history_kinds(modelreg_exe, ws.root)

    assert changes == [
        (1, 2, "promoted"),
        (2, 1, "rolled back"),
        (1, 2, "promoted"),
        (None, 1, "assigned"),
    ]
    assert cells == [
        ["1 → 2", "promoted"],
        ["2 → 1", "rolled back"],
        ["1 → 2", "promoted"],
        ["- → 1", "assigned"],
    ]
    # diff, which compares states, says the same of the revert.
    moved = diff_revisions(ws.root, "HEAD~1", "HEAD").events
    assert [(e.event, e.previous, e.version) for e in moved] == [("promoted", 1, 2)]
    # And the stack agrees: the next rollback undoes the revert, back to v1.
    again = api_rollback("digits", "production", repo=ws.root)
    assert (again.version, again.reverted) == (1, (ws.git("rev-parse", "HEAD~1").strip(),))


def test_a_hand_revert_of_a_fresh_pointer_rollback_shows_as_a_promotion(
    offline_registry: Workspace, modelreg_exe: str
) -> None:
    ws = offline_registry
    for number in (1, 2, 3):
        builders.write_version(ws.root, "digits", number)
    # A hand-written pointer: history cannot show v2's file, so rollback writes a fresh one.
    builders.write_pointer(ws.root, "digits", "production", 3, previous=2, retired=[1, 2])
    ws.commit_all("hand-written pointer")
    undone = api_rollback("digits", "production", repo=ws.root)
    assert undone.reverted == ()
    ws.git("revert", "--no-edit", undone.commit)

    _, changes = _history_kinds(modelreg_exe, ws.root)

    assert changes == [(2, 3, "promoted"), (3, 2, "rolled back"), (None, 3, "assigned")]
