"""``get_model_version_by_alias`` through the MLflow plugin vs MLflow's sqlite store.

    .venv/bin/python -m benchmarks.mlflow_alias [--rounds 15] [--lookups 200]

(``--models`` and ``--versions`` make both registries smaller, for a smoke run.)

Both registries hold the same 10,000 versions (100 models x 100) and the same
aliases (``champion`` and ``challenger`` on every model, on random versions):
the Git registry is the synthetic one (``benchmarks/synthetic.py``, under
``benchmarks/.work/mlflow_alias``), the sqlite one is filled through MLflow's
own store API (``SqlAlchemyStore``) and kept beside it for the next run. Each
lookup goes through ``MlflowClient`` as user code would, with the registry URI
``modelreg:///...`` or ``sqlite:///...``; every answer is checked (version and
aliases) before anything is timed. Rounds interleave the two stores so noise
falls on both; the verdict is the ratio of medians with its spread.

Writes ``benchmarks/results/mlflow_alias.{json,md}`` with the commit measured and the
machine (``benchmarks/machine.py``); exits 1 if the plugin's
median is slower than sqlite's.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import measured_at, provenance
from benchmarks.synthetic import build
from modelreg.core.layout import alias_pointer_path
from modelreg.core.yaml_edit import write_manifest

ROOT = Path(__file__).resolve().parent.parent
ALIASES = ("champion", "challenger")
MODELS, VERSIONS = 100, 100


def aliases_plan(names: list[str], versions: int) -> dict[tuple[str, str], int]:
    rng = random.Random(20261202)
    return {(name, alias): rng.randint(1, versions) for name in names for alias in ALIASES}


def git_registry(work: Path, rebuild: bool, models: int, versions: int) -> tuple[Path, list[str]]:
    repo = work / "repo"
    size = work / "size.json"
    wanted = json.dumps({"models": models, "versions": versions})
    # Built before sizes were recorded: the full size.
    built = size.read_text() if size.exists() else json.dumps({"models": 100, "versions": 100})
    if (rebuild or built != wanted) and work.exists():
        shutil.rmtree(work)
    if not (repo / "registry").is_dir():
        work.mkdir(parents=True, exist_ok=True)
        build(repo, models=models, versions=versions, promotions=0)
        size.write_text(wanted)
    names = sorted(p.name for p in (repo / "registry").iterdir() if (p / "model.yaml").is_file())
    for (name, alias), number in aliases_plan(names, versions).items():
        write_manifest(repo, alias_pointer_path(name, alias), {"version": number}, "pointer")
    return repo, names


def sqlite_registry(work: Path, names: list[str], versions: int) -> str:
    """MLflow's sqlite registry with the same models, versions and aliases (built once)."""
    path = work / "registry.db"
    done = work / "registry.db.complete"
    uri = f"sqlite:///{path}"
    if done.exists():
        return uri
    path.unlink(missing_ok=True)
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri)
    started = time.monotonic()
    for name in names:
        store.create_registered_model(name)
        for number in range(1, versions + 1):
            store.create_model_version(name, f"/models/{name}/{number}")
    for (name, alias), number in aliases_plan(names, versions).items():
        store.set_registered_model_alias(name, alias, str(number))
    done.write_text(f"built in {time.monotonic() - started:.0f} s\n")
    return uri


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--lookups", type=int, default=200, help="Lookups per store per round.")
    parser.add_argument("--models", type=int, default=MODELS, help="Smaller for a smoke run.")
    parser.add_argument("--versions", type=int, default=VERSIONS, help="Per model.")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work" / "mlflow_alias")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    where = provenance()  # the code as this run starts
    warnings.simplefilter("ignore")
    from mlflow import MlflowClient

    work = args.work
    repo, names = git_registry(work, args.rebuild, args.models, args.versions)
    sqlite_uri = sqlite_registry(work, names, args.versions)
    plan = aliases_plan(names, args.versions)
    # MLflow's default tracking store is ./mlflow.db in the current folder: keep it in
    # the scratch folder, never in the checkout.
    tracking_uri = f"sqlite:///{work / 'tracking.db'}"
    clients = {
        "modelreg": MlflowClient(tracking_uri=tracking_uri, registry_uri=f"modelreg://{repo}"),
        "sqlite": MlflowClient(tracking_uri=tracking_uri, registry_uri=sqlite_uri),
    }
    rng = random.Random(7)
    keys = list(plan)

    # Every answer checked first: a fast wrong answer is not a result.
    for label, client in clients.items():
        for name, alias in rng.sample(keys, min(50, len(keys))):
            version = client.get_model_version_by_alias(name, alias)
            assert int(version.version) == plan[(name, alias)], (label, name, alias)
            assert alias in version.aliases, (label, name, alias, version.aliases)

    per_round: dict[str, list[float]] = {label: [] for label in clients}
    for round_number in range(args.rounds):
        sample = rng.sample(keys, args.lookups)
        order = list(clients) if round_number % 2 == 0 else list(reversed(clients))
        for label in order:
            client = clients[label]
            began = time.perf_counter()
            for name, alias in sample:
                client.get_model_version_by_alias(name, alias)
            per_round[label].append((time.perf_counter() - began) / len(sample) * 1000)
    summary = {
        label: {
            "median_ms": round(statistics.median(times), 3),
            "min_ms": round(min(times), 3),
            "max_ms": round(max(times), 3),
        }
        for label, times in per_round.items()
    }
    ours, theirs = summary["modelreg"], summary["sqlite"]
    ratio = theirs["median_ms"] / ours["median_ms"]
    report: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **where,
        "versions": len(names) * args.versions,
        "models": len(names),
        "aliases": len(plan),
        "rounds": args.rounds,
        "lookups_per_round": args.lookups,
        "per_lookup": summary,
        "sqlite_over_modelreg": round(ratio, 2),
        "spread": [
            round(theirs["min_ms"] / ours["max_ms"], 2),
            round(theirs["max_ms"] / ours["min_ms"], 2),
        ],
        "ok": ours["median_ms"] <= theirs["median_ms"],
    }
    markdown = "\n".join(
        [
            "# get_model_version_by_alias: MLflow plugin vs MLflow's sqlite store",
            "",
            f"{measured_at(report)} {report['when']}.",
            "",
            f"Both registries: {report['models']} models, {report['versions']:,} versions, "
            f"{report['aliases']} aliases. Each lookup through `MlflowClient` "
            "(registry URI `modelreg:///...` or `sqlite:///...`), answers checked first; "
            f"{args.rounds} rounds of {args.lookups} random lookups per store, interleaved.",
            "",
            "| store | median ms/lookup | min | max |",
            "|---|---:|---:|---:|",
            *[
                f"| {label} | {s['median_ms']} | {s['min_ms']} | {s['max_ms']} |"
                for label, s in summary.items()
            ],
            "",
            f"sqlite takes {report['sqlite_over_modelreg']}x the plugin's time per lookup "
            f"(ratio of medians; {report['spread'][0]}x to {report['spread'][1]}x from the "
            f"extremes). Verdict: {'PASS' if report['ok'] else 'FAIL'} (the plugin must be "
            "no slower).",
            "",
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mlflow_alias.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "mlflow_alias.md").write_text(markdown)
    print(markdown)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
