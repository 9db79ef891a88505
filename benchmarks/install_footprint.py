"""What installing modelreg costs: the base wheel against each extra, in fresh venvs.

    .venv/bin/python -m benchmarks.install_footprint [--extras base,mlflow,all] [--rounds 15]

Builds the sdist and wheel with ``python -m build``, then for each variant makes a
fresh venv under benchmarks/.work/install_footprint/ and installs the *wheel* (not
editable) with ``pip install -c constraints.txt 'modelreg-X.whl[extra]'``. For each
it records the distributions installed (besides pip), the size of site-packages,
whether torch, ONNX Runtime and MLflow are present, and ``modelreg --help`` as a
whole process (median of ``--rounds``, beside ``python -c pass`` in the same venv).
The base install must hold none of the heavy three and answer ``--help`` within
150 ms.

Writes benchmarks/results/install_footprint.{json,md}; exits 1 if the base install
misses its budget or pulls a heavy package.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import measured_at, provenance
from benchmarks.registry_scale import clean_env

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "onnxruntime", "mlflow")
HELP_BUDGET_MS = 150


def build_wheel(out: Path) -> Path:
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("*.whl")
    return wheel


def install(venv: Path, wheel: Path, extra: str) -> float:
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    spec = str(wheel) if extra == "base" else f"{wheel}[{extra}]"
    started = time.perf_counter()
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", "-c", str(ROOT / "constraints.txt"), spec],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:  # pip's own output only when it failed (it warns a lot)
        sys.exit(f"pip install {spec} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - started


def distributions(venv: Path) -> list[str]:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json",
         "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    names = [d["name"].lower() for d in json.loads(done.stdout)]
    return sorted(n for n in names if n not in {"pip", "setuptools", "wheel"})


def site_packages_bytes(venv: Path) -> int:
    [site] = (venv / "lib").glob("python3*/site-packages")
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink())


def whole_process_ms(command: list[str], rounds: int, cwd: Path) -> list[float]:
    env = clean_env()
    subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(work: Path, wheel: Path, extra: str, rounds: int) -> dict[str, Any]:
    venv = work / f"venv-{extra}"
    seconds = install(venv, wheel, extra)
    names = distributions(venv)
    python = str(venv / "bin" / "python")
    help_ms = whole_process_ms([str(venv / "bin" / "modelreg"), "--help"], rounds, work)
    floor_ms = whole_process_ms([python, "-c", "pass"], rounds, work)
    return {
        "extra": extra,
        "install_s": round(seconds, 1),
        "distributions": len(names),
        "site_packages_mib": round(site_packages_bytes(venv) / 2**20, 1),
        "heavy": [h for h in HEAVY if h in names],
        "help_ms_median": round(statistics.median(help_ms), 1),
        "python_pass_ms_median": round(statistics.median(floor_ms), 1),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Install footprint: the base wheel and its extras",
        "",
        f"{measured_at(report)} {report['when']}.",
        "",
        "Each row: a fresh venv, the built wheel installed with that extra under "
        "constraints.txt; `--help` is the whole process, median of "
        f"{report['rounds']} runs, beside `python -c pass` in the same venv.",
        "",
        "| install | distributions | site-packages MiB | torch / ORT / MLflow | "
        "`--help` ms | `python -c pass` ms | install s |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in report["rows"]:
        heavy = ", ".join(row["heavy"]) or "none"
        name = "base" if row["extra"] == "base" else f"[{row['extra']}]"
        lines.append(
            f"| {name} | {row['distributions']} | {row['site_packages_mib']} | {heavy} | "
            f"{row['help_ms_median']} | {row['python_pass_ms_median']} | {row['install_s']} |"
        )
    lines += ["", f"Verdict: {report['verdict']}.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", default="base,mlflow,export,serve,all")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks/.work/install_footprint")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    where = provenance()  # the code as this run starts
    args.work.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(args.work / "dist")
    rows = []
    for extra in args.extras.split(","):
        print(f"installing {wheel.name} {extra} ...", file=sys.stderr, flush=True)
        rows.append(measure(args.work, wheel, extra, args.rounds))
    base = next((r for r in rows if r["extra"] == "base"), None)
    ok = base is None or (not base["heavy"] and base["help_ms_median"] <= HELP_BUDGET_MS)
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **where,
        "rounds": args.rounds,
        "help_budget_ms": HELP_BUDGET_MS,
        "rows": rows,
        "verdict": "PASS" if ok else "FAIL",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "install_footprint.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / "install_footprint.md").write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
