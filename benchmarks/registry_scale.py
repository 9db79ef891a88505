"""Registry commands at scale, as whole processes, against GTO in the same run.

    .venv/bin/python -m benchmarks.registry_scale [--rounds 15]

Builds the synthetic registry (100 models x 100 versions, 2,100 production changes;
see ``benchmarks/synthetic.py``; ``--models/--versions/--promotions`` make a smaller
one for a smoke run) under ``benchmarks/.work/``, installs GTO into its own virtual
environment under ``benchmarks/.envs/gto`` (pinned, so both sides are the same every
run), then times each command as a fresh process, the commands (GTO's too)
interleaved in every round so that the machine's noise falls on all of them alike.
Every run's answer is checked before its time counts (the production version both
tools name, the number of changes history lists; after ``promote`` and ``gto
assign``, the commit or tag they made): a fast wrong answer is not a result. Once,
before the timed rounds, ``gto show NAME#prod --ref`` must name the version ``gto
assign`` assigned. The writers' changes are undone after each run, untimed, so every
command meets the registry and tags as built.

Writes ``benchmarks/results/registry_scale.{json,md}`` with the commit measured and
the machine's description (``benchmarks/machine.py``). The targets come from the
registry-core issue; the verdict on GTO is a ratio of medians, given with its spread
(slowest GTO over fastest modelreg, and the reverse), so noise shows instead of hiding.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmarks.machine import measured_at, provenance
from benchmarks.synthetic import History, build
from modelreg.core.layout import stage_pointer_path, version_path

ROOT = Path(__file__).resolve().parent.parent
GTO_PIN = "gto==1.10.1"
MODEL = "model-000"
PROMOTE = "promote --no-pr (one commit)"
GTO_SHOW = "gto show NAME#prod"
GTO_ASSIGN = "gto assign NAME --stage prod"


@dataclass
class Command:
    """One command line to time, with checks of its answer and untimed set-up/undo.

    ``check`` reads the command's output; ``verify`` (optional) looks at what it left
    behind (a commit, a tag); ``after`` undoes a writer's change. All three run after
    every run, untimed, and the time counts only when both checks pass.
    """

    name: str
    argv: list[str]
    check: Callable[[str], str | None]
    target_ms: float | None = None
    before: Callable[[], None] | None = None
    verify: Callable[[], str | None] | None = None
    after: Callable[[], None] | None = None
    samples: list[float] = field(default_factory=list)


def clean_env() -> dict[str, str]:
    """The environment for timed processes: bytecode on (as for any user), no colours."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"})
    return env


def ensure_registry(work: Path, rebuild: bool, size: dict[str, int]) -> tuple[Path, History]:
    """The synthetic registry of ``size`` in ``work``, reused when built at that size."""
    repo = work / "registry"
    meta = work / "built.json"
    if repo.exists() and meta.exists() and not rebuild:
        data = json.loads(meta.read_text())
        built_size = data.pop("size", {"models": 100, "versions": 100, "promotions": 2100})
        if built_size == size:
            return repo, History(**data)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    print(f"building the synthetic registry {size} (about a minute at full size) ...", flush=True)
    history = build(repo, **size)
    meta.write_text(json.dumps({**history.__dict__, "size": size}))
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


def run_once(command: Command, cwd: Path, env: dict[str, str]) -> float:
    """One timed run; its answer checked and its change undone before returning."""
    if command.before is not None:
        command.before()
    start = time.perf_counter()
    done = subprocess.run(
        command.argv, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    try:
        if done.returncode != 0:
            argv = " ".join(command.argv)
            raise SystemExit(f"{command.name}: {argv} exited {done.returncode}:\n{done.stderr}")
        problem = command.check(done.stdout)
        if problem is None and command.verify is not None:
            problem = command.verify()
        if problem:
            raise SystemExit(f"{command.name}: wrong answer: {problem}")
    finally:
        if command.after is not None:
            command.after()
    return elapsed


def expect(text: str, what: str) -> Callable[[str], str | None]:
    return lambda out: None if text in out else f"expected {what!r} in the output"


def commands(repo: Path, history: History, gto: Path | None) -> list[Command]:
    modelreg = str(ROOT / ".venv" / "bin" / "modelreg")
    production = history.production[MODEL]
    cache = repo / ".git" / "modelreg"
    versions = len(history.models) * history.versions

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

    # registry/model-050/versions/7.yaml in the full registry.
    edited = repo / version_path(history.models[len(history.models) // 2], min(7, history.versions))
    original = edited.read_bytes()

    def edit_one_file() -> None:
        text = edited.read_text()
        marker = "description: '"
        assert marker in text, f"{edited} has no quoted description to edit"
        edited.write_text(text.replace(marker, marker + "Edited. ", 1))

    def restore_edited() -> None:
        edited.write_bytes(original)

    # promote commits; each run is checked, then the registry goes back to as built.
    built = _git(repo, "rev-parse", "HEAD")
    candidate = production - 1 if production > 1 else production + 1

    def reset_registry() -> None:
        _git(repo, "reset", "--quiet", "--hard", built)

    def promoted() -> str | None:
        pointer = _git(repo, "show", f"HEAD:{stage_pointer_path(MODEL, 'production')}")
        if _git(repo, "rev-parse", "HEAD^") != built:
            return "promote did not make exactly one commit on the registry as built"
        if yaml.safe_load(pointer).get("version") != candidate:
            return f"production's pointer does not name version {candidate}"
        return None

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
            f"validate ({versions:,} versions, no cache)",
            [modelreg, "validate", "--json"],
            validate_check,
            before=lambda: (cache / "manifests.marshal").unlink(missing_ok=True),
        ),
        Command(
            f"validate ({versions:,} versions)",
            [modelreg, "validate", "--json"],
            validate_check,
            2000,
        ),
        Command(
            "validate --base HEAD (one file changed)",
            [modelreg, "validate", "--base", "HEAD", "--json"],
            validate_check,
            300,
            before=edit_one_file,
            after=restore_edited,
        ),
        Command(
            PROMOTE,
            [modelreg, "promote", MODEL, str(candidate), "--to", "production", "--no-pr"],
            expect(f"promoted {MODEL}/{candidate} to production", "promoted"),
            300,
            before=reset_registry,
            verify=promoted,
            after=reset_registry,
        ),
    ]
    if gto is not None:
        tags = set(_git(repo, "tag", "--list", f"{MODEL}#prod#*").split())
        version_commit = _git(repo, "rev-parse", f"{MODEL}@v{candidate}.0.0^{{commit}}")

        def drop_new_tags() -> None:
            for tag in set(_git(repo, "tag", "--list", f"{MODEL}#prod#*").split()) - tags:
                _git(repo, "tag", "--delete", tag)

        def assigned() -> str | None:
            new = set(_git(repo, "tag", "--list", f"{MODEL}#prod#*").split()) - tags
            if len(new) != 1:
                return f"gto assign made {len(new)} new {MODEL}#prod#N tags, not one"
            (tag,) = new
            if _git(repo, "rev-parse", f"{tag}^{{commit}}") != version_commit:
                return f"{tag} is not on the commit of {MODEL}@v{candidate}.0.0"
            return None

        result += [
            Command(
                GTO_SHOW,
                [str(gto), "show", f"{MODEL}#prod"],
                expect(f"v{production}.0.0", f"v{production}.0.0"),
            ),
            Command(
                GTO_ASSIGN,
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
                before=drop_new_tags,
                verify=assigned,
                after=drop_new_tags,
            ),
            Command(
                "gto history NAME",
                [str(gto), "history", MODEL],
                expect(f"v{production}.0.0", f"v{production}.0.0"),
            ),
        ]
    return result


def gto_agrees(repo: Path, gto: Path, assign: Command, env: dict[str, str]) -> None:
    """Once, untimed: after ``gto assign``, GTO itself names the assigned version."""
    assert assign.before is not None and assign.after is not None
    assign.before()
    try:
        subprocess.run(assign.argv, cwd=repo, env=env, capture_output=True, check=True)
        ref = subprocess.run(
            [str(gto), "show", f"{MODEL}#prod", "--ref"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    finally:
        assign.after()
    version = assign.argv[assign.argv.index("--version") + 1]
    if ref != f"{MODEL}@{version}":
        raise SystemExit(f"{GTO_ASSIGN}: `gto show {MODEL}#prod --ref` says {ref!r}, not "
                         f"{MODEL}@{version}")  # fmt: skip


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
    parser.add_argument("--models", type=int, default=100, help="Smaller for a smoke run.")
    parser.add_argument("--versions", type=int, default=100, help="Per model.")
    parser.add_argument("--promotions", type=int, default=2100)
    parser.add_argument("--no-gto", action="store_true")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--work", type=Path, default=ROOT / "benchmarks" / ".work" / "registry_scale"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    where = provenance()  # the code as this run starts

    env = clean_env()
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "modelreg")], check=True
    )
    size = {"models": args.models, "versions": args.versions, "promotions": args.promotions}
    repo, history = ensure_registry(args.work, args.rebuild, size)
    gto = None if args.no_gto else ensure_gto(ROOT / "benchmarks" / ".envs")
    plan = commands(repo, history, gto)
    by_name = {c.name: c for c in plan}
    try:
        # One untimed run each (every run is checked): caches and page cache as a user
        # has them. Then GTO's own reading of the tag `gto assign` makes.
        for command in plan:
            run_once(command, repo, env)
        if gto is not None:
            gto_agrees(repo, gto, by_name[GTO_ASSIGN], env)
        for round_no in range(args.rounds):
            order = plan[round_no % len(plan) :] + plan[: round_no % len(plan)]
            for command in order:
                command.samples.append(run_once(command, repo, env))
            print(f"round {round_no + 1}/{args.rounds} done", flush=True)
    finally:
        for command in plan:  # leave the registry (and GTO's tags) as built
            if command.after is not None:
                command.after()

    rows = [summarise(c) for c in plan]
    report: dict[str, object] = {
        "benchmark": "registry_scale",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **where,
        "rounds": args.rounds,
        "registry": {
            "models": len(history.models),
            "versions": len(history.models) * history.versions,
            "commits": history.commits,
            "production_changes": history.production_changes,
            "gto_tags": history.gto_tags,
        },
        "results": rows,
    }
    if gto is not None:
        show = speedup(by_name["show NAME@production"], by_name[GTO_SHOW])
        report["show_vs_gto"] = {**show, "target": 50}
        report["promote_vs_gto_assign"] = speedup(by_name[PROMOTE], by_name[GTO_ASSIGN])
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
        measured_at(report),
        f"{report['date']}; {m['git']}; {report['rounds']} rounds.",
        "",
        f"Synthetic registry: {r['models']} models, {r['versions']:,} versions, "
        f"{r['commits']:,} commits, {r['production_changes']:,} production changes; "
        f"{r['gto_tags']:,} GTO tags (one model's history; see benchmarks/synthetic.py).",
        "Whole processes, GTO's included, interleaved in every round; every run's answer "
        "checked before its time counts (`promote`: one commit naming the version; `gto "
        "assign`: one new tag on that version's commit, and once `gto show NAME#prod --ref` "
        "naming it), and the writers' changes undone after each run, untimed.",
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
