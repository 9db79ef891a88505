"""import-gto at scale: a GTO repository with 100 versions and 2,000 stage assignments.

    .venv/bin/python -m benchmarks.import_gto [--versions 100] [--assignments 2000]

The GTO repository is written with ``git fast-import`` in GTO's exact tag grammar
(annotated ``NAME@vX.Y.Z`` and ``NAME#STAGE#N`` tags with taggers and dates, and an
``artifacts.yaml`` naming a file each version's commit holds), so building it takes
seconds; the real ``gto`` then reads it. Each assignment moves its stage to another
version, so every one of them is a stage change. Checks: ``modelreg history`` holds
every assignment in GTO's order, and ``modelreg show NAME@STAGE`` answers what
``gto show NAME#STAGE`` does. Writes benchmarks/results/import_gto.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--assignments", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    modelreg, gto = str(BIN / "modelreg"), str(BIN / "gto")
    with tempfile.TemporaryDirectory(prefix="import-gto-") as scratch:
        work = Path(scratch)
        started = time.perf_counter()
        assigned = build_gto_repo(work / "gto", args.versions, args.assignments, args.seed)
        built = time.perf_counter() - started
        target = work / "registry"
        target.mkdir()
        _git(target, "init", "-q")
        _git(target, "commit", "-q", "--allow-empty", "-m", "start")
        (work / "remote").mkdir()
        subprocess.run(
            [modelreg, "init", "--stage", "staging", "--stage", "prod", "--remote",
             str(work / "remote"), "--commit"],
            cwd=target, check=True, capture_output=True,
        )  # fmt: skip
        started = time.perf_counter()
        subprocess.run([modelreg, "import-gto", str(work / "gto")], cwd=target, check=True)
        imported = time.perf_counter() - started
        history = json.loads(
            subprocess.run(
                [modelreg, "history", MODEL, "--json"],
                cwd=target, check=True, capture_output=True, text=True,
            ).stdout
        )  # fmt: skip
        changes = list(reversed(history["changes"]))
        numbers = {
            v: int(v.split(".")[1]) for _, v in assigned
        }  # v1.N.0 is version N: registered in semver order
        ours = [(c["stage"], c["to_version"]) for c in changes]
        theirs = [(s, numbers[v]) for s, v in assigned]
        agree_history = ours == theirs
        answers = {}
        for stage in STAGES:
            started = time.perf_counter()
            gto_ref = subprocess.run(
                [gto, "show", f"{MODEL}#{stage}", "--ref"],
                cwd=work / "gto", check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            gto_s = time.perf_counter() - started
            started = time.perf_counter()
            shown = json.loads(
                subprocess.run(
                    [modelreg, "show", f"{MODEL}@{stage}", "--json"],
                    cwd=target, check=True, capture_output=True, text=True,
                ).stdout
            )  # fmt: skip
            ours_s = time.perf_counter() - started
            mine = f"{MODEL}@{shown['version']['tags']['gto.version']}"
            answers[stage] = (gto_ref, mine, gto_s, ours_s)
        commit = _git(ROOT, "rev-parse", "--short", "HEAD").strip()
    ok = agree_history and all(a[0] == a[1] for a in answers.values())
    lines = [
        f"# import-gto: {args.versions} versions, {args.assignments:,} stage assignments",
        "",
        f"Measured at commit `{commit}` on a 2-core Intel Xeon VM, 24 GiB "
        f"({platform.python_version()}), with `python -m benchmarks.import_gto "
        f"--versions {args.versions} --assignments {args.assignments} --seed {args.seed}`.",
        "",
        f"- GTO repository built with git fast-import: {built:.1f} s "
        f"({args.versions} version tags, {args.assignments} assignment tags)",
        f"- `modelreg import-gto`: {imported:.1f} s (one commit for the versions, then one "
        "per stage change, each by its tagger)",
        f"- `modelreg history` holds {len(changes)} stage changes; GTO has "
        f"{len(assigned)} assignments; same order and versions: **{agree_history}**",
    ]
    for stage, (gto_ref, mine, gto_s, ours_s) in answers.items():
        lines.append(
            f"- `gto show {MODEL}#{stage} --ref` = `{gto_ref}` ({gto_s:.2f} s); "
            f"`modelreg show {MODEL}@{stage}` = `{mine}` ({ours_s:.2f} s): "
            f"**{'agree' if gto_ref == mine else 'DISAGREE'}**"
        )
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results" / "import_gto.md"
    out.write_text(text)
    print(text)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
