"""``modelreg promote`` and ``rollback`` on real git, committing on the current branch."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from modelreg.api import (
    ConflictError,
    InputError,
    NotFoundError,
    Registry,
    promote,
    rollback,
    stage_history,
    validate,
)
from modelreg.cli import cli as cli_group
from modelreg.cli import main
from tests import builders
from tests.conftest import RegistryFactory, Workspace, git

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POINTER = "registry/digits/stages/production.yaml"


def _at(hour: int) -> datetime:
    return NOW.replace(hour=hour)


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    return make_registry({"digits": 4, "iris": 1}, message="four versions")


def production(root: Path, stage: str = "production", model: str = "digits") -> int | None:
    with Registry.open(root) as reg:
        pointer = reg.pointer(model, stage)
    return pointer.version if pointer else None


def assert_valid(root: Path) -> None:
    report = validate(root, offline=True)
    assert report.ok, [f.render() for f in report.findings]


def test_promotion_is_one_commit_of_one_pointer_with_trailers(registry: Workspace) -> None:
    first = promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    done = promote(
        "digits",
        2,
        "Production",  # MLflow's spelling works
        repo=registry.root,
        reason="better on the March data",
        now=lambda: _at(10),
    )

    assert (first.previous, done.previous, done.stage) == (None, 1, "production")
    assert registry.git("rev-parse", "HEAD").strip() == done.commit
    assert registry.git("diff", "--name-only", "HEAD~1", "HEAD").split() == [POINTER]
    text = (registry.root / POINTER).read_text()
    assert text.endswith(
        "version: 2\nsince: '2026-03-01T10:00:00Z'\nprevious: 1\n"
        "reason: better on the March data\nretired: [1]\n"
    )
    message = registry.git("log", "-1", "--format=%B")
    assert message.startswith("promote digits version 2 to production\n\nbetter on the March data")
    assert (
        "Modelreg-Event: promote\nModelreg-Model: digits\nModelreg-Stage: production\n"
        "Modelreg-Version: 2\nModelreg-Previous: 1\nModelreg-Reason: better on the March data\n"
    ) in message
    trailers = registry.git("log", "-1", "--format=%(trailers:key=Modelreg-Previous,valueonly)")
    assert trailers.strip() == "1"
    with Registry.open(registry.root) as reg:
        assert reg.status("digits")[1].archived and reg.status("digits")[1].label == "archived"
    assert registry.status() == ""
    assert_valid(registry.root)


def test_promote_promote_rollback_leaves_the_first_version(registry: Workspace) -> None:
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    before = (registry.root / POINTER).read_bytes()
    second = promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))

    done = rollback("digits", "production", repo=registry.root, reason="latency spike")

    assert (done.version, done.rolled_back, done.reverted) == (1, 2, (second.commit,))
    assert production(registry.root) == 1
    assert (registry.root / POINTER).read_bytes() == before  # exactly as it was
    message = registry.git("log", "-1", "--format=%B")
    assert message.startswith(
        'Revert "promote digits version 2 to production"\n\n'
        f"This reverts commit {second.commit}.\n\nlatency spike\n"
    )
    assert "Modelreg-Event: rollback\n" in message and "Modelreg-Previous: 2\n" in message
    assert_valid(registry.root)
    # Only v1 ever held the stage before: nothing further back.
    with pytest.raises(ConflictError, match="has held only v1; there is no earlier version"):
        rollback("digits", "production", repo=registry.root)


def test_a_hand_git_revert_does_the_same(registry: Workspace) -> None:
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    before = (registry.root / POINTER).read_bytes()
    second = promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))

    registry.git("revert", "--no-edit", second.commit)

    assert production(registry.root) == 1
    assert (registry.root / POINTER).read_bytes() == before
    assert_valid(registry.root)
    history = stage_history(Registry.open(registry.root), "digits", stage="production")
    assert [(c.kind, c.from_version, c.to_version) for c in history] == [
        ("rolled back", 2, 1),
        ("promoted", 1, 2),
        ("assigned", None, 1),
    ]


def test_rollbacks_walk_back_and_never_forward(registry: Workspace) -> None:
    for hour, number in ((9, 1), (10, 2), (11, 3)):
        promote("digits", number, "production", repo=registry.root, now=lambda h=hour: _at(h))

    assert rollback("digits", "production", repo=registry.root).version == 2
    assert rollback("digits", "production", repo=registry.root).version == 1
    assert production(registry.root) == 1
    # Re-promote v3, then go straight back to v1 in one commit.
    promote("digits", 3, "production", repo=registry.root, now=lambda: _at(12))
    promote("digits", 4, "production", repo=registry.root, now=lambda: _at(13))
    head = registry.git("rev-parse", "HEAD").strip()
    done = rollback("digits", "production", repo=registry.root, to=1)
    assert done.version == 1 and len(done.reverted) == 2
    assert registry.git("rev-list", "--count", f"{head}..HEAD").strip() == "1"
    assert registry.git("log", "-1", "--format=%s").strip() == (
        "roll back digits production to version 1"
    )
    assert_valid(registry.root)


def test_a_rollback_is_not_mistaken_for_a_promotion_when_versions_cycle(
    registry: Workspace,
) -> None:
    # v1 -> v2 -> v1 again: the rollback of the second v1 restores the v2 pointer, whose
    # change from v1 looks like a promotion "from v1"; the next rollback must still undo
    # the promotion of v2, not the rollback, and leave v1 with nothing below it.
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    first = (registry.root / POINTER).read_bytes()
    second = promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(11))
    assert rollback("digits", "production", repo=registry.root).version == 2

    done = rollback("digits", "production", repo=registry.root)

    assert (done.version, done.reverted) == (1, (second.commit,))
    assert (registry.root / POINTER).read_bytes() == first
    with pytest.raises(ConflictError, match="has held only v1; there is no earlier version"):
        rollback("digits", "production", repo=registry.root)
    assert_valid(registry.root)


def test_rollback_reverts_a_merged_or_squashed_pull_request(registry: Workspace) -> None:
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    before = (registry.root / POINTER).read_bytes()
    registry.git("checkout", "-q", "-b", "promote-2")
    promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))
    registry.git("checkout", "-q", "main")
    registry.git(
        "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from acme/promote-2", "promote-2"
    )
    merge = registry.git("rev-parse", "HEAD").strip()
    assert production(registry.root) == 2

    done = rollback("digits", "production", repo=registry.root)

    assert done.reverted == (merge,)
    assert (registry.root / POINTER).read_bytes() == before
    history = stage_history(Registry.open(registry.root), "digits", stage="production")
    assert (history[1].pr, history[1].to_version) == (7, 2)

    # A squash merge: one commit on main carrying the change.
    registry.git("checkout", "-q", "-b", "promote-3")
    promote("digits", 3, "production", repo=registry.root, now=lambda: _at(11))
    registry.git("checkout", "-q", "main")
    registry.git("merge", "-q", "--squash", "promote-3")
    registry.git("commit", "-q", "-m", "Promote digits v3 to production (#8)")
    squash = registry.git("rev-parse", "HEAD").strip()
    assert rollback("digits", "production", repo=registry.root).reverted == (squash,)
    assert (registry.root / POINTER).read_bytes() == before
    assert_valid(registry.root)


def test_rollback_without_history_writes_a_fresh_pointer(registry: Workspace) -> None:
    # A pointer written by hand: it names a previous version, but no commit shows it.
    builders.write_pointer(registry.root, "digits", "production", 3, previous=2, retired=[1, 2])
    registry.commit_all("hand-written pointer")

    done = rollback("digits", "production", repo=registry.root, now=lambda: _at(12))

    assert (done.version, done.reverted) == (2, ())
    text = (registry.root / POINTER).read_text()
    assert text.endswith("version: 2\nsince: '2026-03-01T12:00:00Z'\nretired: [1, 3]\n")
    assert_valid(registry.root)
    with pytest.raises(ConflictError, match=r"digits/4 has not held production before"):
        rollback("digits", "production", repo=registry.root, to=4)


def test_nothing_to_roll_back(registry: Workspace) -> None:
    with pytest.raises(
        ConflictError, match="digits has no version in production; there is nothing"
    ):
        rollback("digits", "production", repo=registry.root)
    with pytest.raises(NotFoundError, match="'prod' is not a stage of this registry"):
        rollback("digits", "prod", repo=registry.root)


def test_rollback_refuses_a_deprecated_target(registry: Workspace) -> None:
    from modelreg.api import deprecate

    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    promote("digits", 2, "production", repo=registry.root, now=lambda: _at(10))
    deprecate("digits", 1, repo=registry.root, reason="leaked labels", commit=True)
    head = registry.git("rev-parse", "HEAD").strip()
    with pytest.raises(ConflictError, match=r"back to v1: it is deprecated \(leaked labels\)"):
        rollback("digits", "production", repo=registry.root)
    assert registry.git("rev-parse", "HEAD").strip() == head and registry.status() == ""


STRICT = {
    "staging": {"from": ["none"], "require": {"accuracy": {"min": 0.902}}},
    "production": {
        "from": ["staging"],
        "require": {"accuracy": {"min": 0.902}, "latency_p50_ms": {"max": 5.0}},
        "no_regression": {
            "accuracy": {"better": "higher", "tolerance": 0.0005},
            "latency_p50_ms": {"better": "lower", "relative_tolerance": 0.1},
        },
        "onnx_parity": True,
    },
}


def write_onnx_version(root: Path, number: int, metrics: dict[str, float], **fields: Any) -> None:
    """Version ``number`` of digits with one ONNX artifact and ``metrics``."""
    weights = builders.write_version(root, "digits", number)["artifacts"][0]
    onnx = {**weights, "name": "onnx", "format": "onnx", "opset": 18}
    builders.write_version(root, "digits", number, artifacts=[onnx], metrics=metrics, **fields)


@pytest.fixture
def strict(offline_registry: Workspace) -> Workspace:
    root = offline_registry.root
    builders.write_config(root, policies=STRICT)
    for number, accuracy, latency in ((1, 0.95, 2.0), (2, 0.96, 2.1), (3, 0.949, 2.0)):
        metrics = {"accuracy": accuracy, "latency_p50_ms": latency, "onnx_max_abs_diff": 1e-6}
        write_onnx_version(root, number, metrics)
    builders.write_version(root, "digits", 4, metrics={"accuracy": 0.99})  # no ONNX, no latency
    offline_registry.commit_all("strict policies")
    return offline_registry


def test_gates_pass_through_the_lifecycle(strict: Workspace) -> None:
    staged = promote("digits", 1, "staging", repo=strict.root, now=lambda: _at(9))
    assert [(g.name, g.passed) for g in staged.gates] == [
        ("not deprecated", True),
        ("source stage", True),
        ("accuracy >= 0.902", True),
    ]
    done = promote("digits", 1, "production", repo=strict.root, now=lambda: _at(10))
    assert all(g.passed for g in done.gates) and len(done.gates) == 7
    assert [g.detail for g in done.gates][-1] == "passed: max abs diff 1e-06"
    message = strict.git("log", "-1", "--format=%B")
    assert "Gates: 7 of 7 passed.\n- not deprecated: pass (v1 is not deprecated)\n" in message


def test_a_failing_gate_refuses_and_changes_nothing(strict: Workspace) -> None:
    promote("digits", 1, "staging", repo=strict.root, now=lambda: _at(9))
    promote("digits", 1, "production", repo=strict.root, now=lambda: _at(10))
    promote("digits", 3, "staging", repo=strict.root, now=lambda: _at(11))
    head = strict.git("rev-parse", "HEAD").strip()

    with pytest.raises(ConflictError) as refused:
        promote("digits", 3, "production", repo=strict.root)
    assert str(refused.value) == (
        "digits/3 fails the production policy in registry/registry.yaml (no accuracy "
        "regression: 0.949 vs 0.95 in v1 (higher is better; 0.0005 worse allowed)); "
        "fix the version, or override with --force --reason TEXT"
    )
    with pytest.raises(ConflictError, match=r"source stage: v2 holds no stage; production takes"):
        promote("digits", 2, "production", repo=strict.root)
    promote("digits", 4, "staging", repo=strict.root)
    with pytest.raises(ConflictError) as refused:
        promote("digits", 4, "production", repo=strict.root)
    assert "latency_p50_ms <= 5: v4 has no latency_p50_ms recorded (needs <= 5)" in str(
        refused.value
    )
    assert "ONNX parity: v4 has no ONNX artifact" in str(refused.value)
    strict.git("reset", "-q", "--hard", head)
    with pytest.raises(InputError, match="--force needs --reason"):
        promote("digits", 3, "production", repo=strict.root, force=True)
    assert strict.git("rev-parse", "HEAD").strip() == head and strict.status() == ""


# v1 is in production (accuracy 0.95, latency 2.0); a new v5 fails one kind of gate
# (two for the latency bound, whose regression gate fails with it).
PASSING = {"accuracy": 0.95, "latency_p50_ms": 2.0, "onnx_max_abs_diff": 1e-6}
FAILED_GATES = [
    # metrics, promoted to staging first, deprecated, the stage checked, the gates failing
    pytest.param(
        {**PASSING, "accuracy": 0.9}, False, False, "staging", ["accuracy >= 0.902"],
        id="metric-minimum",
    ),
    pytest.param(
        {**PASSING, "latency_p50_ms": 9.0}, True, False, "production",
        ["latency_p50_ms <= 5", "no latency_p50_ms regression"], id="metric-maximum",
    ),
    pytest.param(
        {**PASSING, "accuracy": 0.949}, True, False, "production", ["no accuracy regression"],
        id="no-regression",
    ),
    pytest.param(PASSING, False, False, "production", ["source stage"], id="source-stage"),
    pytest.param(
        {"accuracy": 0.95, "latency_p50_ms": 2.0}, True, False, "production", ["ONNX parity"],
        id="onnx-parity",
    ),
    pytest.param(PASSING, False, True, "staging", ["not deprecated"], id="deprecated"),
]  # fmt: skip


@pytest.mark.parametrize(("metrics", "staged", "deprecated", "stage", "failing"), FAILED_GATES)
def test_each_failed_gate_exits_1_through_the_installed_command(
    strict: Workspace,
    modelreg_exe: str,
    metrics: dict[str, float],
    staged: bool,
    deprecated: bool,
    stage: str,
    failing: list[str],
) -> None:
    """What the gate step of benchmark.yml runs: the console script's exit code."""
    promote("digits", 1, "staging", repo=strict.root, now=lambda: _at(9))
    promote("digits", 1, "production", repo=strict.root, now=lambda: _at(10))
    deprecation = {"deprecation": {"date": builders.CREATED, "reason": "x"}} if deprecated else {}
    write_onnx_version(strict.root, 5, metrics, **deprecation)
    strict.commit_all("v5")
    if staged:
        promote("digits", 5, "staging", repo=strict.root, now=lambda: _at(11))
    head = strict.git("rev-parse", "HEAD").strip()

    done = subprocess.run(
        [modelreg_exe, "--repo", str(strict.root), "promote", "digits", "5", "--to", stage,
         "--check"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    failed = [line.split(":")[0].removeprefix("  FAIL  ") for line in done.stdout.splitlines()
              if line.startswith("  FAIL  ")]  # fmt: skip
    assert failed == failing, done.stdout
    assert strict.git("rev-parse", "HEAD").strip() == head and strict.status() == ""


def test_force_with_a_reason_is_recorded(strict: Workspace) -> None:
    promote("digits", 1, "staging", repo=strict.root, now=lambda: _at(9))
    promote("digits", 1, "production", repo=strict.root, now=lambda: _at(10))
    promote("digits", 3, "staging", repo=strict.root, now=lambda: _at(11))

    done = promote(
        "digits", 3, "production", repo=strict.root, force=True, reason="hotfix for CVE-1"
    )

    assert done.forced and [g.name for g in done.gates if not g.passed] == [
        "no accuracy regression"
    ]
    message = strict.git("log", "-1", "--format=%B")
    assert "Modelreg-Forced: no accuracy regression\n" in message
    assert "- no accuracy regression: FAIL (0.949 vs 0.95 in v1" in message
    assert_valid(strict.root)


def test_deprecated_versions_cannot_be_promoted_even_forced(registry: Workspace) -> None:
    from modelreg.api import deprecate

    deprecate("digits", 2, repo=registry.root, reason="leaked labels", commit=True)
    with pytest.raises(ConflictError, match=r"cannot promote digits/2 to production: v2 is depr"):
        promote("digits", 2, "production", repo=registry.root, force=True, reason="please")


def test_refusals_name_the_problem(registry: Workspace) -> None:
    promote("digits", 1, "production", repo=registry.root, now=lambda: _at(9))
    with pytest.raises(ConflictError, match=r"digits/1 is already in production since 2026-03"):
        promote("digits", 1, "production", repo=registry.root)
    with pytest.raises(NotFoundError, match="version 9"):
        promote("digits", 9, "production", repo=registry.root)
    with pytest.raises(NotFoundError, match="'canary' is not a stage of this registry"):
        promote("digits", 2, "canary", repo=registry.root)
    with pytest.raises(InputError, match="--reason must be one line"):
        promote("digits", 2, "production", repo=registry.root, reason="a\nb")
    (registry.root / POINTER).write_text("version: 3\n")
    with pytest.raises(ConflictError, match=f"{POINTER} has uncommitted changes"):
        promote("digits", 2, "production", repo=registry.root)


def _clone(origin: Path, target: Path) -> Path:
    git(origin.parent, "clone", "-q", str(origin), str(target))
    return target


def test_concurrent_promotions_of_one_stage_conflict(registry: Workspace, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    registry.git("push", "-q", str(origin), "main")
    alice = _clone(origin, tmp_path / "alice")
    bob = _clone(origin, tmp_path / "bob")

    promote("digits", 2, "production", repo=alice, now=lambda: _at(9))
    git(alice, "push", "-q")
    head = git(bob, "rev-parse", "HEAD")
    with pytest.raises(ConflictError) as refused:
        promote("digits", 3, "production", repo=bob, now=lambda: _at(10))
    message = str(refused.value)
    assert message.startswith("origin/main changed digits's production pointer after this clone")
    assert "promote digits version 2 to production" in message and "git pull --rebase" in message
    assert git(bob, "rev-parse", "HEAD") == head

    # Promotions of different models both land.
    promote("iris", 1, "production", repo=bob, now=lambda: _at(10))
    git(bob, "pull", "-q", "--rebase")
    git(bob, "push", "-q")
    assert production(bob) == 2 and production(bob, model="iris") == 1
    assert_valid(bob)
    # Once up to date, bob's promotion of digits goes through.
    assert promote("digits", 3, "production", repo=bob, now=lambda: _at(11)).previous == 2


def _two_clones(registry: Workspace, tmp_path: Path) -> tuple[Path, Path]:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    registry.git("push", "-q", str(origin), "main")
    return _clone(origin, tmp_path / "alice"), _clone(origin, tmp_path / "bob")


def _modelreg(exe: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "--repo", str(root), *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_a_stale_clone_cannot_promote_a_version_deprecated_upstream(
    registry: Workspace, tmp_path: Path, modelreg_exe: str
) -> None:
    """Deprecating v2 and promoting v2 touch different files, so git would rebase the
    two without a conflict, into a stage on a deprecated version (which validate
    refuses): the promotion was decided on the clone's old manifest, and is refused."""
    from modelreg.api import deprecate

    alice, bob = _two_clones(registry, tmp_path)
    deprecate("digits", 2, repo=alice, reason="leaked labels", commit=True)
    git(alice, "push", "-q")
    head = git(bob, "rev-parse", "HEAD")

    done = _modelreg(modelreg_exe, bob, "promote", "digits", "2", "--to", "production")

    assert done.returncode == 1, done.stdout + done.stderr
    error = done.stderr.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert error.startswith("error: origin/main changed the manifest of digits/2 after this clone")
    assert "deprecate digits version 2" in error
    assert "this change of digits's production pointer was decided on the old state" in error
    assert "git pull --rebase" in error
    assert git(bob, "rev-parse", "HEAD") == head and git(bob, "status", "--porcelain") == ""
    # A free-form alias is refused the same way.
    done = _modelreg(modelreg_exe, bob, "alias", "set", "digits", "champion", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("error: origin/main changed the manifest of digits/2 after")
    assert "this change of digits@champion was decided on the old state" in done.stderr
    assert git(bob, "rev-parse", "HEAD") == head and git(bob, "status", "--porcelain") == ""
    # Once pulled, the deprecation itself refuses it, forced or not.
    git(bob, "pull", "-q", "--rebase")
    with pytest.raises(ConflictError, match="v2 is deprecated"):
        promote("digits", 2, "production", repo=bob, force=True, reason="please")
    # A change upstream to another version's manifest is no reason to refuse.
    deprecate("digits", 4, repo=alice, reason="too slow", commit=True)
    git(alice, "push", "-q")
    assert promote("digits", 3, "production", repo=bob, now=lambda: _at(12)).version == 3


def test_a_stale_clone_cannot_deprecate_a_version_promoted_upstream(
    registry: Workspace, tmp_path: Path, modelreg_exe: str
) -> None:
    alice, bob = _two_clones(registry, tmp_path)
    promote("digits", 3, "staging", repo=alice, now=lambda: _at(9))
    git(alice, "push", "-q")
    head = git(bob, "rev-parse", "HEAD")

    for extra in ([], ["--commit"]):
        done = _modelreg(modelreg_exe, bob, "deprecate", "digits", "3", "--reason", "bad", *extra)
        assert done.returncode == 1, done.stdout + done.stderr
        error = done.stderr.strip()
        assert len(error.splitlines()) == 1, error
        assert error.startswith("error: origin/main changed digits's staging pointer after this")
        assert "promote digits version 3 to staging" in error
        assert "this change of the manifest of digits/3 was decided on the old state" in error
        assert git(bob, "rev-parse", "HEAD") == head and git(bob, "status", "--porcelain") == ""

    # Up to date, deprecate refuses a version a stage holds for its own reason.
    git(bob, "pull", "-q", "--rebase")
    done = _modelreg(modelreg_exe, bob, "deprecate", "digits", "3", "--reason", "bad", "--commit")
    assert done.returncode == 1 and "digits/3 is in staging" in done.stderr, done.stderr
    # Another model's pointers are not what deprecating digits/1 was decided on.
    promote("iris", 1, "production", repo=alice, now=lambda: _at(10))
    git(alice, "push", "-q")
    done = _modelreg(modelreg_exe, bob, "deprecate", "digits", "1", "--reason", "x", "--commit")
    assert done.returncode == 0, done.stderr


def test_a_rollback_does_not_bring_back_a_canary_deprecated_since(
    registry: Workspace, modelreg_exe: str
) -> None:
    """Rolling back restores the earlier pointer file; where that file sent traffic to a
    canary deprecated since, the restored stage would fail validation, so the rollback
    is refused and names the way out."""
    from modelreg.api import deprecate

    root = registry.root
    promote("digits", 1, "production", repo=root, now=lambda: _at(9))
    text = (root / POINTER).read_text()
    (root / POINTER).write_text(text + "canary:\n  version: 3\n  weight: 0.1\n")
    registry.commit_all("send 10% of production to v3")
    assert_valid(root)
    promote("digits", 2, "production", repo=root, now=lambda: _at(10))
    deprecate("digits", 3, repo=root, reason="drifted", commit=True)
    head = registry.git("rev-parse", "HEAD").strip()

    done = _modelreg(modelreg_exe, root, "rollback", "digits", "--stage", "production")

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip() == (
        "error: cannot roll production of digits back to v1: the pointer then sent 10% of "
        "requests to the canary v3, which is deprecated (drifted) now; move production to v1 "
        "without it with 'modelreg promote digits 1 production' (--force --reason if its gates "
        "refuse)"
    )
    assert registry.git("rev-parse", "HEAD").strip() == head and registry.status() == ""
    # The way out it names works, and leaves a valid registry.
    assert promote("digits", 1, "production", repo=root, now=lambda: _at(11)).previous == 2
    assert production(root) == 1
    assert_valid(root)
    # With the deprecation lifted, the file could come back exactly: the rollback is allowed.
    deprecate("digits", 3, repo=root, undo=True, commit=True)
    assert rollback("digits", "production", repo=root).version == 2
    assert_valid(root)


def test_an_unreachable_upstream_is_a_warning(registry: Workspace, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    registry.git("push", "-q", str(origin), "main")
    clone = _clone(origin, tmp_path / "clone")
    git(clone, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    done = promote("digits", 1, "production", repo=clone)
    assert len(done.warnings) == 1
    assert done.warnings[0].startswith("could not fetch origin to look for newer changes")


def test_cli_promote_and_rollback(
    registry: Workspace, cli: CliRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = ["--repo", str(registry.root)]
    first = cli.invoke(cli_group, [*repo, "promote", "digits", "1", "--to", "production"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("promoted digits/1 to production\ncommitted ")
    second = cli.invoke(
        cli_group,
        [*repo, "promote", "digits", "2", "--to", "production", "--reason", "retrained"],
    )
    assert "promoted digits/2 to production (was v1, now retired)" in second.output

    assert main([*repo, "promote", "digits", "2", "--to", "production"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: digits/2 is already in production since ")
    assert error.count("\n") == 1
    assert main([*repo, "promote", "digits", "2", "--to", "x", "--base", "m"]) == 2
    assert "--base goes with --pr" in capsys.readouterr().err

    back = cli.invoke(cli_group, [*repo, "rollback", "digits", "--stage", "production", "--json"])
    assert back.exit_code == 0, back.output
    import json

    document = json.loads(back.output)
    assert (document["format"], document["version"], document["rolled_back"]) == (
        "modelreg.rollback/1",
        1,
        2,
    )
    history = cli.invoke(cli_group, [*repo, "history", "digits"])
    assert "retrained" in history.output and "rolled back" in history.output
    again = cli.invoke(cli_group, [*repo, "promote", "digits", "3", "--to", "production"])
    assert again.exit_code == 0, again.output
    cli.invoke(
        cli_group, [*repo, "rollback", "digits", "--stage", "production", "--reason", "flaky"]
    )
    changes = stage_history(Registry.open(registry.root), "digits", stage="production")
    # The rollback's own reason, not the one of the promotion whose file it restored.
    assert [(c.kind, c.reason) for c in changes[:2]] == [
        ("rolled back", "flaky"),
        ("promoted", ""),
    ]


def test_check_only_prints_the_gates_and_changes_nothing(strict: Workspace, cli: CliRunner) -> None:
    promote("digits", 1, "staging", repo=strict.root, now=lambda: _at(9))
    promote("digits", 1, "production", repo=strict.root, now=lambda: _at(10))
    promote("digits", 3, "staging", repo=strict.root, now=lambda: _at(11))
    base = strict.git("rev-parse", "HEAD").strip()
    repo = ["--repo", str(strict.root)]

    failing = cli.invoke(
        cli_group, [*repo, "promote", "digits", "3", "--to", "production", "--check"]
    )
    assert failing.exit_code == 1
    lines = failing.output.splitlines()
    assert lines[0] == "digits/3 to production (against v1): 6 of 7 gates pass"
    assert "  FAIL  no accuracy regression: 0.949 vs 0.95 in v1" in failing.output
    assert strict.git("rev-parse", "HEAD").strip() == base and strict.status() == ""

    passing = cli.invoke(
        cli_group, [*repo, "promote", "digits", "2", "--to", "staging", "--check", "--json"]
    )
    assert passing.exit_code == 0, passing.output
    import json

    document = json.loads(passing.output)
    assert (document["format"], document["against"], document["passed"]) == (
        "modelreg.gates/1",
        3,
        True,
    )

    # On a promotion branch the pointer already moved: --base judges against the stage
    # as the base branch holds it.
    promote("digits", 3, "production", repo=strict.root, force=True, reason="hotfix")
    moved = cli.invoke(
        cli_group,
        [*repo, "promote", "digits", "3", "--to", "production", "--check", "--base", base],
    )
    assert moved.output.startswith(f"digits/3 to production (against v1 on {base}): 6 of 7")
    refused = cli.invoke(
        cli_group, [*repo, "promote", "digits", "3", "--to", "production", "--check", "--pr"]
    )
    assert refused.exit_code == 2 and "--check changes nothing" in refused.output
