"""What ``modelreg init --ci github`` adds to a repository: CI that calls modelreg's
reusable workflows, CODEOWNERS lines for the stage pointers, a pre-commit entry.

The workflows are thin callers (``templates/github/*.yml``): triggers, permissions
and ``uses: modelreg/modelreg/.github/workflows/reusable-NAME.yml@COMMIT``, pinned to
the commit of the installed release (a tag can move; zizmor asks for a hash), with
``modelreg-version`` set to the installed version and the installed extras. modelreg's
own repository runs the same callers with ``uses: ./.github/workflows/...`` and
``modelreg-version: source`` (tests/test_scaffold.py holds the two together), so the
workflows users get are the ones this project runs.

A user's file is never replaced: a file that exists with other content is reported
with the diff that ``--force`` would apply. CODEOWNERS and ``.pre-commit-config.yaml``
are the exception that proves it: modelreg's lines are appended to them, keeping
every line already there.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from modelreg import __version__
from modelreg.core.errors import InputError
from modelreg.core.project import REPOSITORY, REPOSITORY_URL, release_commit

__all__ = [
    "CI_PROVIDERS",
    "WORKFLOWS",
    "Pin",
    "Scaffolded",
    "codeowners_block",
    "plan_files",
    "pre_commit_entry",
    "render_workflow",
    "validate_extras",
]

CI_PROVIDERS = ("github",)

WORKFLOWS = ("validate", "benchmark", "promote", "rollback", "on-merge")
"""The callers, each of ``reusable-NAME.yml``."""

_SHA = re.compile(r"[0-9a-f]{40}")
# A user (@name), a team (@org/team) or an email, as CODEOWNERS reads them.
_OWNER = re.compile(
    r"@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?|[^@\s/]+@[^@\s/]+\.[a-z]+"
)
_EXTRAS_FOR_VALIDATE = ("export", "mlflow", "s3", "gs", "azure")


@dataclass(frozen=True)
class Pin:
    """How the callers reach modelreg: its reusable workflows at ``workflows``,
    ``ref`` appended to each, and the modelreg to install (a release, or ``source``)."""

    workflows: str
    ref: str
    version: str

    @classmethod
    def release(cls, commit: str | None = None) -> Pin:
        """modelreg's published workflows at ``commit`` (default: the commit this
        install was built from), installing this version."""
        commit = commit or release_commit()
        if commit is None:
            raise InputError(
                "this modelreg does not know the commit it was released from; "
                "pass --workflows-ref with the full commit hash of its release tag "
                f"v{__version__} in {REPOSITORY_URL}"
            )
        if not _SHA.fullmatch(commit):
            raise InputError(
                f"--workflows-ref: expected a full 40-character commit hash, not {commit!r}"
            )
        return cls(f"{REPOSITORY}/.github/workflows", f"@{commit} # v{__version__}", __version__)

    @classmethod
    def source(cls) -> Pin:
        """modelreg's own repository: its workflows in the checkout, installed from it."""
        return cls("./.github/workflows", "", "source")

    @property
    def commit(self) -> str | None:
        return self.ref[1:41] if self.ref else None


def _template(name: str) -> str:
    return resources.files("modelreg").joinpath(f"templates/github/{name}.yml").read_text()


def _flow(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def render_workflow(
    name: str, pin: Pin, *, stages: tuple[str, ...], branch: str, extras: tuple[str, ...]
) -> str:
    """The caller workflow ``name`` for ``pin``."""
    values = {
        "%%WORKFLOWS%%": pin.workflows,
        "%%REF%%": pin.ref,
        "%%VERSION%%": pin.version if pin.version == "source" else f'"{pin.version}"',
        "%%EXTRAS%%": ",".join(extras) if extras else '""',
        "%%STAGES%%": _flow(list(stages)),
        "%%BRANCH%%": branch,
    }
    text = _template(name)
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text


def validate_extras(installed: tuple[str, ...]) -> tuple[str, ...]:
    """The extras the validate job installs: those of this install it can use (export
    for torch checkpoints, mlflow for lineage, the cloud remotes)."""
    return tuple(e for e in _EXTRAS_FOR_VALIDATE if e in installed)


def codeowners_block(owners: tuple[str, ...]) -> str:
    """CODEOWNERS lines that make a stage pointer or the policy need an owner's review.
    Without owners, the lines are written commented out, to be filled in."""
    for owner in owners:
        if not _OWNER.fullmatch(owner):
            raise InputError(
                f"--owner: {owner!r} is not a GitHub user (@name), team (@org/team) or email"
            )
    who = " ".join(owners) if owners else "@your-org/model-approvers"
    lead = "" if owners else "# "
    return (
        "# modelreg: a stage pointer or the registry's policy changes only with the review\n"
        "# of these owners (with branch protection's 'Require review from Code Owners').\n"
        f"{lead}/registry/*/stages/ {who}\n"
        f"{lead}/registry/registry.yaml {who}\n"
    )


def pre_commit_entry(pin: Pin) -> dict[str, object]:
    """modelreg's hook as an entry of ``.pre-commit-config.yaml``'s ``repos``."""
    return {
        "repo": REPOSITORY_URL,
        "rev": pin.commit or f"v{__version__}",
        "hooks": [{"id": "modelreg-validate"}],
    }


@dataclass(frozen=True)
class Scaffolded:
    """One file of the scaffold: what ``init`` would write, and what it found."""

    path: str
    content: str
    state: str
    """``new``, ``same``, ``append`` (modelreg's lines added to a user's file) or
    ``differs`` (a user's file with other content: left alone without --force)."""
    diff: str = ""
    """For ``differs``: the unified diff that --force would apply."""


def plan_files(
    root: Path,
    pin: Pin,
    *,
    stages: tuple[str, ...],
    branch: str,
    extras: tuple[str, ...],
    owners: tuple[str, ...],
) -> list[Scaffolded]:
    """Each scaffold file, compared with what ``root`` holds now."""
    wanted: list[tuple[str, str, str | None]] = []  # path, full content, appended block
    for name in WORKFLOWS:
        chosen = validate_extras(extras) if name == "validate" else ()
        text = render_workflow(name, pin, stages=stages, branch=branch, extras=chosen)
        wanted.append((f".github/workflows/modelreg-{name}.yml", text, None))
    codeowners = codeowners_block(owners)
    wanted.append((".github/CODEOWNERS", codeowners, codeowners))
    entry = pre_commit_entry(pin)
    config = yaml.safe_dump({"repos": [entry]}, sort_keys=False)
    wanted.append((".pre-commit-config.yaml", config, None))

    planned = []
    for path, content, block in wanted:
        target = root / path
        existing = target.read_text() if target.is_file() else None
        if existing is None:
            planned.append(Scaffolded(path, content, "new"))
        elif path == ".pre-commit-config.yaml":
            planned.append(_pre_commit_plan(path, existing, content, entry))
        elif existing == content or (block is not None and block in existing):
            planned.append(Scaffolded(path, existing, "same"))
        elif block is not None:
            joined = existing + ("" if existing.endswith("\n") else "\n") + "\n" + block
            planned.append(Scaffolded(path, joined, "append"))
        else:
            planned.append(Scaffolded(path, content, "differs", _diff(path, existing, content)))
    return planned


def _pre_commit_plan(
    path: str, existing: str, content: str, entry: dict[str, object]
) -> Scaffolded:
    """Keep a user's pre-commit config and add modelreg's repo to its ``repos`` list,
    at the list's own indentation; if the file's shape does not allow that safely,
    show the diff of a whole new file instead."""
    try:
        document = yaml.safe_load(existing)
    except yaml.YAMLError:
        document = None
    repos = document.get("repos") if isinstance(document, dict) else None
    if isinstance(repos, list):
        if any(isinstance(r, dict) and r.get("repo") == entry["repo"] for r in repos):
            return Scaffolded(path, existing, "same")
        lines = existing.splitlines()
        last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
        item = re.compile(r"^(\s*)- ")
        indents = [m.group(1) for line in lines if (m := item.match(line)) and "repo:" in line]
        top_level = re.compile(r"^repos:\s*$")
        if indents and any(top_level.match(line) for line in lines):
            indent = indents[0]
            block = yaml.safe_dump([entry], sort_keys=False)
            block = "".join(indent + line for line in block.splitlines(keepends=True))
            joined = "\n".join(lines[: last + 1]) + "\n" + block
            after = yaml.safe_load(joined)
            if isinstance(after, dict) and after.get("repos") == [*repos, entry]:
                return Scaffolded(path, joined, "append")
    return Scaffolded(path, content, "differs", _diff(path, existing, content))


def _diff(path: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
        )
    )
