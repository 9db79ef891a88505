"""``modelreg init``: make a git repository a registry.

Writes ``registry/registry.yaml`` (a permissive policy, with a strict example
in comments), copies the schemas into ``registry/.schemas/`` for editors, and
initialises DVC. Running it again leaves ``registry.yaml`` alone and refreshes
the schema copies, so it is also the upgrade step.

With ``ci="github"`` it also writes the CI (:mod:`modelreg.ops.scaffold`): workflows
calling modelreg's reusable ones pinned to the installed release, CODEOWNERS lines
for the stage pointers and a pre-commit entry. A user's file with other content is
left alone and reported with its diff, unless ``force``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg.artifacts.dvc import dvc_init, dvc_set_default_remote
from modelreg.core.errors import InputError
from modelreg.core.extras import installed_extras
from modelreg.core.findings import read_manifest
from modelreg.core.layout import CONFIG_PATH, SCHEMAS_DIR, name_problem
from modelreg.core.schema import SCHEMA_NAMES, schema_text
from modelreg.core.source import WorktreeSource
from modelreg.ops.change import Change, commit_message
from modelreg.ops.scaffold import CI_PROVIDERS, Pin, Scaffolded, codeowners_block, plan_files

__all__ = ["InitResult", "init"]

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


@dataclass(frozen=True)
class InitResult:
    root: Path
    written: tuple[str, ...]
    """Files created or changed, repository-relative."""
    dvc_initialised: bool
    commit: str | None = None
    scaffold: tuple[Scaffolded, ...] = ()
    """With ``ci``: each CI file and what init found and did (see :class:`Scaffolded`)."""
    forced: bool = False

    @property
    def skipped(self) -> tuple[Scaffolded, ...]:
        """A user's files that differ from the scaffold and were left alone."""
        return () if self.forced else tuple(f for f in self.scaffold if f.state == "differs")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.init/1",
            "root": str(self.root),
            "written": list(self.written),
            "dvc_initialised": self.dvc_initialised,
            "commit": self.commit,
            "ci": [
                {
                    "path": f.path,
                    "state": "replaced" if self.forced and f.state == "differs" else f.state,
                    "diff": f.diff,
                }
                for f in self.scaffold
            ],
        }


_DVC_FILES = (".dvc/config", ".dvc/.gitignore", ".dvcignore")


def init(
    repo: str | Path | None = None,
    *,
    stages: tuple[str, ...] = DEFAULT_STAGES,
    remote: str | None = None,
    commit: bool = False,
    ci: str | None = None,
    owners: tuple[str, ...] = (),
    workflows_ref: str | None = None,
    force: bool = False,
) -> InitResult:
    """Make the git repository at ``repo`` a registry (idempotent).

    ``remote`` (a folder or a DVC URL) becomes DVC's default remote, named
    ``storage``. ``commit`` commits the files written. ``ci="github"`` adds the CI
    files, with ``owners`` in CODEOWNERS and the reusable workflows pinned to
    ``workflows_ref`` (default: the commit of the installed release); ``force``
    replaces a user's CI file that differs.
    """
    if ci is not None and ci not in CI_PROVIDERS:
        raise InputError(f"--ci: unknown CI {ci!r}; use one of: {', '.join(CI_PROVIDERS)}")
    pin = Pin.release(workflows_ref) if ci is not None else None
    codeowners_block(owners)  # refuses a malformed owner before anything is written
    for stage in stages:
        problem = name_problem("stage", stage)
        if problem:
            raise InputError(f"--stage: {problem}")
    if len(set(stages)) != len(stages):
        raise InputError("--stage: each stage may be given once")
    with Change.open(repo) as change:
        root = change.root
        if (root / CONFIG_PATH).exists():
            read_manifest(WorktreeSource(root), CONFIG_PATH, "registry")  # refuse a broken one
        else:
            listing = "\n".join(f"- {s}" for s in stages)
            change.put(CONFIG_PATH, _CONFIG_TEMPLATE.format(stages=listing).encode())
        for kind in SCHEMA_NAMES:
            change.put(f"{SCHEMAS_DIR}/{kind}.schema.json", schema_text(kind).encode())
        dvc_initialised = not (root / ".dvc").is_dir()
        if dvc_initialised or remote is not None:
            for path in _DVC_FILES:
                change.adopt(path)
        if dvc_initialised:
            dvc_init(root)
        if remote is not None:
            dvc_set_default_remote(root, "storage", _remote_url(root, remote))
        scaffold: list[Scaffolded] = []
        if pin is not None:
            configured = change.staged(CONFIG_PATH)
            scaffold = plan_files(
                root,
                pin,
                stages=stages if configured is not None else change.registry.config.stages,
                branch=_branch(change),
                extras=tuple(e for e, on in installed_extras().items() if on),
                owners=owners,
            )
            for planned in scaffold:
                if planned.state in ("new", "append") or (planned.state == "differs" and force):
                    change.put(planned.path, planned.content.encode())
        sha = change.apply(commit_message("modelreg init", {"Event": "init"}), commit=commit)
        written = list(change.changed)
    return InitResult(root, tuple(written), dvc_initialised, sha, tuple(scaffold), force)


def _branch(change: Change) -> str:
    """The branch the CI watches: the one checked out (a new repository's, unborn)."""
    return change.git.text("symbolic-ref", "-q", "--short", "HEAD", check=False).strip() or "main"


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
