"""Does ``modelreg benchmark`` repeat itself? Two whole runs of one version, compared.

    .venv/bin/python -m benchmarks.benchmark_stability [--runs 2] [--onnx FILE --checkpoint FILE]

A 10% regression gate only works if the benchmark does not move by more than a
few percent on its own. This runs ``modelreg benchmark`` as separate processes on
the same model (the pipeline's output by default), then compares every runner and
batch size's p50 across the runs: the spread is (max - min) / min. The issue's
line is 5% for the configuration a promotion is judged by (the best ONNX Runtime
one at each batch size); every other runner is reported beside it. A last run
compares the version with itself, interleaved (``--baseline``), which is how a
promotion gate measures: its ratio should be 1 within the verdict's noise.

Writes ``benchmarks/results/benchmark_stability_<device>.{json,md}`` with the commit
measured and the machine (``benchmarks/machine.py``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.machine import measured_at, provenance

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 0.05


def run_once(args: argparse.Namespace, out: Path, *extra: str) -> dict:
    argv = [
        sys.executable, "-m", "modelreg", "benchmark",
        "--onnx", str(args.onnx), "--checkpoint", str(args.checkpoint),
        "--device", args.device, "--batch-sizes", args.batch_sizes,
        "--budget", str(args.budget), "--out", str(out), *extra,
    ]  # fmt: skip
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def compare(reports: list[dict]) -> list[dict]:
    """One row per (runner, batch): each run's p50 and their relative spread."""
    p50s: dict[tuple[str, int], list[float]] = {}
    for report in reports:
        for row in report["results"]:
            p50s.setdefault((row["runner"], row["batch"]), []).append(row["p50_ms"])
    best = {(b["runner"], b["batch"]) for b in reports[0]["best"]}
    rows = []
    for (runner, batch), values in sorted(p50s.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        spread = (max(values) - min(values)) / min(values)
        rows.append(
            {
                "runner": runner,
                "batch": batch,
                "p50_ms": values,
                "spread": round(spread, 4),
                "judged": (runner, batch) in best,
            }
        )
    return rows


def agreeing_pairs(rows: list[dict]) -> tuple[int, int]:
    """(pairs of runs whose judged p50s all agree within LIMIT, all pairs of runs)."""
    judged = [row["p50_ms"] for row in rows if row["judged"]]
    count = len(judged[0]) if judged else 0
    pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
    agree = sum(all(abs(v[i] - v[j]) / min(v[i], v[j]) <= LIMIT for v in judged) for i, j in pairs)
    return agree, len(pairs)


def markdown(
    reports: list[dict], rows: list[dict], ok: bool, self_cmp: dict, where: dict[str, Any]
) -> str:
    device = reports[0]["device"]
    libs = reports[0]["libraries"]
    lines = [
        f"# `modelreg benchmark` run-to-run agreement ({device['kind']})",
        "",
        measured_at(where),
        "",
        f"Device: {device.get('gpu') or device.get('cpu')}, {device.get('cores', '?')} cores; "
        f"onnxruntime {libs.get('onnxruntime')}, torch {libs.get('torch')}. "
        f"{len(reports)} separate processes, run back to back on "
        f"{reports[0]['created'][:10]}.",
        "",
        "Spread = (max - min) / min of the runs' p50. Judged rows are the best ONNX Runtime "
        f"configuration per batch size, which promotion gates compare; limit {LIMIT:.0%}.",
        "",
        "| runner | batch | p50 per run (ms) | spread | judged |",
        "|---|---:|---|---:|:---:|",
    ]
    for row in rows:
        runs = " / ".join(f"{v:.4f}" for v in row["p50_ms"])
        mark = "yes" if row["judged"] else ""
        lines.append(
            f"| {row['runner']} | {row['batch']} | {runs} | {row['spread']:.1%} | {mark} |"
        )
    verdict = "within" if ok else "OUTSIDE"
    agreeing, pairs = agreeing_pairs(rows)
    lines += [
        "",
        f"Verdict: judged configurations {verdict} {LIMIT:.0%}. Pairs of runs agreeing within "
        f"{LIMIT:.0%} on every judged row: {agreeing} of {pairs}. On a shared virtual machine a "
        "slowdown of the host that lasts a whole run moves every runner together (torch too); "
        "the interleaved comparison below is immune to it, which is why gates use it.",
    ]
    lines += [
        "",
        "The version against itself, interleaved in one run (what a gate compares):",
        "",
        "| runner | batch | ratio p50 | block ratios (10th-90th pct) |",
        "|---|---:|---:|---|",
    ]
    for row in self_cmp["comparison"]:
        lines.append(
            f"| {row['runner']} | {row['batch']} | {row['ratio_p50']:.4f} | "
            f"{row['block_ratio_low']:.4f} - {row['block_ratio_high']:.4f} |"
        )
    lines += ["", f"Verdict line: {self_cmp['verdict']['summary']}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--onnx", type=Path, default=ROOT / "outputs/digits-cnn/model.onnx")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "outputs/digits-cnn/model.pt")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-sizes", default="1,8,64")
    parser.add_argument("--budget", type=float, default=0.5)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args()
    where = provenance()  # the code as this run starts
    if not args.onnx.is_file():
        parser.error(f"{args.onnx} does not exist; run 'dvc repro' first")

    with tempfile.TemporaryDirectory() as tmp:
        reports = [run_once(args, Path(tmp) / f"run{i}.json") for i in range(args.runs)]
        self_cmp = run_once(args, Path(tmp) / "self.json", "--baseline-onnx", str(args.onnx))
    rows = compare(reports)
    ok = all(row["spread"] <= LIMIT for row in rows if row["judged"])
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / f"benchmark_stability_{args.device}"
    stem.with_suffix(".json").write_text(
        json.dumps(
            {
                **where,
                "limit": LIMIT,
                "ok": ok,
                "agreeing_pairs": agreeing_pairs(rows),
                "rows": rows,
                "reports": reports,
                "self": self_cmp,
            },
            indent=2,
        )
        + "\n"
    )
    text = markdown(reports, rows, ok, self_cmp, where)
    stem.with_suffix(".md").write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
