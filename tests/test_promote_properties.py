"""Random sequences of register / promote / rollback / revert / deprecate on real git.

After every step the registry must validate, and every stage must hold the version
a simple reference model predicts: each stage is a stack, a promotion pushes, a
rollback (or a hand ``git revert`` of the promotion in effect) pops, ``--to`` pops
down to the named version, and a refused command changes nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from modelreg.api import ConflictError, Registry, deprecate, promote, rollback, validate
from tests import builders
from tests.conftest import git

STAGES = ("staging", "production")
MODEL = "m"
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Reference:
    """What each stage should hold: a stack of (version, commit that put it there)."""

    versions: int = 2
    deprecated: set[int] = field(default_factory=set)
    stacks: dict[str, list[tuple[int, str]]] = field(
        default_factory=lambda: {s: [] for s in STAGES}
    )

    def top(self, stage: str) -> int | None:
        stack = self.stacks[stage]
        return stack[-1][0] if stack else None

    def held(self) -> set[int]:
        return {stack[-1][0] for stack in self.stacks.values() if stack}


class RegistrySequences(RuleBasedStateMachine):
    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="modelreg-seq-"))
        self.root = self.workdir / "repo"
        shutil.copytree(self.template, self.root, symlinks=True)
        self.model = Reference()
        self.clock = START

    def teardown(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def now(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def head(self) -> str:
        return git(self.root, "rev-parse", "HEAD").strip()

    def refused(self, call: object) -> None:
        """``call`` must raise ConflictError and leave HEAD and the tree as they were."""
        head = self.head()
        with pytest.raises(ConflictError):
            call()  # type: ignore[operator]
        assert self.head() == head
        assert git(self.root, "status", "--porcelain") == ""

    def register(self, data: st.DataObject) -> None:
        self.model.versions += 1
        builders.write_version(self.root, MODEL, self.model.versions)
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", f"register {MODEL} version {self.model.versions}")

    def promote(self, data: st.DataObject) -> None:
        stage = data.draw(st.sampled_from(STAGES), label="stage")
        number = data.draw(st.integers(1, self.model.versions), label="version")
        if number in self.model.deprecated or self.model.top(stage) == number:
            self.refused(lambda: promote(MODEL, number, stage, repo=self.root, now=self.now))
            return
        done = promote(MODEL, number, stage, repo=self.root, now=self.now)
        assert done.previous == self.model.top(stage)
        self.model.stacks[stage].append((number, done.commit))

    def rollback(self, data: st.DataObject) -> None:
        stage = data.draw(st.sampled_from(STAGES), label="stage")
        stack = self.model.stacks[stage]
        if len(stack) < 2 or stack[-2][0] in self.model.deprecated:
            self.refused(lambda: rollback(MODEL, stage, repo=self.root))
            return
        done = rollback(MODEL, stage, repo=self.root)
        assert done.reverted == (stack[-1][1],)  # it reverted the promotion in effect
        stack.pop()
        assert done.version == stack[-1][0]

    def rollback_to(self, data: st.DataObject) -> None:
        if not any(len(s) >= 2 for s in self.model.stacks.values()):
            return
        stage = data.draw(st.sampled_from([s for s in STAGES if len(self.model.stacks[s]) >= 2]))
        stack = self.model.stacks[stage]
        below = sorted({v for v, _ in stack[:-1]} - {stack[-1][0]})
        target = data.draw(st.sampled_from(below), label="to")
        if target in self.model.deprecated:
            self.refused(lambda: rollback(MODEL, stage, repo=self.root, to=target))
            return
        done = rollback(MODEL, stage, repo=self.root, to=target)
        undone = []
        while stack[-1][0] != target:
            undone.append(stack.pop()[1])
        assert done.reverted == tuple(undone)  # one commit undoing each promotion in turn

    def hand_revert(self, data: st.DataObject) -> None:
        """``git revert`` of the promotion commit in effect, as a user would type it."""
        if not any(self.model.stacks.values()):
            return
        choices = [
            s
            for s in STAGES
            if self.model.stacks[s]
            and (
                len(self.model.stacks[s]) < 2
                or self.model.stacks[s][-2][0] not in self.model.deprecated
            )
        ]
        if not choices:
            return
        stage = data.draw(st.sampled_from(choices))
        _, commit = self.model.stacks[stage].pop()
        git(self.root, "revert", "--no-edit", commit)

    def deprecate(self, data: st.DataObject) -> None:
        number = data.draw(st.integers(1, self.model.versions), label="version")
        if number in self.model.held() or number in self.model.deprecated:
            self.refused(lambda: deprecate(MODEL, number, repo=self.root, commit=True))
            return
        deprecate(MODEL, number, repo=self.root, commit=True, reason="bad labels")
        self.model.deprecated.add(number)

    def _earlier(self) -> list[int]:
        """Versions a rollback could return to that no stage holds now."""
        below = {v for stack in self.model.stacks.values() for v, _ in stack[:-1]}
        return sorted(below - self.model.held() - self.model.deprecated)

    def deprecate_earlier(self, data: st.DataObject) -> None:
        """Deprecate a version a stage held before, so that rolling back to it is refused."""
        if not self._earlier():
            return
        number = data.draw(st.sampled_from(self._earlier()), label="version")
        deprecate(MODEL, number, repo=self.root, commit=True)
        self.model.deprecated.add(number)

    # Promotions come most often, so that stacks grow deep enough to walk back.
    OPERATIONS = (
        ("promote", 5),
        ("rollback", 2),
        ("rollback_to", 1),
        ("hand_revert", 2),
        ("register", 1),
        ("deprecate", 1),
        ("deprecate_earlier", 1),
    )

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        choices = [name for name, weight in self.OPERATIONS for _ in range(weight)]
        operation = data.draw(st.sampled_from(choices), label="operation")
        getattr(self, operation)(data)

    @invariant()
    def registry_matches_the_reference(self) -> None:
        report = validate(self.root, offline=True, cache=False)
        assert report.ok, [f.render() for f in report.findings]
        with Registry.open(self.root) as registry:
            for stage in STAGES:
                pointer = registry.pointer(MODEL, stage)
                assert (pointer.version if pointer else None) == self.model.top(stage), stage


@pytest.fixture
def template(tmp_path: Path) -> Path:
    root = tmp_path / "template"
    root.mkdir()
    git(root, "init", "-q")
    builders.write_config(root, stages=STAGES)
    for number in (1, 2):
        builders.write_version(root, MODEL, number)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "two versions")
    return root


@pytest.mark.slow
def test_random_sequences_keep_the_registry_valid_and_predictable(template: Path) -> None:
    RegistrySequences.template = template
    run_state_machine_as_test(
        RegistrySequences,
        settings=settings(
            max_examples=int(__import__("os").environ.get("SEQ", "200")),
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
