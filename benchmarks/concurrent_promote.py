"""Two promotions of one stage in one clone, started at the same moment.

    .venv/bin/python -m benchmarks.concurrent_promote [--trials 50]

The acceptance check of the one-transaction issue: a clone with a bare origin as
upstream, model ``digits`` with versions 1-3, production at v1 and no gates that can
fail; ``modelreg promote digits 2 --to production`` and ``... 3 ...`` start behind a
barrier (both wait for one file, then exec the command). Even trials release both at
the same moment; odd ones release the second after a random stagger in ``[0, d/2]``
(``d``: one promotion's time), where a second reader sees the stage before the first
commits (the old code's stale ``previous`` showed at 20-60 ms of ~170 ms). Each
trial passes when exit codes are 0 or 1 only, at least one wins and exactly one
commit lands per winner, a refusing loser says one line, and every promotion commit
on the pointer's first-parent history records, in the file's ``previous`` and in
``Modelreg-Previous``, the version the stage held just before it; ``validate``
passes and the tree is clean.
The trial code lives in ``benchmarks/write_safety.py``, shared with the test suite.

Writes ``benchmarks/results/concurrent_promote.{json,md}``; exits 1 if any trial failed.
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
    RaceTrial,
    build_template,
    race_duration,
    race_trial,
)

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work" / "concurrent_promote"
RESULTS = ROOT / "benchmarks" / "results"


def label(trial: RaceTrial) -> str:
    if trial.problems:
        return trial.problems[0].split(":")[0]
    return "one won" if trial.winners == 1 else "both won, in order"


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Two concurrent promotions of one stage in one clone",
        "",
        f"{measured_at(report)} {report['when']}; seed {report['seed']}.",
        "",
        "Each trial: production at v1, `promote digits 2` and `promote digits 3` released "
        "by a barrier (odd trials: the second after a random stagger up to d/2, "
        f"d = {report['promote_duration_s'] * 1000:.0f} ms); the pointer's first-parent "
        "history checked (`benchmarks/write_safety.py`).",
        "",
        f"Trials: {report['trials']}; passed: {report['ok']}.",
        "",
        "| outcome | trials |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {n} |" for name, n in report["outcomes"].items()]
    lines += ["", "Failures (first five):", ""]
    bad = [t for t in report["trial_records"] if not t["ok"]]
    lines += [
        f"- stagger {t['stagger_s'] * 1000:.0f} ms, exit codes {t['exit_codes']}: "
        + "; ".join(t["problems"])
        for t in bad[:5]
    ]
    if not bad:
        lines.append("- none")
    lines += ["", f"Verdict: {'PASS' if report['passed'] else 'FAIL'}.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    where = provenance()  # the code as this run starts
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"seed {seed}", flush=True)
    rng = random.Random(seed)

    sandbox = build_template(WORK, promotions=(1,))
    seconds = race_duration(sandbox)
    trials = []
    for index in range(args.trials):
        trial = race_trial(sandbox, stagger_s=rng.uniform(0.0, seconds / 2) if index % 2 else 0.0)
        trials.append(trial)
        print(
            f"{index + 1}/{args.trials} exit codes {trial.exit_codes}: {label(trial)}", flush=True
        )

    ok = sum(1 for t in trials if not t.problems)
    report = {
        "format": "modelreg.concurrent_promote/1",
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **where,
        "seed": seed,
        "promote_duration_s": round(seconds, 4),
        "trials": len(trials),
        "ok": ok,
        "outcomes": dict(collections.Counter(label(t) for t in trials)),
        "trial_records": [t.to_json() for t in trials],
        "passed": ok == len(trials),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "concurrent_promote.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render_markdown(report)
    (args.out / "concurrent_promote.md").write_text(markdown)
    print(markdown)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
