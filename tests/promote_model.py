"""The reference model behind ``test_promote_properties``: what each stage, alias and
version of a registry should be, written from the documented rules alone.

A stage pointer file has a stack of states (docs/promotion.md, ``pointer_log``): a
change that brings back a file held lower on the stack pops down to it (a rollback,
a hand ``git revert``, taking a canary out again), any other change pushes. A
rollback walks down while the state below holds the version ``previous`` names and
restores that file exactly; where it cannot (a hand-edited canary in the way, a
fresh pointer with no ``previous``), it writes a fresh pointer to ``previous`` (or to
``--to`` when the stage retired it), which takes the place of the top. Promotions
check the stage's policy (:data:`POLICIES`) and refuse a reason with control
characters or a line break. One :class:`View` is what one clone sees; the origin has
its own.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

STAGES = ("staging", "production")
MODELS = ("alpha", "beta", "gamma")
ACCURACY = (0.91, 0.94, 0.96, 0.98)
LATENCY = (3.0, 7.0)
# Gates some versions fail: staging wants accuracy; production wants a version from
# staging, accuracy, a latency budget, and no accuracy regression against its incumbent.
POLICIES: dict[str, Any] = {
    "staging": {"require": {"accuracy": {"min": 0.93}}},
    "production": {
        "from": ["staging"],
        "require": {"accuracy": {"min": 0.95}, "latency_p50_ms": {"max": 5.0}},
        "no_regression": {"accuracy": {"better": "higher", "tolerance": 0.005}},
    },
}
# The template's versions 1 and 2 of every model: one only staging takes, one both do.
SEED_METRICS = ((0.94, 7.0), (0.98, 3.0))


@dataclass(frozen=True)
class Doc:
    """A stage pointer file's fields (``since`` included, so every write is unique)."""

    version: int
    since: datetime | None
    previous: int | None
    reason: str
    canary: tuple[int, float] | None
    retired: tuple[int, ...]

    @classmethod
    def of(cls, pointer: Any) -> Doc:
        canary = pointer.canary
        return cls(
            pointer.version,
            pointer.since,
            pointer.previous,
            pointer.reason,
            (canary.version, canary.weight) if canary else None,
            tuple(sorted(pointer.retired)),
        )


@dataclass(frozen=True)
class State:
    """One state on a pointer's stack: its file (None: no file), the commit that
    wrote it (None: where history starts) and the file that commit replaced."""

    doc: Doc | None
    commit: str | None
    before: Doc | None


NO_FILE = State(None, None, None)


def reason_problem(reason: str) -> str | None:
    """Why a promotion or rollback refuses ``reason`` (InputError), or None: a C0
    control character other than tab and newline, DEL or C1; then a line break.
    Tab, U+2028 and U+2029 are accepted and stored (escaped in the YAML)."""
    if any((ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in reason):
        return "control characters"
    if "\n" in reason:
        return "one line"
    return None


@dataclass(frozen=True)
class Outcome:
    """What the reference predicts an operation does."""

    refused: str | None = None
    """'input', 'conflict' (with a word on why), or None: it lands."""
    why: str = ""
    doc: Doc | None = None
    """The new pointer file (``since`` still unknown for a fresh one)."""
    restores: bool = False
    """The new file is one held lower on the stack (it pops down to it)."""
    replaces_top: bool = False
    """A rollback's fresh pointer: it takes the top's place on the stack."""
    reverted: tuple[str, ...] = ()
    version: int | None = None
    gates_failed: tuple[str, ...] = ()


def refused(kind: str, why: str) -> Outcome:
    return Outcome(refused=kind, why=why)


@dataclass
class View:
    """What a clone (or the origin) holds."""

    metrics: dict[str, dict[int, tuple[float, float]]] = field(
        default_factory=lambda: {m: dict(enumerate(SEED_METRICS, 1)) for m in MODELS}
    )
    deprecated: dict[str, set[int]] = field(default_factory=lambda: {m: set() for m in MODELS})
    stacks: dict[tuple[str, str], list[State]] = field(
        default_factory=lambda: {(m, s): [NO_FILE] for m in MODELS for s in STAGES}
    )
    aliases: dict[str, dict[str, int]] = field(default_factory=lambda: {m: {} for m in MODELS})

    def copy(self) -> View:
        return copy.deepcopy(self)

    def top(self, model: str, stage: str) -> Doc | None:
        return self.stacks[model, stage][-1].doc

    def held(self, model: str) -> dict[str, int]:
        """stage -> the version it holds."""
        return {s: d.version for s in STAGES if (d := self.top(model, s)) is not None}

    def versions(self, model: str) -> list[int]:
        return sorted(self.metrics[model])

    def usable(self, model: str, number: int) -> bool:
        return number not in self.deprecated[model]

    # --- the stack ----------------------------------------------------------------------

    def land(
        self, model: str, stage: str, doc: Doc | None, commit: str, *, replace_top: bool = False
    ) -> None:
        """A commit wrote ``doc`` (None: removed the file): pop down to it if the stack
        holds it, else push it (a fresh rollback pointer first takes the top off)."""
        stack = self.stacks[model, stage]
        before = stack[-1].doc
        docs = [s.doc for s in stack]
        if doc in docs:
            del stack[docs.index(doc) + 1 :]
            return
        if replace_top:
            stack.pop()
        stack.append(State(doc, commit, before))

    def rename_commit(self, old: str, new: str) -> None:
        """A rebase gave commit ``old`` a new id."""
        for key, stack in self.stacks.items():
            self.stacks[key] = [replace(s, commit=new) if s.commit == old else s for s in stack]

    # --- predictions --------------------------------------------------------------------

    def gates(self, model: str, number: int, stage: str) -> tuple[list[str], list[str]]:
        """(hard failures, overridable failures) of promoting ``number`` to ``stage``."""
        if number in self.deprecated[model]:
            return ["not deprecated"], []
        policy = POLICIES.get(stage, {})
        accuracy, latency = self.metrics[model][number]
        values = {"accuracy": accuracy, "latency_p50_ms": latency}
        failed = []
        if "from" in policy:
            held = [s for s, v in self.held(model).items() if v == number and s != stage]
            if not any(s in policy["from"] for s in held):
                failed.append("source stage")
        for metric, bound in policy.get("require", {}).items():
            if not bound.get("min", values[metric]) <= values[metric] <= bound.get("max", 1e9):
                failed.append(metric)
        current = self.top(model, stage)
        for metric, rule in policy.get("no_regression", {}).items():
            if current is not None:
                accuracy_before, latency_before = self.metrics[model][current.version]
                before = {"accuracy": accuracy_before, "latency_p50_ms": latency_before}
                if before[metric] - values[metric] > rule["tolerance"] + 1e-12:
                    failed.append(f"no {metric} regression")
        return [], failed

    def promote(self, model: str, number: int, stage: str, reason: str, force: bool) -> Outcome:
        if reason_problem(reason):
            return refused("input", reason_problem(reason) or "")
        reason = reason.strip()
        if force and not reason:
            return refused("input", "force without a reason")
        current = self.top(model, stage)
        if current is not None and current.version == number:
            return refused("conflict", "already there")
        hard, soft = self.gates(model, number, stage)
        if hard or (soft and not force):
            return refused("conflict", "gate")
        retired = set(current.retired) | {current.version} if current else set()
        doc = Doc(
            number,
            None,
            current.version if current else None,
            reason,
            None,
            tuple(sorted(retired - {number})),
        )
        return Outcome(doc=doc, version=number, gates_failed=tuple(soft))

    def rollback(self, model: str, stage: str, to: int | None, reason: str) -> Outcome:
        if reason_problem(reason):
            return refused("input", reason_problem(reason) or "")
        reason = reason.strip()
        stack = self.stacks[model, stage]
        current = stack[-1].doc
        if current is None:
            return refused("conflict", "empty stage")
        if to is not None and to == current.version:
            return refused("conflict", "already there")
        if to is None and current.previous is None:
            return refused("conflict", "no previous")
        # Walk down while the state below holds the version ``previous`` names.
        pointer, index, steps, found = current, len(stack) - 1, [], False
        while index >= 1:
            above, below = stack[index], stack[index - 1]
            if pointer.previous is None or above.commit is None or below.doc is None:
                break
            if below.doc.version != pointer.previous:
                break
            steps.append(above.commit)
            pointer, index = below.doc, index - 1
            if to is None or pointer.version == to:
                found = True
                break
        if found:
            outcome = Outcome(doc=pointer, restores=True, reverted=tuple(steps))
        else:  # history cannot show it: a fresh pointer
            target = to if to is not None else current.previous
            assert target is not None
            if to is not None and to not in current.retired and to != current.previous:
                return refused("conflict", "never held")
            retired = (set(current.retired) | {current.version}) - {target}
            doc = Doc(target, None, None, reason, None, tuple(sorted(retired)))
            outcome = Outcome(doc=doc, replaces_top=True)
        assert outcome.doc is not None
        if outcome.doc.version in self.deprecated[model]:
            return refused("conflict", "deprecated target")
        if outcome.doc.canary is not None and outcome.doc.canary[0] in self.deprecated[model]:
            return refused("conflict", "deprecated canary")
        return replace(outcome, version=outcome.doc.version)

    def deprecate(self, model: str, number: int) -> Outcome:
        if number in self.deprecated[model]:
            return refused("conflict", "already deprecated")
        if number in self.held(model).values():
            return refused("conflict", "held by a stage")
        canaries = [d.canary[0] for s in STAGES if (d := self.top(model, s)) and d.canary]
        if number in canaries:
            return refused("conflict", "a stage's canary")
        return Outcome()
