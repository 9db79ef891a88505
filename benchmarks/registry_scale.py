"""Registry commands at scale, as whole processes, against GTO in the same run.

    .venv/bin/python -m benchmarks.registry_scale [--rounds 15] [--gto-rounds 3]

Builds the synthetic registry (100 models x 100 versions, 2,100 production changes;
see ``benchmarks/synthetic.py``) under ``benchmarks/.work/``, installs GTO into its
own virtual environment under ``benchmarks/.envs/gto`` (pinned, so both sides are
the same every run), then times each command as a fresh process, the commands
interleaved round by round so that the machine's noise falls on all of them alike.
Each command's answer is checked first (the production version both tools name,
the number of changes history lists): a fast wrong answer is not a result.

Writes ``benchmarks/results/registry_scale.{json,md}`` with the machine's
description. The targets come from the registry-core issue; the verdict on GTO is
a ratio of medians, given with its spread (slowest GTO over fastest modelreg, and
the reverse), so noise shows instead of hiding.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.synthetic import History, build
from modelreg.artifacts.benchmark import cpu_name

ROOT = Path(__file__).resolve().parent.parent
GTO_PIN = "gto==1.10.1"
MODEL = "model-000"
EDITED = "registry/model-050/versions/7.yaml"


@dataclass
class Command:
    """One command line to time, with a check of its answer and optional set-up."""

    name: str
    argv: list[str]
    check: Callable[[str], str | None]
    target_ms: float | None = None
    rounds: int | None = None  # default: the run's --rounds
    before: Callable[[], None] | None = None
    samples: list[float] = field(default_factory=list)


def machine() -> dict[str, object]:
    cpu = cpu_name()
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "git": git.stdout.strip(),
        "modelreg_commit": commit.stdout.strip(),
    }


def clean_env() -> dict[str, str]:
    """The environment for timed processes: bytecode on (as for any user), no colours."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"})
    return env


def ensure_registry(work: Path, rebuild: bool) -> tuple[Path, History]:
    repo = work / "registry"
    meta = work / "built.json"
    if repo.exists() and meta.exists() and not rebuild:
        data = json.loads(meta.read_text())
        return repo, History(**data)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    print("building the synthetic registry (about a minute) ...", flush=True)
    history = build(repo)
    meta.write_text(json.dumps(history.__dict__))
    return repo, history


def ensure_gto(envs: Path) -> Path | None:
    exe = envs / "gto" / "bin" / "gto"
    if exe.exists():
        return exe
    print(f"installing {GTO_PIN} into {envs / 'gto'} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(envs / "gto")], check=True)
    done = subprocess.run(
        [str(envs / "gto" / "bin" / "pip"), "install", "-q", GTO_PIN],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not exe.exists():
        print(f"GTO could not be installed; comparing without it:\n{done.stderr[-2000:]}")
        return None
    return exe


def run_once(command: Command, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    if command.before is not None:
        command.before()
    start = time.perf_counter()
    done = subprocess.run(
        command.argv, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{command.name}: {' '.join(command.argv)} exited {done.returncode}:\n{done.stderr}"
        )
    return elapsed, done.stdout


def expect(text: str, what: str) -> Callable[[str], str | None]:
    return lambda out: None if text in out else f"expected {what!r} in the output"


def commands(repo: Path, history: History, gto: Path | None, gto_rounds: int) -> list[Command]:
    modelreg = str(ROOT / ".venv" / "bin" / "modelreg")
    production = history.production[MODEL]
    cache = repo / ".git" / "modelreg"

    def history_check(out: str) -> str | None:
        changes = json.loads(out)["changes"]
        if len(changes) != history.production_changes:
            return f"history listed {len(changes)} changes, {history.production_changes} made"
        if changes[0]["to_version"] != production:
            return f"history's latest version is {changes[0]['to_version']}, not {production}"
        return None

    def validate_check(out: str) -> str | None:
        report = json.loads(out)
        if not report["ok"] or report["errors"]:
            return f"validate found errors: {report['findings'][:3]}"
        return None

    def edit_one_file() -> None:
        path = repo / EDITED
        text = path.read_text()
        marker = "description: '"
        assert marker in text, f"{EDITED} has no quoted description to edit"
        path.write_text(text.replace(marker, marker + "Edited. ", 1))

    # promote commits; each timed run starts from the registry as built.
    built = _git(repo, "rev-parse", "HEAD")
    candidate = production - 1 if production > 1 else production + 1

    def reset_registry() -> None:
        _git(repo, "reset", "--quiet", "--hard", built)

    python = str(ROOT / ".venv" / "bin" / "python")
    result = [
        # Floors, for reading the rest on a machine of unknown speed: the interpreter
        # alone, and the libraries every modelreg command imports.
        Command("(floor) python -S -c pass", [python, "-S", "-c", "pass"], lambda _: None),
        Command(
            "(floor) python -c 'import click, yaml'",
            [python, "-c", "import click, yaml"],
            lambda _: None,
        ),
        Command("--help", [modelreg, "--help"], expect("Usage:", "Usage:"), 150),
        Command(
            "show NAME@production",
            [modelreg, "show", f"{MODEL}@production"],
            expect(f"{MODEL}/{production}", f"{MODEL}/{production}"),
            150,
        ),
        Command("list", [modelreg, "list"], expect(MODEL, MODEL)),
        Command(
            "versions NAME",
            [modelreg, "versions", MODEL],
            expect(str(history.versions), str(history.versions)),
        ),
        Command(
            "history --stage production (no cache)",
            [modelreg, "history", MODEL, "--stage", "production", "--json"],
            history_check,
            before=lambda: shutil.rmtree(cache / "history", ignore_errors=True),
        ),
        Command(
            "history --stage production",
            [modelreg, "history", MODEL, "--stage", "production", "--json"],
            history_check,
            300,
        ),
        Command(
            "validate (10,000 versions, no cache)",
            [modelreg, "validate", "--json"],
            validate_check,
            before=lambda: (cache / "manifests.marshal").unlink(missing_ok=True),
        ),
        Command(
            "validate (10,000 versions)", [modelreg, "validate", "--json"], validate_check, 2000
        ),
        Command(
            "validate --base HEAD (one file changed)",
            [modelreg, "validate", "--base", "HEAD", "--json"],
            validate_check,
            300,
            before=edit_one_file,
        ),
        Command(
            "promote --no-pr (one commit)",
            [modelreg, "promote", MODEL, str(candidate), "--to", "production", "--no-pr"],
            expect(f"promoted {MODEL}/{candidate} to production", "promoted"),
            300,
            before=reset_registry,
        ),
    ]
    if gto is not None:
        tags = set(_git(repo, "tag", "--list", f"{MODEL}#prod#*").split())

        def drop_new_tags() -> None:
            for tag in set(_git(repo, "tag", "--list", f"{MODEL}#prod#*").split()) - tags:
                _git(repo, "tag", "--delete", tag)

        result += [
            Command(
                "gto show NAME#prod",
                [str(gto), "show", f"{MODEL}#prod"],
                expect(f"v{production}.0.0", f"v{production}.0.0"),
                rounds=gto_rounds,
            ),
            Command(
                "gto assign NAME --stage prod",
                # --force: GTO counts every version ever assigned as still in the stage.
                [
                    str(gto),
                    "assign",
                    MODEL,
                    "--version",
                    f"v{candidate}.0.0",
                    "--stage",
                    "prod",
                    "--force",
                ],
                lambda _: None,
                rounds=gto_rounds,
                before=drop_new_tags,
            ),
            Command(
                "gto history NAME",
                [str(gto), "history", MODEL],
                expect(f"v{production}.0.0", f"v{production}.0.0"),
                rounds=gto_rounds,
            ),
        ]
    return result


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def speedup(ours: Command, theirs: Command) -> dict[str, float]:
    """How many times faster ``ours`` ran than ``theirs`` in the same run."""
    mine, other = ours.samples, theirs.samples
    return {
        "ratio_of_medians": round(statistics.median(other) / statistics.median(mine), 1),
        "ratio_low": round(min(other) / max(mine), 1),
        "ratio_high": round(max(other) / min(mine), 1),
    }


def summarise(command: Command) -> dict[str, object]:
    ms = sorted(s * 1000 for s in command.samples)
    median = statistics.median(ms)
    return {
        "command": command.name,
        "argv": [Path(command.argv[0]).name, *command.argv[1:]],
        "runs": len(ms),
        "median_ms": round(median, 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
        "target_ms": command.target_ms,
        "meets_target": None if command.target_ms is None else median <= command.target_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--gto-rounds", type=int, default=3)
    parser.add_argument("--no-gto", action="store_true")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--work", type=Path, default=ROOT / "benchmarks" / ".work" / "registry_scale"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    env = clean_env()
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "modelreg")], check=True
    )
    repo, history = ensure_registry(args.work, args.rebuild)
    gto = None if args.no_gto else ensure_gto(ROOT / "benchmarks" / ".envs")
    plan = commands(repo, history, gto, args.gto_rounds)
    original = (repo / EDITED).read_bytes()
    try:
        # One untimed run each: answers checked, caches and page cache as a user has them.
        for command in plan:
            _, out = run_once(command, repo, env)
            problem = command.check(out)
            if problem:
                raise SystemExit(f"{command.name}: wrong answer: {problem}")
            (repo / EDITED).write_bytes(original)
        for round_no in range(args.rounds):
            order = plan[round_no % len(plan) :] + plan[: round_no % len(plan)]
            for command in order:
                if round_no >= (command.rounds or args.rounds):
                    continue
                elapsed, _ = run_once(command, repo, env)
                (repo / EDITED).write_bytes(original)
                command.samples.append(elapsed)
            print(f"round {round_no + 1}/{args.rounds} done", flush=True)
    finally:
        (repo / EDITED).write_bytes(original)
        for command in plan:  # leave the registry (and GTO's tags) as built
            if command.before is not None and command.name.startswith(("promote", "gto assign")):
                command.before()

    rows = [summarise(c) for c in plan]
    report: dict[str, object] = {
        "benchmark": "registry_scale",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "registry": {
            "models": len(history.models),
            "versions": len(history.models) * history.versions,
            "commits": history.commits,
            "production_changes": history.production_changes,
            "gto_tags": history.gto_tags,
        },
        "results": rows,
    }
    by_name = {c.name: c for c in plan}
    if gto is not None:
        show = speedup(by_name["show NAME@production"], by_name["gto show NAME#prod"])
        report["show_vs_gto"] = {**show, "target": 50}
        report["promote_vs_gto_assign"] = speedup(
            by_name["promote --no-pr (one commit)"], by_name["gto assign NAME --stage prod"]
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "registry_scale.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render_markdown(report)
    (args.out / "registry_scale.md").write_text(markdown)
    print(markdown)
    return 0


def render_markdown(report: dict[str, object]) -> str:
    m = report["machine"]
    r = report["registry"]
    assert isinstance(m, dict) and isinstance(r, dict)
    lines = [
        "# Registry commands at scale",
        "",
        f"{report['date']} on {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['system']}; "
        f"Python {m['python']}; {m['git']}; modelreg {m['modelreg_commit']}.",
        "",
        f"Synthetic registry: {r['models']} models, {r['versions']:,} versions, "
        f"{r['commits']:,} commits, {r['production_changes']:,} production changes; "
        f"{r['gto_tags']:,} GTO tags (one model's history; see benchmarks/synthetic.py).",
        "Whole processes, interleaved round by round; each answer checked before timing.",
        "",
        "| command | runs | median ms | min ms | max ms | target ms | meets |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    results = report["results"]
    assert isinstance(results, list)
    for row in results:
        target = "" if row["target_ms"] is None else f"{row['target_ms']:.0f}"
        meets = {None: "", True: "yes", False: "**no**"}[row["meets_target"]]
        lines.append(
            f"| `{row['command']}` | {row['runs']} | {row['median_ms']:.0f} | "
            f"{row['min_ms']:.0f} | {row['max_ms']:.0f} | {target} | {meets} |"
        )
    ratio = report.get("show_vs_gto")
    if isinstance(ratio, dict):
        lines += [
            "",
            f"`show` vs `gto show NAME#prod`: {ratio['ratio_of_medians']}x faster (ratio of "
            f"medians; {ratio['ratio_low']}x to {ratio['ratio_high']}x from the extremes); "
            f"target {ratio['target']}x.",
        ]
    ratio = report.get("promote_vs_gto_assign")
    if isinstance(ratio, dict):
        lines += [
            "",
            f"`promote --no-pr` vs `gto assign`: {ratio['ratio_of_medians']}x faster (ratio of "
            f"medians; {ratio['ratio_low']}x to {ratio['ratio_high']}x from the extremes).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
