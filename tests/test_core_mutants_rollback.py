"""``rollback`` (modelreg.ops.rollback), exactly: each refusal in full, the commit
message and pull-request body of each shape of rollback, and the fresh pointer it
writes when history cannot show the earlier file.

Written to kill the mutants mutation testing left alive (make mutation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelreg.api import ConflictError, NotFoundError, Registry, promote, rollback
from modelreg.core.model import StagePointer
from modelreg.ops.rollback import Rollback, _message, _parse, _pull_body, _Step
from tests import builders
from tests.conftest import RegistryFactory, Workspace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POINTER = "registry/digits/stages/production.yaml"


def _at(hour: int) -> datetime:
    return NOW.replace(hour=hour)


def step(commit: str, subject: str, version: int) -> _Step:
    return _Step(commit, subject, b"", StagePointer("digits", "production", version))


# --- pure parts ------------------------------------------------------------------------------


def test_the_json_result_names_every_field() -> None:
    done = Rollback(
        path=POINTER,
        commit="c0ffee",
        model="digits",
        stage="production",
        version=1,
        rolled_back=2,
        reverted=("a", "b"),
        reason="",
    )
    assert done.to_json() == {
        "format": "modelreg.rollback/1",
        "model": "digits",
        "stage": "production",
        "version": 1,
        "rolled_back": 2,
        "reverted": ["a", "b"],
        "reason": None,
        "path": POINTER,
        "commit": "c0ffee",
        "branch": None,
        "pull_request": None,
        "warnings": [],
    }
    done = Rollback(
        path=POINTER,
        commit="c",
        model="m",
        stage="s",
        version=1,
        rolled_back=2,
        reverted=(),
        reason="why",
        warnings=("w",),
    )
    assert (done.to_json()["reason"], done.to_json()["warnings"]) == ("why", ["w"])


def test_one_reverted_commit_reads_as_git_revert_writes_it() -> None:
    message = _message("digits", "production", 1, 2, [step("abc123", "promote v2", 1)], "slow")
    assert message == (
        'Revert "promote v2"\n\n'
        "This reverts commit abc123.\n\n"
        "slow\n\n"
        "Modelreg-Event: rollback\n"
        "Modelreg-Model: digits\n"
        "Modelreg-Stage: production\n"
        "Modelreg-Version: 1\n"
        "Modelreg-Previous: 2\n"
        "Modelreg-Reason: slow\n"
        "Modelreg-Reverts: abc123\n"
    )
    quiet = _message("digits", "production", 1, 2, [step("abc123", "promote v2", 1)], "")
    assert quiet == (
        'Revert "promote v2"\n\n'
        "This reverts commit abc123.\n\n"
        "Modelreg-Event: rollback\n"
        "Modelreg-Model: digits\n"
        "Modelreg-Stage: production\n"
        "Modelreg-Version: 1\n"
        "Modelreg-Previous: 2\n"
        "Modelreg-Reverts: abc123\n"
    )


def test_several_reverted_commits_are_listed_in_one_message() -> None:
    steps = [step("c3", "promote v3", 2), step("c2", "promote v2", 1)]
    assert _message("digits", "production", 1, 3, steps, "") == (
        "roll back digits production to version 1\n\n"
        "This reverts commits c3, c2.\n\n"
        "Modelreg-Event: rollback\n"
        "Modelreg-Model: digits\n"
        "Modelreg-Stage: production\n"
        "Modelreg-Version: 1\n"
        "Modelreg-Previous: 3\n"
        "Modelreg-Reverts: c3 c2\n"
    )


def test_a_fresh_pointer_message_says_what_the_stage_held() -> None:
    assert _message("digits", "production", 2, 3, [], "bad data") == (
        "roll back digits production to version 2\n\n"
        "The stage held v2 before v3.\n\n"
        "bad data\n\n"
        "Modelreg-Event: rollback\n"
        "Modelreg-Model: digits\n"
        "Modelreg-Stage: production\n"
        "Modelreg-Version: 2\n"
        "Modelreg-Previous: 3\n"
        "Modelreg-Reason: bad data\n"
    )


def test_the_pull_request_body() -> None:
    current = StagePointer("digits", "production", 3, since=NOW)
    steps = [step("0123456789abcdef", "promote v3", 2)]
    body = _pull_body("digits", "production", 2, current, steps, "bad *data*", "TABLE")
    assert body == (
        "<!-- modelreg:rollback model=digits stage=production version=2 -->\n"
        "## Roll back digits production to v2\n"
        "\n"
        "Takes v3 (in production since 2026-03-01T12:00:00Z) out of production and "
        "restores v2.\n"
        "\n"
        "**Reason:** bad \\*data\\*\n"
        "\n"
        "Restores the pointer file exactly as it was (reverts 0123456789).\n"
        "\n"
        "### Comparison\n"
        "\n"
        "TABLE"
    )
    plain = _pull_body(
        "my_model", "production", 2, StagePointer("my_model", "production", 3), [], "", "T"
    )
    assert plain == (
        "<!-- modelreg:rollback model=my_model stage=production version=2 -->\n"
        "## Roll back my\\_model production to v2\n"
        "\n"
        "Takes v3 out of production and restores v2.\n"
        "\n"
        "### Comparison\n"
        "\n"
        "T"
    )
    two = [step("a" * 12, "s", 2), step("b" * 12, "s", 1)]
    assert "(reverts aaaaaaaaaa, bbbbbbbbbb)" in _pull_body(
        "digits", "production", 1, current, two, "", ""
    )


def test_an_earlier_file_that_does_not_validate_is_not_restored() -> None:
    like = StagePointer("digits", "production", 3)
    assert _parse(POINTER, b"version: 2\nprevious: 1\n", like) == StagePointer(
        "digits", "production", 2, previous=1
    )
    assert _parse(POINTER, b"version: two\n", like) is None
    assert _parse(POINTER, b"version: [\n", like) is None


# --- on a registry ---------------------------------------------------------------------------


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    return make_registry({"digits": 4}, message="four versions")


def held(root: Path) -> int | None:
    with Registry.open(root) as reg:
        pointer = reg.pointer("digits", "production")
    return pointer.version if pointer else None


def test_rolling_back_to_the_current_version_is_refused(registry: Workspace) -> None:
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))
    with pytest.raises(ConflictError) as caught:
        rollback("digits", "production", repo=registry.root, to=2)
    assert str(caught.value) == "digits/2 is already in production; nothing to roll back"
    with pytest.raises(NotFoundError):
        rollback("digits", "production", repo=registry.root, to=9)


def test_a_stage_that_held_one_version_has_nothing_to_roll_back_to(registry: Workspace) -> None:
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    with pytest.raises(ConflictError) as caught:
        rollback("digits", "Production", repo=registry.root)
    assert str(caught.value) == (
        "production of digits has held only v1; there is no earlier version to roll back to "
        "(use 'modelreg promote' to move it to another version)"
    )
    with pytest.raises(ConflictError) as caught:
        rollback("digits", "staging", repo=registry.root)
    assert str(caught.value) == ("digits has no version in staging; there is nothing to roll back")


def test_rollback_to_an_older_version_reverts_each_promotion(registry: Workspace) -> None:
    commits = [
        promote("digits", n, "production", repo=registry.root, now=lambda n=n: _at(8 + n)).commit
        for n in (1, 2, 3)
    ]
    done = rollback("digits", "production", repo=registry.root, to=1, reason="bad")
    assert (done.version, done.rolled_back, done.reverted) == (1, 3, (commits[2], commits[1]))
    assert (done.model, done.stage, done.reason, done.path) == (
        "digits",
        "production",
        "bad",
        POINTER,
    )
    assert done.commit == registry.git("rev-parse", "HEAD").strip()
    assert held(registry.root) == 1
    message = registry.git("log", "-1", "--format=%B")
    assert message.startswith(
        "roll back digits production to version 1\n\n"
        f"This reverts commits {commits[2]}, {commits[1]}.\n\nbad\n"
    )
    # the one-step rollback stops at the first earlier state
    promote("digits", 4, "production", repo=registry.root, now=lambda: _at(13))
    again = rollback("digits", "production", repo=registry.root)
    assert (again.version, again.rolled_back, len(again.reverted)) == (1, 4, 1)


def test_a_fresh_pointer_goes_back_to_a_retired_version(registry: Workspace) -> None:
    builders.write_pointer(registry.root, "digits", "production", 4, previous=3, retired=[1, 3])
    registry.commit_all("hand-written pointer")
    done = rollback("digits", "production", repo=registry.root, to=1, now=lambda: _at(12))
    assert (done.version, done.rolled_back, done.reverted) == (1, 4, ())
    text = (registry.root / POINTER).read_text()
    assert text.endswith("version: 1\nsince: '2026-03-01T12:00:00Z'\nretired: [3, 4]\n")
    message = registry.git("log", "-1", "--format=%B")
    assert message.startswith(
        "roll back digits production to version 1\n\nThe stage held v1 before v4.\n"
    )
    assert "Modelreg-Reverts" not in message


def test_a_fresh_pointer_refuses_a_version_that_never_held_the_stage(
    registry: Workspace,
) -> None:
    builders.write_pointer(registry.root, "digits", "production", 4, previous=3, retired=[1])
    registry.commit_all("hand-written pointer")
    with pytest.raises(ConflictError) as caught:
        rollback("digits", "production", repo=registry.root, to=2)
    assert str(caught.value) == (
        "digits/2 has not held production before (earlier versions there: v1, v3); "
        "a rollback returns to one of those, 'modelreg promote' moves anywhere else"
    )
    # the previous version counts as held before, retired or not
    done = rollback("digits", "production", repo=registry.root, to=3, now=lambda: _at(12))
    assert done.version == 3
    assert (registry.root / POINTER).read_text().endswith("retired: [1, 4]\n")


def test_a_fresh_pointer_without_a_previous_lists_only_retired(registry: Workspace) -> None:
    builders.write_pointer(registry.root, "digits", "production", 4, retired=[])
    registry.commit_all("hand-written pointer")
    with pytest.raises(ConflictError) as caught:
        rollback("digits", "production", repo=registry.root, to=2)
    assert "(earlier versions there: none)" in str(caught.value)


def test_rollback_refuses_a_deleted_or_deprecated_target(make_registry: RegistryFactory) -> None:
    ws = make_registry(
        {
            "digits": {
                1: {"deleted": {"date": "2026-03-01T00:00:00Z"}},
                2: {"deprecation": {"date": "2026-03-01T00:00:00Z"}},
                3: {},
            }
        },
        message="three versions",
        stages={"digits": {"production": {"version": 3, "previous": 2, "retired": [1, 2]}}},
    )
    with pytest.raises(ConflictError) as caught:
        rollback("digits", "production", repo=ws.root, to=1)
    assert str(caught.value) == (
        "cannot roll production of digits back to v1: it was deleted; "
        "promote another version instead"
    )
    with pytest.raises(ConflictError) as caught:
        rollback("digits", "production", repo=ws.root)
    assert str(caught.value) == (
        "cannot roll production of digits back to v2: it is deprecated; promote another "
        "version instead, or lift the deprecation (deprecate --undo)"
    )
    assert ws.status() == ""


def test_history_that_does_not_name_the_previous_version_is_not_restored(
    registry: Workspace,
) -> None:
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    # by hand: v3 with v2 as its previous, though history shows v1 before it
    builders.write_pointer(registry.root, "digits", "production", 3, previous=2, retired=[1])
    registry.commit_all("hand-written pointer")
    done = rollback("digits", "production", repo=registry.root, now=lambda: _at(12))
    assert (done.version, done.reverted) == (2, ())
    assert held(registry.root) == 2


def test_an_earlier_pointer_that_does_not_validate_is_not_restored(registry: Workspace) -> None:
    pointer = registry.root / POINTER
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text("version: 1\nbogus: field\n")
    registry.commit_all("a broken pointer")
    builders.write_pointer(registry.root, "digits", "production", 2, previous=1)
    registry.commit_all("hand-written pointer")
    done = rollback("digits", "production", repo=registry.root, now=lambda: _at(12))
    assert (done.version, done.reverted) == (1, ())
    assert "bogus" not in pointer.read_text()


def test_a_fresh_pointer_records_the_reason(registry: Workspace) -> None:
    builders.write_pointer(registry.root, "digits", "production", 3, previous=2, retired=[2])
    registry.commit_all("hand-written pointer")
    done = rollback(
        "digits", "production", repo=registry.root, reason="bad data", now=lambda: _at(12)
    )
    assert (done.version, done.reverted, done.reason) == (2, (), "bad data")
    assert (
        (registry.root / POINTER)
        .read_text()
        .endswith("version: 2\nsince: '2026-03-01T12:00:00Z'\nreason: bad data\nretired: [3]\n")
    )


# --- as a pull request -----------------------------------------------------------------------


def test_a_rollback_pull_request_has_its_branch_title_body_and_result(
    make_registry: RegistryFactory, tmp_path: Path
) -> None:
    from modelreg.integrations.github import GitHub
    from tests.conftest import git
    from tests.github_server import FakeGitHub

    ws = make_registry(
        {"digits": 3},
        stages={
            "digits": {
                "production": {
                    "version": 2,
                    "since": "2026-02-01T08:00:00Z",
                    "previous": 1,
                    "retired": [1],
                }
            }
        },
        message="digits v2 in production",
    )
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    ws.git("remote", "add", "origin", str(origin))
    ws.git("push", "-q", "-u", "origin", "main")
    with (
        FakeGitHub(repo="acme/models", token="t0ken", origin=origin) as server,
        GitHub("acme/models", "t0ken", api_url=server.url) as gh,
    ):
        done = rollback(
            "digits",
            "production",
            repo=ws.root,
            pr=True,
            github=gh,
            base="main",
            reason="p99 doubled",
            now=lambda: _at(12),
        )
    branch = "modelreg/digits/production/rollback-to-v1"
    assert (done.version, done.rolled_back, done.reverted, done.branch) == (1, 2, (), branch)
    assert done.pull is not None and done.pull.number == 1
    assert done.warnings == ()
    assert done.to_json()["pull_request"] == {"number": 1, "url": done.pull.html_url}
    created = server.pulls[-1]
    assert created["title"] == "Roll back digits production to v1"
    body = created["body"]
    assert body.startswith(
        "<!-- modelreg:rollback model=digits stage=production version=1 -->\n"
        "## Roll back digits production to v1\n\n"
        "Takes v2 (in production since 2026-02-01T08:00:00Z) out of production and "
        "restores v1.\n\n"
        "**Reason:** p99 doubled\n\n"
        "### Comparison\n\n"
    )
    assert "| digits/2 | digits/1 |" in body
    assert ws.git("rev-parse", "HEAD").strip() != done.commit  # main is left alone
    assert git(origin, "show", f"{done.commit}:{POINTER}").endswith(
        "version: 1\nsince: '2026-03-01T12:00:00Z'\nreason: p99 doubled\nretired: [2]\n"
    )


@pytest.mark.parametrize(
    ("deprecation", "gone"),
    [
        ({"reason": "drifted"}, "deprecated (drifted)"),
        ({}, "deprecated"),
        (None, "deleted"),
    ],
)
def test_a_canary_gone_since_is_never_brought_back(
    registry: Workspace, deprecation: dict[str, str] | None, gone: str
) -> None:
    root = registry.root
    promote("digits", 1, "production", repo=root, now=lambda: _at(9))
    text = (root / POINTER).read_text()
    (root / POINTER).write_text(text + "canary:\n  version: 3\n  weight: 0.25\n")
    registry.commit_all("a quarter of production to v3")
    promote("digits", 2, "production", repo=root, now=lambda: _at(10))
    manifest = root / "registry/digits/versions/3.yaml"
    field = "deprecation" if deprecation is not None else "deleted"
    extra = {"date": "2026-03-01T11:00:00Z", **(deprecation or {})}
    manifest.write_text(manifest.read_text() + f"{field}: {json_flow(extra)}\n")
    registry.commit_all(f"v3 {gone}")
    head = registry.git("rev-parse", "HEAD").strip()

    with pytest.raises(ConflictError) as caught:
        rollback("digits", "production", repo=root)

    assert str(caught.value) == (
        "cannot roll production of digits back to v1: the pointer then sent 25% of requests "
        f"to the canary v3, which is {gone} now; move production to v1 without it with "
        "'modelreg promote digits 1 production' (--force --reason if its gates refuse)"
    )
    assert registry.git("rev-parse", "HEAD").strip() == head and registry.status() == ""


def json_flow(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: '{v}'" for k, v in mapping.items()) + "}"


def test_a_stale_clone_does_not_roll_back_to_a_version_deprecated_upstream(
    registry: Workspace, tmp_path: Path
) -> None:
    from modelreg.api import deprecate
    from tests.conftest import git

    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    registry.git("push", "-q", str(origin), "main")
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for clone in (alice, bob):
        git(tmp_path, "clone", "-q", str(origin), str(clone))
    deprecate("digits", 3, repo=alice, reason="not this one", commit=True)
    git(alice, "push", "-q")
    assert rollback("digits", "production", repo=bob).version == 1  # v3 is no input here
    git(bob, "reset", "-q", "--hard", "HEAD~1")
    deprecate("digits", 1, repo=alice, reason="leaked labels", commit=True)
    git(alice, "push", "-q")
    head = git(bob, "rev-parse", "HEAD")

    with pytest.raises(ConflictError) as caught:
        rollback("digits", "production", repo=bob)

    message = str(caught.value)
    assert message.startswith(
        "origin/main changed the manifest of digits/1 after this clone last pulled ("
    )
    assert "deprecate digits version 1" in message
    assert "this change of digits's production pointer was decided on the old state" in message
    assert git(bob, "rev-parse", "HEAD") == head


def test_a_live_canary_comes_back_with_its_pointer(registry: Workspace) -> None:
    root = registry.root
    promote("digits", 1, "production", repo=root, now=lambda: _at(9))
    text = (root / POINTER).read_text()
    (root / POINTER).write_text(text + "canary:\n  version: 3\n  weight: 0.25\n")
    registry.commit_all("a quarter of production to v3")
    with_canary = (root / POINTER).read_bytes()
    promote("digits", 2, "production", repo=root, now=lambda: _at(10))

    assert rollback("digits", "production", repo=root).version == 1

    assert (root / POINTER).read_bytes() == with_canary
