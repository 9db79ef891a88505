"""import-gto at scale: a GTO repository with 100 versions and 2,000 stage assignments.

    .venv/bin/python -m benchmarks.import_gto [--versions 100] [--assignments 2000]

The GTO repository is written with ``git fast-import`` in GTO's exact tag grammar
(annotated ``NAME@vX.Y.Z`` and ``NAME#STAGE#N`` tags with taggers and dates, and an
``artifacts.yaml`` naming a file each version's commit holds), so building it takes
seconds; the real ``gto`` then reads it. Each assignment moves its stage to another
version, so every one of them is a stage change. Checks, against what the real ``gto``
reads from the repository: ``modelreg history`` lists every assignment of ``gto
history`` with its stage, version, tagger and date, in GTO's order; ``modelreg show
NAME@STAGE`` answers what ``gto show NAME#STAGE`` does; ``modelreg validate`` passes.
Writes benchmarks/results/import_gto.md (``--out`` elsewhere), with the commit measured
and the machine (``benchmarks/machine.py``); exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import measured_at, provenance

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = "clf"
STAGES = ("staging", "prod")
START = 1_760_000_000
TAGGERS = ("Ana Tagger <ana@example.com>", "Bo Reviewer <bo@example.com>")


def _git(cwd: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=True)
    return done.stdout.decode()


def build_gto_repo(path: Path, versions: int, assignments: int, seed: int) -> list[tuple[str, str]]:
    """The repository; returns the (stage, version) of each assignment, in order."""
    rng = random.Random(seed)
    path.mkdir(parents=True)
    _git(path, "init", "-q")
    stream: list[bytes] = []

    def blob(mark: int, data: bytes) -> None:
        stream.append(f"blob\nmark :{mark}\ndata {len(data)}\n".encode() + data + b"\n")

    artifacts = f"{MODEL}:\n  type: model\n  path: models/{MODEL}.bin\n".encode()
    when = START
    for number in range(1, versions + 1):
        weights = f"weights of version {number}\n".encode()
        blob(2 * number, weights)
        blob(2 * number + 1, artifacts)
        message = f"train v{number}".encode()
        parent = f"from :{100000 + number - 1}\n" if number > 1 else ""
        stream.append(
            f"commit refs/heads/main\nmark :{100000 + number}\n"
            f"author {TAGGERS[0]} {when} +0000\ncommitter {TAGGERS[0]} {when} +0000\n"
            f"data {len(message)}\n".encode()
            + message
            + f"\n{parent}M 100644 :{2 * number} models/{MODEL}.bin\n"
            f"M 100644 :{2 * number + 1} artifacts.yaml\n\n".encode()
        )
        tag_message = f"Registering artifact {MODEL} version v1.{number}.0".encode()
        stream.append(
            f"tag {MODEL}@v1.{number}.0\nfrom :{100000 + number}\n"
            f"tagger {TAGGERS[0]} {when} +0000\ndata {len(tag_message)}\n".encode()
            + tag_message
            + b"\n"
        )
        when += 1
    held: dict[str, int] = {}
    done: list[tuple[str, str]] = []
    for counter in range(1, assignments + 1):
        stage = rng.choice(STAGES)
        choices = [n for n in range(1, versions + 1) if n != held.get(stage)]
        number = rng.choice(choices)
        held[stage] = number
        version = f"v1.{number}.0"
        tagger = TAGGERS[counter % 2]
        tag_message = f"Assigning stage {stage} to artifact {MODEL} version {version}".encode()
        stream.append(
            f"tag {MODEL}#{stage}#{counter}\nfrom :{100000 + number}\n"
            f"tagger {tagger} {when} +0000\ndata {len(tag_message)}\n".encode()
            + tag_message
            + b"\n"
        )
        done.append((stage, version))
        when += 1
    _git(path, "fast-import", "--quiet", data=b"".join(stream))
    _git(path, "checkout", "-q", "main")
    return done


# Until modelreg.cli imports modelreg.cli.importing, the installed script's entry
# point is run with that module imported first (the same process either way).
_SHIM = "import sys, modelreg.cli.importing\nfrom modelreg.cli import main\nsys.exit(main())\n"


def import_command() -> list[str]:
    import modelreg.cli  # noqa: F401 - to see whether it brings the command module

    if "modelreg.cli.importing" in sys.modules:
        return [str(BIN / "modelreg"), "import-gto"]
    return [sys.executable, "-c", _SHIM, "import-gto"]


def _run(args: list[str], cwd: Path) -> tuple[str, float]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done.stdout, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--assignments", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    where = provenance()  # the code as this run starts
    modelreg, gto = str(BIN / "modelreg"), str(BIN / "gto")
    with tempfile.TemporaryDirectory(prefix="import-gto-") as scratch:
        work = Path(scratch)
        source = work / "gto"
        started = time.perf_counter()
        assigned = build_gto_repo(source, args.versions, args.assignments, args.seed)
        built = time.perf_counter() - started
        target = work / "registry"
        target.mkdir()
        _git(target, "init", "-q")
        _git(target, "commit", "-q", "--allow-empty", "-m", "start")
        (work / "remote").mkdir()
        _run(
            [modelreg, "init", "--stage", "staging", "--stage", "prod", "--remote",
             str(work / "remote"), "--commit"],
            target,
        )  # fmt: skip
        out, imported = _run([*import_command(), str(source), "--json"], target)
        result = json.loads(out)["models"][0]
        numbers = result["versions"]  # GTO version -> modelreg version
        history = json.loads(_run([modelreg, "history", MODEL, "--json"], target)[0])
        changes = list(reversed(history["changes"]))

        # What the real gto reads from the repository: its history, and its answers.
        gto_out, gto_history_s = _run([gto, "history", MODEL, "--json"], source)
        events = [e for e in reversed(json.loads(gto_out)) if e["event"] == "assignment"]
        theirs = [(e["stage"], numbers[e["version"]], e["author"], e["timestamp"]) for e in events]
        ours = [
            (c["stage"], c["to_version"], c["author"].split(" <")[0], c["date"]) for c in changes
        ]
        same = ours == [(s, n, a, t.replace("+00:00", "Z")) for s, n, a, t in theirs]
        generated = [(s, numbers[v]) for s, v in assigned] == [(s, n) for s, n, _, _ in theirs]
        answers = {}
        for stage in STAGES:
            gto_ref, gto_s = _run([gto, "show", f"{MODEL}#{stage}", "--ref"], source)
            shown, ours_s = _run([modelreg, "show", f"{MODEL}@{stage}", "--json"], target)
            mine = f"{MODEL}@{json.loads(shown)['version']['tags']['gto.version']}"
            answers[stage] = (gto_ref.strip(), mine, gto_s, ours_s)
        valid = subprocess.run([modelreg, "validate"], cwd=target, capture_output=True).returncode
    ok = same and generated and valid == 0 and all(a[0] == a[1] for a in answers.values())
    lines = [
        f"# import-gto: {args.versions} versions, {args.assignments:,} stage assignments",
        "",
        measured_at(where),
        f"gto {_gto_version()}; run with `python -m benchmarks.import_gto --versions "
        f"{args.versions} --assignments {args.assignments} --seed {args.seed}`.",
        "",
        f"- GTO repository built with git fast-import: {built:.1f} s ({args.versions} version "
        f"tags, {args.assignments:,} assignment tags, each by its tagger at its own second)",
        f"- `modelreg import-gto`: **{imported:.1f} s** ({args.versions} versions tracked by "
        f"DVC and pushed, then {result['stage_changes']:,} stage changes, one commit each by "
        "its tagger at its date, landed as one transaction)",
        f"- `gto history {MODEL}` ({gto_history_s:.1f} s) lists {len(events):,} assignments; "
        f"`modelreg history {MODEL}` lists {len(changes):,} stage changes; same stages, "
        f"versions, authors and dates in the same order: **{same}** (and the ones the "
        f"builder meant: **{generated}**)",
    ]
    for stage, (gto_ref, mine, gto_s, ours_s) in answers.items():
        lines.append(
            f"- `gto show {MODEL}#{stage} --ref` = `{gto_ref}` ({gto_s:.2f} s); "
            f"`modelreg show {MODEL}@{stage}` = `{mine}` ({ours_s:.2f} s): "
            f"**{'agree' if gto_ref == mine else 'DISAGREE'}**"
        )
    lines.append(f"- `modelreg validate` after the import: exit {valid}")
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "import_gto.md").write_text(text)
    print(text)
    sys.exit(0 if ok else 1)


def _gto_version() -> str:
    from importlib.metadata import version

    return version("gto")


if __name__ == "__main__":
    main()
