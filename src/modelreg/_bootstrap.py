"""``modelreg init``: make a git repository a registry.

Writes ``registry/registry.yaml`` (a permissive policy, with a strict example
in comments), copies the schemas into ``registry/.schemas/`` for editors, and
initialises DVC. Running it again leaves ``registry.yaml`` alone and refreshes
the schema copies, so it is also the upgrade step.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg._dvc import dvc_init, dvc_set_default_remote
from modelreg._errors import InputError
from modelreg._findings import read_manifest
from modelreg._git import Git
from modelreg._layout import CONFIG_PATH, SCHEMAS_DIR, name_problem, schema_comment
from modelreg._schema import SCHEMA_NAMES, schema_text
from modelreg._source import WorktreeSource, find_repo_root
from modelreg._yaml import dump_yaml, write_bytes_atomic, write_text_atomic

__all__ = ["InitResult", "init", "schema_comment", "write_manifest"]

DEFAULT_STAGES = ("staging", "production")

_CONFIG_TEMPLATE = """\
# yaml-language-server: $schema=.schemas/registry.schema.json
#
# The modelreg registry's configuration. Every change to it is reviewed like code.
#
# stages: the lifecycle, in promotion order. A version that a stage replaces
# shows as 'archived'. Names are lowercase; references match them in any case,
# so MLflow's models:/NAME/Production works.
schema_version: 1
stages:
{stages}
# policies: the gates 'modelreg promote' checks before a version enters a stage.
# None are set, so any version may move to any stage. A strict setup:
#
# policies:
#   staging:
#     from: [none]                    # only versions that hold no stage yet
#     require:
#       accuracy: {{min: 0.95}}
#   production:
#     from: [staging]                 # only versions that went through staging
#     require:
#       accuracy: {{min: 0.97}}
#       onnx_top1_agreement: {{min: 0.999}}
#       latency_p50_ms: {{max: 5.0}}        # the latency budget
#     onnx_parity: true               # an ONNX export whose parity check passed
#     no_regression:                  # against the version in production now
#       accuracy: {{better: higher, tolerance: 0.005}}
#       latency_p50_ms: {{better: lower, relative_tolerance: 0.10}}
policies: {{}}
"""


def write_manifest(root: Path, relpath: str, document: dict[str, Any], kind: str) -> None:
    """Write a registry file canonically, atomically, with its schema comment."""
    text = dump_yaml(document, header=schema_comment(relpath, kind))
    write_text_atomic(root / relpath, text)


@dataclass(frozen=True)
class InitResult:
    root: Path
    written: tuple[str, ...]
    """Files created or changed, repository-relative."""
    dvc_initialised: bool
    commit: str | None = None


def init(
    repo: str | Path | None = None,
    *,
    stages: tuple[str, ...] = DEFAULT_STAGES,
    remote: str | None = None,
    commit: bool = False,
) -> InitResult:
    """Make the git repository at ``repo`` a registry (idempotent).

    ``remote`` (a folder or a DVC URL) becomes DVC's default remote, named
    ``storage``. ``commit`` commits the files written.
    """
    root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    for stage in stages:
        problem = name_problem("stage", stage)
        if problem:
            raise InputError(f"--stage: {problem}")
    if len(set(stages)) != len(stages):
        raise InputError("--stage: each stage may be given once")
    written: list[str] = []
    # What the files init may write held before, so that a failed commit can put them back.
    before = {
        path: (root / path).read_bytes() if (root / path).is_file() else None
        for path in (
            CONFIG_PATH,
            *(f"{SCHEMAS_DIR}/{kind}.schema.json" for kind in SCHEMA_NAMES),
            ".dvc/config",
            ".dvc/.gitignore",
            ".dvcignore",
        )
    }
    config = root / CONFIG_PATH
    if config.exists():
        read_manifest(WorktreeSource(root), CONFIG_PATH, "registry")  # refuse a broken one
    else:
        listing = "\n".join(f"- {s}" for s in stages)
        write_text_atomic(config, _CONFIG_TEMPLATE.format(stages=listing))
        written.append(CONFIG_PATH)
    for kind in SCHEMA_NAMES:
        path = f"{SCHEMAS_DIR}/{kind}.schema.json"
        text = schema_text(kind)
        target = root / path
        if not target.exists() or target.read_text("utf-8") != text:
            write_text_atomic(target, text)
            written.append(path)

    dvc_initialised = False
    if not (root / ".dvc").is_dir():
        dvc_init(root)
        dvc_initialised = True
        written += [
            p for p in (".dvc/config", ".dvc/.gitignore", ".dvcignore") if (root / p).exists()
        ]
    if remote is not None:
        dvc_set_default_remote(root, "storage", _remote_url(root, remote))
        if ".dvc/config" not in written:
            written.append(".dvc/config")

    sha = None
    if commit and written:
        try:
            sha = Git(root).commit_paths("modelreg init\n\nModelreg-Event: init\n", written)
        except BaseException:
            # A commit that fails (say, it cannot be signed) leaves no half-made registry.
            for path in written:
                data = before.get(path)
                if data is None:
                    (root / path).unlink(missing_ok=True)
                else:
                    write_bytes_atomic(root / path, data)
            for path in sorted(written, key=len, reverse=True):  # the folders it made
                with contextlib.suppress(OSError):
                    (root / path).parent.rmdir()
            if dvc_initialised:
                shutil.rmtree(root / ".dvc", ignore_errors=True)
            raise
    return InitResult(root, tuple(written), dvc_initialised, sha)


def _remote_url(root: Path, remote: str) -> str:
    """The value to hand DVC for a remote folder. DVC reads a relative path as relative to
    the current directory and stores it relative to ``.dvc/``, which keeps a remote inside
    the repository portable across clones; one outside is stored absolute. URLs pass."""
    if "://" in remote:
        return remote
    folder = Path(remote).expanduser().resolve()
    if folder.is_relative_to(root.resolve()):
        return os.path.relpath(folder, Path.cwd())
    return folder.as_posix()
