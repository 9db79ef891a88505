"""Kill -9 at random moments of every registry writer; nothing may need manual cleanup.

    .venv/bin/python -m benchmarks.crash_check [--trials 50] [--seed N] [--writer NAME]

The acceptance check of the one-transaction issue: ``register --commit``,
``promote``, ``rollback``, ``deprecate --commit`` and a write through the MLflow
plugin (``set_registered_model_alias``). Each writer is timed once uninterrupted
(``d``), then run ``--trials`` times from a fresh copy of one template registry and
SIGKILLed, with its whole process group, at a uniformly random moment in ``[0, d]``
(for the plugin, counted from its "ready" line after ``import mlflow``). After each
kill: HEAD holds nothing new or the complete change; the tree is clean right after
the kill or after the next modelreg command (``validate``); ``validate`` exits 0;
the same command again (or its inverse, when the change had landed) exits 0, gives
the right result and leaves a clean tree without ``*.tmp`` files. The rules and the
trial code live in ``benchmarks/write_safety.py``, shared with the test suite.

Writes ``benchmarks/results/crash_check.{json,md}`` (machine, seed, code commit, per
writer the trials and their outcomes); exits 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import measured_at, provenance
from benchmarks.write_safety import (
    WRITERS,
    KillTrial,
    build_template,
    duration,
    kill_trial,
    outcome,
)

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work" / "crash_check"
RESULTS = ROOT / "benchmarks" / "results"


def summary(name: str, seconds: float, trials: list[KillTrial]) -> dict[str, Any]:
    def count(test: Any) -> int:
        return sum(1 for t in trials if test(t))

    return {
        "writer": name,
        "duration_s": round(seconds, 4),
        "trials": len(trials),
        "ok": count(lambda t: not t.problems),
        "outcomes": dict(collections.Counter(outcome(t) for t in trials)),
        "head_after_kill": dict(collections.Counter(t.head_after_kill for t in trials)),
        "exited_before_kill": count(lambda t: t.exited_before_kill),
        "clean_right_after_kill": count(lambda t: t.clean_after_kill),
        "clean_after_next_modelreg_command": count(lambda t: t.clean_after_validate),
        "validate_ok": count(lambda t: t.validate_rc == 0),
        "next_command_ok": count(lambda t: t.next_rc == 0 and t.next_result_ok),
        "trial_records": [t.to_json() for t in trials],
    }


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# kill -9 during registry writes",
        "",
        f"{measured_at(report)} {report['when']}; seed {report['seed']}.",
        "",
        "Each trial: a fresh copy of the template registry, the writer SIGKILLed (whole "
        "process group) at a uniform moment in [0, d], then HEAD, `git status`, "
        "`modelreg validate` and the next command checked (`benchmarks/write_safety.py`).",
        "",
        "| writer | d (s) | trials | ok | HEAD before/after/partial | clean after kill "
        "| clean after validate | validate ok | next ok |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for w in report["writers"]:
        heads = w["head_after_kill"]
        lines.append(
            f"| {w['writer']} | {w['duration_s']:.3f} | {w['trials']} | {w['ok']} "
            f"| {heads.get('before', 0)}/{heads.get('after', 0)}/{heads.get('partial', 0)} "
            f"| {w['clean_right_after_kill']} | {w['clean_after_next_modelreg_command']} "
            f"| {w['validate_ok']} | {w['next_command_ok']} |"
        )
    lines += ["", "Failures (first three per writer):", ""]
    failed = False
    for w in report["writers"]:
        bad = [t for t in w["trial_records"] if not t["ok"]]
        for t in bad[:3]:
            failed = True
            lines.append(
                f"- {w['writer']} killed at {t['kill_at_s']:.3f} s: " + "; ".join(t["problems"])
            )
        if len(bad) > 3:
            lines.append(f"- {w['writer']}: {len(bad) - 3} more")
    if not failed:
        lines.append("- none")
    lines += ["", f"Verdict: {'PASS' if report['passed'] else 'FAIL'}.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--writer", action="append", choices=sorted(WRITERS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    where = provenance()  # the code as this run starts
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"seed {seed}", flush=True)
    rng = random.Random(seed)

    sandbox = build_template(WORK, promotions=(1, 2))
    writers = []
    for name in args.writer or list(WRITERS):
        writer = WRITERS[name]
        seconds = duration(sandbox, writer)
        trials = []
        for index in range(args.trials):
            trial = kill_trial(sandbox, writer, rng.uniform(0.0, seconds))
            trials.append(trial)
            print(
                f"{name} {index + 1}/{args.trials} at {trial.kill_at_s:.3f}s: {outcome(trial)}",
                flush=True,
            )
        writers.append(summary(name, seconds, trials))

    report = {
        "format": "modelreg.crash_check/1",
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **where,
        "seed": seed,
        "trials_per_writer": args.trials,
        "writers": writers,
        "passed": all(w["ok"] == w["trials"] for w in writers),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "crash_check.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render_markdown(report)
    (args.out / "crash_check.md").write_text(markdown)
    print(markdown)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
