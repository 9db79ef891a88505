"""Random sequences of promotions, rollbacks, aliases and canaries on two clones of one origin.

A hypothesis state machine drives real git: a bare ``origin`` and two clones, ``a``
and ``b``, each acting through the library (``modelreg.api``, ``modelreg.ops.edits``)
on three models with two stages whose policies refuse some versions. After every step
each clone must hold exactly what the reference (``tests/promote_model.py``) says its
last pull plus its own changes make, and the clone that acted must validate.

What it exercises, each counted (``event()``) and asserted to happen at least once:

* promotions refused by a gate (state unchanged), forced past one with a reason, and
  the hard deprecation gate ``--force`` cannot override;
* reasons with tab, U+2028/U+2029, ESC, DEL, C1 and line breaks: a control character or
  a line break is refused with one line (InputError) that shows no raw control
  character; the rest are stored stripped, escaped in the YAML, read back equal, and
  folded to one line in the ``Modelreg-Reason`` trailer;
* rollbacks that walk the stack, ``--to`` further down, fresh pointers where a hand
  edit hides the history, and hand ``git revert`` of the change in effect;
* aliases set, moved and removed, and aliases named like a stage (any case), which
  promote and clear that stage;
* canaries added, stepped and taken out again by hand (taking one out restores the
  file before it, which pops the stack);
* a clone acting on a stale view: the library refuses a change to a pointer the
  origin changed since its last pull; a change to another pointer lands, its push is
  refused as not a fast-forward, and ``git pull --rebase`` then push publishes it.

* a decision made on a stale view of another file: a stale clone may not promote (or
  roll back to) a version the origin deprecated since, nor deprecate a version while
  the origin moved one of its model's stages; git would rebase either change without a
  conflict, into a state validation refuses;
* deprecating a version a stage's canary names is refused, and a rollback that would
  bring back a pointer whose canary is deprecated now is refused too.

Edits outside the library's concurrency check (registering, aliases, canaries, hand
reverts, lifting a deprecation) pull first, as a team would.

The run is always the full one (24 sequences of up to 50 steps; the old ``SEQ``
environment variable that shrank it is gone), derandomized so that its time (one and a
half to three minutes on two busy cores) and its reach, printed at the end, are the same every run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from modelreg.api import (
    Canary,
    ConflictError,
    InputError,
    Registry,
    StagePointer,
    deprecate,
    promote,
    rollback,
    validate,
)
from modelreg.core.layout import stage_pointer_path
from modelreg.ops.edits import delete_alias, set_alias
from modelreg.ops.promote import pointer_bytes
from tests import builders
from tests.conftest import git
from tests.promote_model import (
    ACCURACY,
    LATENCY,
    MODELS,
    POLICIES,
    SEED_METRICS,
    STAGES,
    Doc,
    Outcome,
    View,
)

CLONES = ("a", "b")
START = datetime(2026, 1, 1, tzinfo=UTC)
FREE_ALIASES = ("champion", "champion", "Champion", "challenger")
STAGE_ALIASES = ("Staging", "PRODUCTION")  # an alias named like a stage is that stage
# Reasons: mostly plain or stored escaped (tab, U+2028, U+2029, stripped at the ends);
# one in nine refused (a line break, ESC, DEL, C1, CR, mixed).
_SAFE = ["", "", "better accuracy", "tab\there", "line\u2028sep", " \t padded \u2028 "]
_REFUSED = ["two\nlines", "esc\x1b[2J", "del\x7f", "nel\x85", "cr\r", "\u2029\x1b\t\n"]
REASONS = st.sampled_from(_SAFE * 8 + _REFUSED)
# Most steps act on the first model, so that its stacks grow deep; the others see some.
MODEL_CHOICES = st.sampled_from([MODELS[0]] * 3 + [MODELS[1]] * 2 + list(MODELS[2:]))
# Staging (the looser gate) twice as often, so that its stacks grow deep.
STAGE_CHOICES = st.sampled_from([STAGES[0], *STAGES])
REACH: Counter[str] = Counter()
# Each must happen at least once across the run (the machine's reach).
MUST_REACH = (
    "promote landed",
    "gate refused",
    "forced past a gate",
    "deprecated gate refused",
    "reason refused: control characters",
    "reason refused: one line",
    "reason stored escaped",
    "rollback walked",
    "rollback --to walked",
    "rollback wrote a fresh pointer",
    "hand revert",
    "alias set",
    "alias moved",
    "alias removed",
    "stage alias promoted",
    "stage alias cleared the stage",
    "canary added",
    "canary stepped",
    "canary removed",
    "cross-clone conflict refused",
    "stale push refused, rebased",
    "stale read refused",
    "deprecated",
    "deprecated from a stale clone",
    "deprecating a canary refused",
)
# Counted when it happens, not required: a canary, a promotion over it, its deprecation and a
# rollback onto it in that order are rare here; test_promote.py builds that case on purpose.
COUNTED = ("rollback to a deprecated canary refused",)


def reach(name: str) -> None:
    event(name)
    REACH[name] += 1


def run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def one_line(message: str) -> None:
    """A refusal is one line, and shows no control character raw."""
    assert "\n" not in message and "\r" not in message, message
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in message), repr(message)


class TwoClones(RuleBasedStateMachine):
    origin_template: Path

    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="modelreg-seq-"))
        self.origin = self.workdir / "origin.git"
        shutil.copytree(self.origin_template, self.origin)
        self.roots = {c: self.workdir / c for c in CLONES}
        for root in self.roots.values():
            git(self.workdir, "clone", "-q", str(self.origin), root.name)
        self.truth = View()  # the origin
        self.views = {c: View() for c in CLONES}
        self.generation = 0  # pushes to the origin so far
        self.pulled = dict.fromkeys(CLONES, 0)  # the generation each clone last pulled
        self.acted = CLONES[0]
        self.touched = set(CLONES)  # clones whose tree changed since the last check
        self.last_changed: tuple[str, str] | None = None  # the pointer pushed last
        self.clock = START

    def teardown(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def now(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def head(self, clone: str) -> str:
        return git(self.roots[clone], "rev-parse", "HEAD").strip()

    # --- moving between clones and the origin ----------------------------------------------

    def pull(self, clone: str) -> None:
        if self.pulled[clone] == self.generation:
            return
        git(self.roots[clone], "pull", "-q", "--rebase")
        self.touched.add(clone)
        self.views[clone] = self.truth.copy()
        self.pulled[clone] = self.generation

    def publish(
        self,
        clone: str,
        commit: str,
        key: tuple[str, str] | None = None,
        *,
        deprecated: tuple[str, int] | None = None,
    ) -> None:
        """Push ``clone``'s one new commit. From a stale clone git refuses the push; the
        commit is rebased on the origin and pushed again. ``key``: the one pointer a
        stale change touched, ``deprecated``: the version a stale change deprecated
        (else the clone had pulled, and its view is the truth)."""
        root, view = self.roots[clone], self.views[clone]
        pushed = run_git(root, "push", "-q", "origin", "HEAD:main")
        if self.pulled[clone] < self.generation:
            assert pushed.returncode != 0, "a push from a stale clone went through"
            assert "rejected" in pushed.stderr or "fetch first" in pushed.stderr, pushed.stderr
            reach("stale push refused, rebased")
            git(root, "pull", "-q", "--rebase")
            assert git(root, "rev-list", "--count", "origin/main..HEAD").strip() == "1"
            view.rename_commit(commit, self.head(clone))
            git(root, "push", "-q", "origin", "HEAD:main")
        else:
            assert pushed.returncode == 0, pushed.stderr
        changed = [k for k, stack in view.stacks.items() if stack != self.truth.stacks[k]]
        self.last_changed = changed[0] if changed else self.last_changed
        if key is not None:
            self.truth.stacks[key] = list(view.stacks[key])
        elif deprecated is not None:
            self.truth.deprecated[deprecated[0]].add(deprecated[1])
        else:
            self.truth = view.copy()
        self.generation += 1
        self.pulled[clone] = self.generation
        self.views[clone] = self.truth.copy()

    # --- running a command against the reference -------------------------------------------

    def expect(self, clone: str, outcome: Outcome, call: Any) -> Any:
        """Run ``call``: refused as ``outcome`` says (HEAD and tree as they were), or
        landing (its result returned)."""
        if outcome.refused is None:
            return call()
        root, head = self.roots[clone], self.head(clone)
        error = InputError if outcome.refused == "input" else ConflictError
        with pytest.raises(error) as raised:
            call()
        one_line(str(raised.value))
        assert self.head(clone) == head
        assert git(root, "status", "--porcelain") == ""
        if outcome.refused == "input":
            reach(f"reason refused: {outcome.why}")
        elif outcome.why == "gate":
            reach("gate refused")
        elif outcome.why == "cross-clone":
            assert "after this clone last pulled" in str(raised.value)
            reach("cross-clone conflict refused")
        return None

    def stale_check(
        self,
        clone: str,
        outcome: Outcome,
        model: str,
        stages: tuple[str, ...],
        read: tuple[int, ...] = (),
    ) -> Outcome:
        """The library refuses a change decided on a file the origin changed since this
        clone's last pull (it fetches to look): the pointers of ``stages``, the manifests
        of versions ``read`` (here only deprecation changes them); otherwise it lands."""
        if outcome.refused is not None:
            return outcome
        truth, view = self.truth, self.views[clone]
        moved = any(truth.top(model, s) != view.top(model, s) for s in stages)
        deprecated = [
            v for v in read if (v in truth.deprecated[model]) != (v in view.deprecated[model])
        ]
        if moved or deprecated:
            if deprecated and not moved:
                reach("stale read refused")
            return Outcome(refused="conflict", why="cross-clone")
        return outcome

    def pointer(self, clone: str, model: str, stage: str) -> StagePointer | None:
        with Registry.open(self.roots[clone]) as registry:
            return registry.pointer(model, stage)

    def landed(
        self,
        clone: str,
        model: str,
        stage: str,
        outcome: Outcome,
        commit: str,
        *,
        stale: bool,
        reason: str = "",
    ) -> None:
        """The stage's new file is the one predicted (a restored file exactly; a new one
        but for its ``since``); the stack moves; the commit is published."""
        view = self.views[clone]
        pointer = self.pointer(clone, model, stage)
        assert pointer is not None
        actual = Doc.of(pointer)
        if outcome.restores:
            assert actual == outcome.doc
        else:
            assert replace(actual, since=None) == outcome.doc
            assert actual.since is not None
        if reason.strip() != reason or any(c in reason for c in "\t\u2028\u2029"):
            self.check_reason_stored(clone, model, stage, reason, actual)
        view.land(model, stage, actual, commit, replace_top=outcome.replaces_top)
        self.publish(clone, commit, (model, stage) if stale else None)

    def check_reason_stored(
        self, clone: str, model: str, stage: str, reason: str, actual: Doc
    ) -> None:
        """Escaped in the file (no raw tab or separator), read back equal, and folded to
        one line in the commit's trailer."""
        root = self.roots[clone]
        data = (root / stage_pointer_path(model, stage)).read_bytes()
        for raw in ("\t", "\u2028", "\u2029"):
            assert raw.encode() not in data, data
        trailer = git(root, "log", "-1", "--format=%(trailers:key=Modelreg-Reason,valueonly)")
        assert trailer.strip() == " ".join(reason.split())
        if actual.reason and actual.reason == reason.strip():
            reach("reason stored escaped")

    # --- operations ---------------------------------------------------------------------

    def draw_target(self, data: st.DataObject) -> tuple[str, str]:
        """A model and stage; a third of the time the pointer the origin changed last,
        so that a stale clone meets the other's change."""
        if self.last_changed and data.draw(st.sampled_from([True, False, False]), label="race"):
            return self.last_changed
        return (
            data.draw(MODEL_CHOICES, label="model"),
            data.draw(STAGE_CHOICES, label="stage"),
        )

    def promote(self, clone: str, data: st.DataObject) -> None:
        if data.draw(st.booleans(), label="pull first"):
            self.pull(clone)
        stale = self.pulled[clone] < self.generation
        view, root = self.views[clone], self.roots[clone]
        model, stage = self.draw_target(data)
        # A stale clone, now and then, picks a version the origin deprecated meanwhile.
        unseen = sorted(self.truth.deprecated[model] - view.deprecated[model])
        pool = view.versions(model)
        if unseen and data.draw(st.booleans(), label="unseen"):
            pool = unseen
        number = data.draw(st.sampled_from(pool), label="version")
        reason = data.draw(REASONS, label="reason")
        force = data.draw(st.sampled_from([False] * 3 + [True]), label="force")
        current = view.top(model, stage)
        outcome = view.promote(model, number, stage, reason, force)
        hard, _ = view.gates(model, number, stage)
        if outcome.refused == "conflict" and hard:
            reach("deprecated gate refused")
        outcome = self.stale_check(clone, outcome, model, (stage,), read=(number,))
        done = self.expect(
            clone,
            outcome,
            lambda: promote(
                model, number, stage, repo=root, reason=reason, force=force, now=self.now
            ),
        )
        if done is None:
            return
        assert done.previous == (current.version if current else None)
        assert done.forced == bool(outcome.gates_failed)
        reach("promote landed")
        if outcome.gates_failed:
            reach("forced past a gate")
        self.landed(clone, model, stage, outcome, done.commit, stale=stale, reason=reason)

    def rollback(self, clone: str, data: st.DataObject, *, to: bool = False) -> None:
        if data.draw(st.booleans(), label="pull first"):
            self.pull(clone)
        stale = self.pulled[clone] < self.generation
        view, root = self.views[clone], self.roots[clone]
        # Mostly a stage with a version before its current one, now and then any (an
        # empty one, or one that has held only one version, is refused).
        deep = sorted(
            key
            for key in view.stacks
            if (top := view.top(*key)) is not None and top.previous is not None
        )
        if deep and data.draw(st.sampled_from([True] * 5 + [False]), label="deep"):
            model, stage = data.draw(st.sampled_from(deep), label="target")
        else:
            model, stage = self.draw_target(data)
        target = None
        if to:  # mostly a version lower on the stack, now and then any
            stack = view.stacks[model, stage]
            holding = stack[-1].doc.version if stack[-1].doc else None
            below = sorted({s.doc.version for s in stack[:-1] if s.doc} - {holding})
            pool = below if below and data.draw(st.sampled_from([True] * 3 + [False])) else None
            target = data.draw(st.sampled_from(pool or view.versions(model)), label="to")
        reason = data.draw(REASONS, label="reason")
        current = view.top(model, stage)
        outcome = view.rollback(model, stage, target, reason)
        if outcome.why == "deprecated canary":
            reach("rollback to a deprecated canary refused")
        read = (
            outcome.version,
            *(outcome.doc.canary[:1] if outcome.doc and outcome.doc.canary else ()),
        )
        outcome = self.stale_check(
            clone, outcome, model, (stage,), read=tuple(v for v in read if v)
        )
        done = self.expect(
            clone,
            outcome,
            lambda: rollback(model, stage, repo=root, to=target, reason=reason, now=self.now),
        )
        if done is None:
            return
        assert current is not None
        assert done.version == outcome.version
        assert done.rolled_back == current.version
        assert done.reverted == outcome.reverted  # one commit undoing each promotion in turn
        if not outcome.restores:
            reach("rollback wrote a fresh pointer")
        elif to:
            reach("rollback --to walked")
        else:
            reach("rollback walked")
        self.landed(clone, model, stage, outcome, done.commit, stale=stale, reason=reason)

    def rollback_to(self, clone: str, data: st.DataObject) -> None:
        self.rollback(clone, data, to=True)

    def hand_revert(self, clone: str, data: st.DataObject) -> None:
        """``git revert`` of the change in effect, as a user would type it."""
        self.pull(clone)
        view, root = self.views[clone], self.roots[clone]
        choices = [
            key
            for key, stack in view.stacks.items()
            if stack[-1].commit is not None and self.restorable(key[0], stack[-1].before, view)
        ]
        if not choices:
            return
        model, stage = data.draw(st.sampled_from(sorted(choices)), label="revert")
        top = view.stacks[model, stage][-1]
        assert top.commit is not None
        git(root, "revert", "--no-edit", top.commit)
        reach("hand revert")
        view.land(model, stage, top.before, self.head(clone))
        self.publish(clone, self.head(clone))

    @staticmethod
    def restorable(model: str, doc: Doc | None, view: View) -> bool:
        """A file that may come back by hand: neither it nor its canary is deprecated."""
        if doc is None:
            return True
        canary = doc.canary[0] if doc.canary else None
        return view.usable(model, doc.version) and (canary is None or view.usable(model, canary))

    def canary(self, clone: str, data: st.DataObject) -> None:
        """Add, step or take out a stage's canary by editing the pointer, as a user would.
        The file is written as modelreg writes pointers, so taking the canary out again
        gives back the earlier file byte for byte."""
        self.pull(clone)
        view, root = self.views[clone], self.roots[clone]
        choices = sorted(key for key in view.stacks if view.top(*key) is not None)
        if not choices:
            return
        model, stage = data.draw(st.sampled_from(choices), label="canary of")
        doc = view.top(model, stage)
        assert doc is not None
        others = [v for v in view.versions(model) if v != doc.version and view.usable(model, v)]
        options: list[tuple[int, float] | None] = [(v, w) for v in others for w in (0.1, 0.25, 0.5)]
        if doc.canary is not None:
            options += [None] * len(options)  # taking it out is as likely as any move
        if not options:
            return
        new = data.draw(st.sampled_from(options), label="canary")
        if new == doc.canary:
            return
        moved = "added" if doc.canary is None else "removed" if new is None else "stepped"
        reach(f"canary {moved}")
        path = stage_pointer_path(model, stage)
        pointer = StagePointer(
            model,
            stage,
            doc.version,
            since=doc.since,
            previous=doc.previous,
            reason=doc.reason,
            canary=Canary(*new) if new else None,
            retired=doc.retired,
        )
        (root / path).write_bytes(pointer_bytes(path, pointer))
        git(root, "commit", "-q", "-am", f"canary for {model} {stage}")
        view.land(model, stage, replace(doc, canary=new), self.head(clone))
        self.publish(clone, self.head(clone))

    def alias(self, clone: str, data: st.DataObject) -> None:
        """Set or remove an alias; one named like a stage (any case) is that stage."""
        self.pull(clone)
        view, root = self.views[clone], self.roots[clone]
        model = data.draw(MODEL_CHOICES, label="model")
        names = [*sorted(view.aliases[model]) * 3, *FREE_ALIASES, *STAGE_ALIASES]
        alias = data.draw(st.sampled_from(names), label="alias")  # often one set already
        stage = alias.lower() if alias.lower() in STAGES else None
        # None: remove the alias (a stage's: clear the stage).
        numbers = [None, None, None, *view.versions(model)]
        number = data.draw(st.sampled_from(numbers), label="version")
        if stage is not None:
            self.stage_alias(clone, model, stage, alias, number, data)
            return
        aliases = view.aliases[model]
        if number is None:
            landed = delete_alias(model, alias, repo=root, commit=True)
            if alias not in aliases:
                assert landed is None
                return
            del aliases[alias]
            reach("alias removed")
        else:
            twin = any(a.lower() == alias.lower() and a != alias for a in aliases)
            if not view.usable(model, number) or twin:
                self.expect(
                    clone,
                    Outcome(refused="conflict"),
                    lambda: set_alias(model, alias, number, repo=root, commit=True),
                )
                return
            landed = set_alias(model, alias, number, repo=root, commit=True, now=self.now)
            if aliases.get(alias) == number:
                assert landed is None
                return
            reach("alias moved" if alias in aliases else "alias set")
            aliases[alias] = number
        assert landed is not None
        self.publish(clone, landed.commit)

    def stage_alias(
        self,
        clone: str,
        model: str,
        stage: str,
        alias: str,
        number: int | None,
        data: st.DataObject,
    ) -> None:
        view, root = self.views[clone], self.roots[clone]
        current = view.top(model, stage)
        if number is None:  # removing the alias clears the stage
            landed = delete_alias(model, alias, repo=root, commit=True)
            if current is None:
                assert landed is None
                return
            assert landed is not None
            reach("stage alias cleared the stage")
            view.land(model, stage, None, landed.commit)
            self.publish(clone, landed.commit)
            return
        reason = data.draw(REASONS, label="reason")
        call = partial(
            set_alias, model, alias, number, repo=root, commit=True, reason=reason, now=self.now
        )
        if current is not None and current.version == number:
            assert call() is None  # the stage holds it: nothing to do, the reason unread
            return
        outcome = view.promote(model, number, stage, reason or f"alias '{alias}' set", False)
        landed = self.expect(clone, outcome, call)
        if landed is None:
            return
        reach("stage alias promoted")
        self.landed(clone, model, stage, outcome, landed.commit, stale=False, reason=reason)

    def register(self, clone: str, data: st.DataObject) -> None:
        self.pull(clone)
        view, root = self.views[clone], self.roots[clone]
        model = data.draw(MODEL_CHOICES, label="model")
        accuracy = data.draw(st.sampled_from(ACCURACY), label="accuracy")
        latency = data.draw(st.sampled_from(LATENCY), label="latency")
        number = max(view.versions(model)) + 1
        metrics = {"accuracy": accuracy, "latency_p50_ms": latency}
        builders.write_version(root, model, number, metrics=metrics)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"register {model} version {number}")
        view.metrics[model][number] = (accuracy, latency)
        self.publish(clone, self.head(clone))

    def deprecate(self, clone: str, data: st.DataObject) -> None:
        """Deprecate a version (one a stage held before, more often than not, so that
        rolling back to it is refused), now and then from a stale clone."""
        if data.draw(st.sampled_from([True, True, False]), label="pull first"):
            self.pull(clone)
        stale = self.pulled[clone] < self.generation
        view, root = self.views[clone], self.roots[clone]
        model = data.draw(MODEL_CHOICES, label="model")
        lifted = sorted(view.deprecated[model])
        if not stale and lifted and data.draw(st.booleans(), label="lift one"):
            # Lifting deprecations too keeps versions usable through a long sequence.
            number = data.draw(st.sampled_from(lifted), label="version")
            done = deprecate(model, number, repo=root, undo=True, commit=True, now=self.now)
            view.deprecated[model].discard(number)
            assert done.commit is not None
            reach("deprecation lifted")
            self.publish(clone, done.commit)
            return
        # Versions (and canaries) held lower on a stack: rolling back to them is refused.
        below = {
            number
            for (owner, _), stack in view.stacks.items()
            if owner == model
            for state in stack[:-1]
            if state.doc is not None
            for number in (state.doc.version, *(state.doc.canary or ())[:1])
        }
        earlier = sorted(below - set(view.held(model).values()) - view.deprecated[model])
        canaries = sorted({d.canary[0] for s in STAGES if (d := view.top(model, s)) and d.canary})
        pools = [p for p in (earlier, earlier, canaries) if p] + [view.versions(model)]
        number = data.draw(st.sampled_from(data.draw(st.sampled_from(pools))), label="version")
        call = partial(
            deprecate, model, number, repo=root, commit=True, reason="bad labels", now=self.now
        )
        outcome = view.deprecate(model, number)
        if outcome.why == "a stage's canary":
            reach("deprecating a canary refused")
        outcome = self.stale_check(clone, outcome, model, STAGES, read=(number,))
        done = self.expect(clone, outcome, call)
        if done is None:
            return
        reach("deprecated from a stale clone" if stale else "deprecated")
        view.deprecated[model].add(number)
        assert done.commit is not None
        self.publish(clone, done.commit, deprecated=(model, number) if stale else None)

    def deprecation_race(self, clone: str, data: st.DataObject) -> None:
        """The other clone deprecates a version and pushes; this one, not pulling, then
        promotes that version past every overridable gate: its view says the promotion
        may land, the origin's manifest says otherwise. The other clone then lifts the
        deprecation."""
        other = next(c for c in CLONES if c != clone)
        self.pull(other)
        view = self.views[other]
        model = data.draw(MODEL_CHOICES, label="model")
        known = set(self.views[clone].versions(model))  # not one the other just registered
        eligible = [
            v
            for v in view.versions(model)
            if v in known and view.deprecate(model, v).refused is None
        ]
        if not eligible:
            return
        number = data.draw(st.sampled_from(eligible), label="version")
        done = deprecate(model, number, repo=self.roots[other], commit=True, now=self.now)
        view.deprecated[model].add(number)
        assert done.commit is not None
        self.publish(other, done.commit)
        stage = data.draw(STAGE_CHOICES, label="stage")
        outcome = self.views[clone].promote(model, number, stage, "race", True)
        outcome = self.stale_check(clone, outcome, model, (stage,), read=(number,))
        root = self.roots[clone]
        call = partial(promote, model, number, stage, repo=root, reason="race", force=True)
        assert self.expect(clone, outcome, call) is None  # refused: deprecated, or already there
        # The deprecation is lifted again, so that the race leaves the versions usable.
        self.pull(other)
        lifted = deprecate(model, number, repo=self.roots[other], undo=True, commit=True)
        self.views[other].deprecated[model].discard(number)
        assert lifted.commit is not None
        self.publish(other, lifted.commit)

    def sync(self, clone: str, data: st.DataObject) -> None:
        for other in CLONES:
            self.pull(other)

    # Promotions and rollbacks come most often, so that stacks grow deep enough to walk
    # back and clones go stale.
    OPERATIONS = (
        ("promote", 8),
        ("rollback", 4),
        ("rollback_to", 2),
        ("hand_revert", 1),
        ("canary", 3),
        ("alias", 4),
        ("register", 1),
        ("deprecate", 2),
        ("deprecation_race", 1),
        ("sync", 1),
    )

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        choices = [name for name, weight in self.OPERATIONS for _ in range(weight)]
        operation = data.draw(st.sampled_from(choices), label="operation")
        clone = data.draw(st.sampled_from(CLONES), label="clone")
        self.acted = clone
        self.touched.add(clone)
        getattr(self, operation)(clone, data)

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def clones_match_their_views(self) -> None:
        for clone in sorted(self.touched):
            root, view = self.roots[clone], self.views[clone]
            assert git(root, "status", "--porcelain") == "", clone
            with Registry.open(root) as registry:
                for model in MODELS:
                    for stage in STAGES:
                        pointer = registry.pointer(model, stage)
                        found = Doc.of(pointer) if pointer else None
                        assert found == view.top(model, stage), (clone, model, stage)
                        if pointer is not None:  # NAME@Stage is the stage
                            named = registry.resolve(f"{model}@{stage.capitalize()}")
                            assert named.version.version == pointer.version
                    aliases = {a: p.version for a, p in registry.aliases(model).items()}
                    assert aliases == view.aliases[model], (clone, model)
                    for number in view.versions(model):
                        deprecated = registry.version(model, number).deprecation is not None
                        assert deprecated == (number in view.deprecated[model])
        self.touched.clear()

    @invariant()
    def the_clone_that_acted_validates(self) -> None:
        report = validate(self.roots[self.acted], offline=True, cache=False)
        assert report.ok, [f.render() for f in report.findings]


@pytest.fixture
def origin_template(tmp_path: Path) -> Path:
    """A bare origin holding versions 1 and 2 of each model, and the stages' policies."""
    work, origin = tmp_path / "seed", tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(tmp_path, "init", "-q", str(work))
    builders.write_config(work, stages=STAGES, policies=POLICIES)
    for model in MODELS:
        builders.write_model(work, model, card=builders.CARD)
        for number, (accuracy, latency) in enumerate(SEED_METRICS, 1):
            metrics = {"accuracy": accuracy, "latency_p50_ms": latency}
            builders.write_version(work, model, number, metrics=metrics)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "three models, two versions each")
    git(work, "push", "-q", str(origin), "HEAD:main")
    return origin


@pytest.mark.slow
def test_two_clones_keep_the_registry_valid_and_predictable(origin_template: Path) -> None:
    TwoClones.origin_template = origin_template
    REACH.clear()
    run_state_machine_as_test(
        TwoClones,
        settings=settings(
            max_examples=24,
            stateful_step_count=50,
            deadline=None,
            derandomize=True,  # the same sequences each run: a steady time and reach
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print("\nreach:", ", ".join(f"{name}={REACH[name]}" for name in sorted(REACH)))
    missing = [name for name in MUST_REACH if REACH[name] < 1]
    assert not missing, f"never reached: {missing}"
