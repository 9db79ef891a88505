"""Where modelreg itself lives, and which commit of it this install was built from.

``modelreg init --ci github`` writes workflows that call this project's reusable
workflows, and a pre-commit entry for its hook, both pinned to a commit: a tag can
be moved, a commit cannot (zizmor's ``unpinned-uses`` asks for the same).

The commit is written into :data:`_RELEASE_COMMIT` by ``git archive`` (the file is
``export-subst`` in ``.gitattributes``), which is how a release's sdist and wheel are
built (``scripts/build-release.sh``). A checkout of the source answers with its
``HEAD``; anything else does not know, and says so.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from modelreg import __version__

__all__ = ["REPOSITORY", "REPOSITORY_URL", "release_commit", "release_tag"]

REPOSITORY = "modelreg/modelreg"
"""The project's GitHub home, ``owner/name`` (pyproject.toml's URLs name the same)."""

REPOSITORY_URL = f"https://github.com/{REPOSITORY}"

# Replaced by the commit's hash when ``git archive`` exports this file.
_RELEASE_COMMIT = "$Format:%H$"

_SHA = re.compile(r"[0-9a-f]{40}")


def release_commit() -> str | None:
    """The full hash of the commit this modelreg was built from, or ``None``."""
    if _SHA.fullmatch(_RELEASE_COMMIT):
        return _RELEASE_COMMIT
    source = Path(__file__).resolve().parents[3]  # src/modelreg/core -> the checkout
    if not (source / "pyproject.toml").is_file():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--verify", "-q", "HEAD^{commit}"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _SHA.fullmatch(commit) else None


def release_tag() -> str:
    """The tag a release of this version carries: ``v0.1.0``."""
    return f"v{__version__}"
