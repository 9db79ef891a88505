"""A synthetic registry with a long history, built fast with ``git fast-import``.

``build(root, models=100, versions=100, promotions=2100)`` makes a real modelreg
repository: ``modelreg init`` (with DVC), then one commit per registered version
(manifest, DVC record, object in the DVC cache) and ``promotions`` production
changes on the first model, interleaved over time like a team's history. The
history of the first ``gto_models`` models is also written as GTO tags
(``name@vN.0.0`` on each registration commit, ``name#prod#N`` on the registration
commit of the version each production change assigns), so both tools answer the
same questions about the same commits. One model's tags are the default: with
all 13,090 tags of the full registry, ``gto show`` had not answered after 15
minutes on a 2-core machine, so GTO is measured where it still works (2,200 tags).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from modelreg.api import init
from modelreg.artifacts.dvc import object_path
from modelreg.core.layout import (
    artifact_dir,
    model_manifest_path,
    schema_comment,
    stage_pointer_path,
    version_path,
)
from modelreg.core.yaml_io import dump_yaml

START = 1_767_225_600  # 2026-01-01T00:00:00Z
AUTHORS = [
    "Ada Lovelace <ada@example.com>",
    "Grace Hopper <grace@example.com>",
    "Alan Turing <alan@example.com>",
]


@dataclass
class History:
    """What was built, for the benchmark to ask about and check answers against."""

    models: list[str]
    versions: int
    production: dict[str, int] = field(default_factory=dict)
    production_changes: int = 0
    commits: int = 0
    gto_tags: int = 0


def _timestamp(seconds: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version_document(model: str, number: int, md5: str, size: int, when: int) -> dict[str, object]:
    return {
        "model": model,
        "version": number,
        "created": _timestamp(when),
        "author": AUTHORS[number % len(AUTHORS)],
        "description": f"Run {number}: learning rate {0.01 / number:.5f}",
        "lineage": {
            "git_commit": hashlib.sha1(f"{model}{number}".encode()).hexdigest(),
            "dvc_stage": "train",
            "dvc_lock_hash": hashlib.md5(f"lock{model}{number}".encode()).hexdigest(),
            "params": {"train": {"lr": round(0.01 / number, 6), "epochs": 10 + number % 7}},
        },
        "artifacts": [
            {
                "name": "weights",
                "path": f"{artifact_dir(model, number)}/model.pt",
                "md5": md5,
                "size": size,
                "format": "pytorch",
            },
        ],
        "signature": {
            "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 1, 8, 8]}],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 10]}],
        },
        "metrics": {
            "accuracy": round(0.9 + (number % 97) / 1000, 4),
            "f1_macro": round(0.89 + (number % 89) / 1000, 4),
            "latency_p50_ms": round(0.1 + (number % 13) / 100, 3),
        },
        "tags": {"task": "image-classification"},
    }


class _Stream:
    """Writes a git fast-import stream."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0

    def data(self, payload: bytes) -> None:
        self.parts.append(b"data %d\n" % len(payload) + payload + b"\n")

    def commit(
        self, parent: str, author: str, when: int, message: str, files: dict[str, bytes]
    ) -> int:
        self.mark += 1
        ident = f"{author} {when} +0000".encode()
        self.parts.append(b"commit refs/heads/main\nmark :%d\n" % self.mark)
        self.parts.append(b"author " + ident + b"\ncommitter " + ident + b"\n")
        self.data(message.encode())
        self.parts.append(f"from {parent}\n".encode())
        for path, content in files.items():
            self.parts.append(f"M 100644 inline {path}\n".encode())
            self.data(content)
        return self.mark

    def tag(self, name: str, mark: int, when: int, message: str) -> None:
        self.parts.append(f"tag {name}\nfrom :{mark}\n".encode())
        self.parts.append(f"tagger {AUTHORS[0]} {when} +0000\n".encode())
        self.data(message.encode())

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _manifest(relpath: str, document: dict[str, object], kind: str) -> bytes:
    return dump_yaml(document, header=schema_comment(relpath, kind)).encode()


def build(
    root: Path,
    *,
    models: int = 100,
    versions: int = 100,
    promotions: int = 2100,
    gto_models: int = 1,
) -> History:
    """Build the registry in ``root`` (created; must not exist)."""
    root.mkdir(parents=True)
    env_git(root, "init", "-q", "-b", "main")
    init(root)
    env_git(root, "add", "-A")
    env_git(root, "commit", "-q", "-m", "modelreg init")
    init_commit = env_git(root, "rev-parse", "HEAD").strip()
    cache = root / ".dvc" / "cache"

    names = [f"model-{i:03d}" for i in range(models)]
    history = History(names, versions)
    stream = _Stream()
    parent = init_commit
    when = START
    # Promotions of the first model start in round 2 (round 1 has one version only),
    # so each of them changes the production version.
    rounds = max(versions - 1, 1)
    per_round = promotions // rounds
    extra = promotions - per_round * rounds
    pr = 0
    first = names[0]
    retired: list[int] = []
    current: int | None = None
    registered: dict[tuple[str, int], int] = {}
    tagged = set(names[:gto_models])

    def promote(model: str, number: int, reason: str) -> None:
        nonlocal parent, when, pr, current
        pr += 1
        when += 60
        previous = current if model == first else None
        document: dict[str, object] = {
            "version": number,
            "since": _timestamp(when),
            "reason": reason,
        }
        if previous is not None and previous != number:
            document["previous"] = previous
            if previous not in retired:
                retired.append(previous)
        if model == first and retired:
            document["retired"] = sorted(v for v in retired if v != number)
        path = stage_pointer_path(model, "production")
        message = (
            f"Promote {model} {number} to production (#{pr})\n\n{reason}\n\n"
            f"Modelreg-Event: promote\nModelreg-Model: {model}\nModelreg-Stage: production\n"
            f"Modelreg-Version: {number}\n"
        )
        mark = stream.commit(
            parent, AUTHORS[pr % 3], when, message, {path: _manifest(path, document, "pointer")}
        )
        parent = f":{mark}"
        history.commits += 1
        history.production[model] = number
        if model == first:
            current = number
            history.production_changes += 1
        if model in tagged:
            # GTO assigns a stage to the commit its version tag is on.
            stream.tag(
                f"{model}#prod#{pr}", registered[model, number], when, f"Assign {model} to prod"
            )
            history.gto_tags += 1

    for number in range(1, versions + 1):
        for model in names:
            when += 60
            content = f"weights of {model} version {number}\n".encode() * 4
            md5 = hashlib.md5(content).hexdigest()
            target = object_path(cache, md5)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            files = {
                version_path(model, number): _manifest(
                    version_path(model, number),
                    _version_document(model, number, md5, len(content), when),
                    "version",
                ),
                f"{artifact_dir(model, number)}/model.pt.dvc": (
                    f"outs:\n- md5: {md5}\n  size: {len(content)}\n  hash: md5\n  path: model.pt\n"
                ).encode(),
                f"{artifact_dir(model, number)}/.gitignore": b"/model.pt\n",
            }
            if number == 1:
                files[model_manifest_path(model)] = _manifest(
                    model_manifest_path(model),
                    {
                        "name": model,
                        "description": f"Synthetic model {model}",
                        "owners": ["@ml-team"],
                        "task": "image-classification",
                    },
                    "model",
                )
            message = (
                f"register {model} version {number}\n\nModelreg-Event: register\n"
                f"Modelreg-Model: {model}\nModelreg-Version: {number}\n"
            )
            mark = stream.commit(parent, AUTHORS[number % 3], when, message, files)
            parent = f":{mark}"
            registered[model, number] = mark
            history.commits += 1
            if model in tagged:
                stream.tag(f"{model}@v{number}.0.0", mark, when, f"Registering {model} v{number}")
                history.gto_tags += 1
        # The first model's production pointer moves back and forth, as promotions and
        # rollbacks do; every tenth round, every other model gets a production version.
        if number >= 2 or versions == 1:
            for step in range(per_round + (1 if number - 1 <= extra else 0)):
                target_version = number if step % 2 == 0 else max(1, number - 1)
                promote(first, target_version, "rollback" if step % 2 else "better accuracy")
        if number % 10 == 0:
            for model in names[1:]:
                promote(model, number, "quarterly refresh")

    done = subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=root,
        input=stream.bytes(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git fast-import failed: {done.stderr.decode()}")
    env_git(root, "reset", "-q", "--hard", "main")
    return history


def env_git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def iter_models(history: History) -> Iterator[str]:
    yield from history.models
