"""``modelreg doctor``: is this machine and repository ready for modelreg? One line a check.

Each check says ``ok``, ``warn`` (works, with a limit worth knowing) or ``fail``
(a command will fail until it is fixed), and why. Nothing is changed and nothing
secret is shown: a token is named by the variable that holds it, never printed.
The GitHub API is asked only when a token is set (one ``GET /user``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg.core.errors import GitHubError, ModelregError

__all__ = ["Check", "Diagnosis", "diagnose"]


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Diagnosis:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "modelreg.doctor/1",
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
        }


def diagnose(
    repo: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    github_transport: Any = None,
) -> Diagnosis:
    """Run every check on the repository at ``repo`` (default: the current folder's)."""
    env = os.environ if env is None else env
    checks = [_git()]
    root = _repository(repo, checks)
    checks.append(_dvc(root))
    if root is not None:
        checks.append(_remote(root))
        checks.append(_signing(root))
    checks.append(_github(env, github_transport))
    checks.append(_extras())
    return Diagnosis(tuple(checks))


def _git() -> Check:
    if shutil.which("git") is None:
        return Check("git", "fail", "git is not on PATH; install git")
    done = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    return Check("git", "ok", done.stdout.strip().removeprefix("git version ") or "installed")


def _repository(repo: str | Path | None, checks: list[Check]) -> Path | None:
    from modelreg.core.layout import CONFIG_PATH
    from modelreg.core.source import find_repo_root

    try:
        root = find_repo_root(Path(repo) if repo is not None else Path.cwd())
    except ModelregError as exc:
        checks.append(Check("repository", "fail", str(exc)))
        return None
    if not (root / CONFIG_PATH).is_file():
        checks.append(
            Check("repository", "warn", f"{root} has no registry yet; run 'modelreg init'")
        )
    else:
        checks.append(Check("repository", "ok", f"registry in {root}"))
    return root


def _dvc(root: Path | None) -> Check:
    from importlib import metadata

    try:
        version = metadata.version("dvc")
    except metadata.PackageNotFoundError:
        return Check("dvc", "fail", "DVC is not installed; pip install 'dvc>=3.50'")
    if root is not None and not (root / ".dvc").is_dir():
        return Check("dvc", "warn", f"{version}, but DVC is not initialised here; 'modelreg init'")
    return Check("dvc", "ok", version)


def _remote(root: Path) -> Check:
    from modelreg.artifacts.dvc import local_store, read_dvc_config
    from modelreg.core.extras import installed, remote_extra

    try:
        config = read_dvc_config(root)
    except ModelregError as exc:
        return Check("dvc remote", "fail", str(exc))
    name = config.default_remote
    url = config.remote_url(name)
    if name is None or url is None:
        detail = "no default remote: artifacts stay in this clone (modelreg init --remote URL)"
        return Check("dvc remote", "warn", detail)
    extra = remote_extra(url)
    if extra is not None:
        if not installed(extra):
            detail = f"'{name}' is {url}, which needs pip install 'modelreg[{extra}]'"
            return Check("dvc remote", "fail", detail)
        return Check("dvc remote", "ok", f"'{name}' is {url} (plugin installed; not contacted)")
    folder = local_store(url)  # read_dvc_config made a relative folder absolute
    if folder is None:
        return Check("dvc remote", "ok", f"'{name}' is {url} (not contacted)")
    if not folder.is_dir():
        return Check("dvc remote", "fail", f"'{name}' is {folder}, which does not exist")
    if not os.access(folder, os.W_OK):
        return Check("dvc remote", "warn", f"'{name}' is {folder}: read-only here (pull only)")
    return Check("dvc remote", "ok", f"'{name}' is {folder}, writable")


def _signing(root: Path) -> Check:
    from modelreg.core.git import Git

    git = Git(root)
    if (git.config_get("commit.gpgsign") or "").lower() not in {"true", "yes", "on", "1"}:
        return Check("signing", "ok", "commits are not signed (commit.gpgsign is off)")
    fmt = (git.config_get("gpg.format") or "openpgp").lower()
    program = git.config_get(f"gpg.{fmt}.program") or git.config_get("gpg.program")
    program = program or {"ssh": "ssh-keygen", "x509": "gpgsm"}.get(fmt, "gpg")
    key = git.config_get("user.signingkey")
    if shutil.which(program) is None:
        return Check("signing", "fail", f"commits are signed ({fmt}) but {program} is not found")
    if fmt == "ssh" and not key:
        return Check("signing", "fail", "commits are signed with ssh but user.signingkey is unset")
    return Check("signing", "ok", f"commits are signed ({fmt}, {program})")


def _github(env: Mapping[str, str], transport: Any) -> Check:
    from modelreg.integrations.github import GitHub

    source = next((k for k in ("GITHUB_TOKEN", "GH_TOKEN") if (env.get(k) or "").strip()), None)
    if source is None:
        detail = "no GITHUB_TOKEN or GH_TOKEN: promote --pr, rollback --pr and comment need one"
        return Check("github", "warn", detail)
    repository = env.get("MODELREG_GITHUB_REPOSITORY") or env.get("GITHUB_REPOSITORY")
    try:
        client = GitHub.from_environment(repository or "unset/unset", env=env, transport=transport)
    except GitHubError as exc:
        return Check("github", "fail", f"{source} is set, but {exc}")
    try:
        login = client.token_login()
    except GitHubError as exc:
        return Check("github", "fail", f"{source} is set, but {exc}")
    finally:
        client.close()
    scopes = client.token_scopes
    if scopes is None:
        shown = "no scopes reported (a fine-grained or app token: its permissions apply)"
    else:
        shown = f"scopes {', '.join(scopes) or 'none'}"
        if "repo" not in scopes and "public_repo" not in scopes:
            return Check("github", "warn", f"{source} acts as {login}; {shown}: no 'repo' scope")
    return Check("github", "ok", f"{source} acts as {login} on {client.api_url}; {shown}")


def _extras() -> Check:
    from modelreg.core.extras import installed_extras

    found = installed_extras()
    have = [e for e, yes in found.items() if yes]
    missing = [e for e, yes in found.items() if not yes]
    detail = f"installed: {', '.join(have) or 'none'}"
    if missing:
        detail += f"; not installed: {', '.join(missing)} (pip install 'modelreg[NAME]')"
    return Check("extras", "ok", detail)
