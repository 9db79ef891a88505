"""What a results file was measured at: the commit of the code, and the machine.

Every script under ``benchmarks/`` that writes a results file puts ``provenance()``
into its JSON (keys ``code`` and ``machine``) and ``measured_at(report)`` as a line
near the top of its Markdown::

    Measured at commit `abc1234` + uncommitted changes on Intel(R) Xeon(R) Processor,
    2 cores, 24 GiB; Linux 6.18.44 (Debian GNU/Linux 12 (bookworm)); Python 3.11.7.

"+ uncommitted changes" is written when ``git status --porcelain`` lists anything
under ``src``, ``benchmarks`` (results excepted: a run that writes one results file
must not mark the next script's run as modified) or ``pyproject.toml``; the JSON lists
those paths.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from modelreg.artifacts.benchmark import cpu_name

ROOT = Path(__file__).resolve().parent.parent
# The code a figure depends on; benchmarks/results is what the runs write.
WATCHED = ("src", "benchmarks", "pyproject.toml", ":(exclude)benchmarks/results")


def _git(*args: str, root: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def code_state(root: Path = ROOT) -> dict[str, Any]:
    """The commit checked out in ``root`` and the watched paths that differ from it."""
    changed = _git("status", "--porcelain", "--", *WATCHED, root=root).splitlines()
    return {
        "commit": _git("rev-parse", "--short", "HEAD", root=root) or "unknown",
        "uncommitted_changes": bool(changed),
        "changed_paths": [line[3:] for line in changed],
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def _memory() -> str:
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return ""
    return f"{kib / 2**20:.0f} GiB"


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, kernel and distribution, Python and git."""
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu": cpu_name() or platform.processor() or "unknown CPU",
        "cores": os.cpu_count(),
        "memory": _memory(),
        "system": f"{platform.system()} {platform.release()}",
        "os": _os_name(),
        "python": platform.python_version(),
        "git": git.stdout.strip(),
    }


def provenance(root: Path = ROOT) -> dict[str, Any]:
    """``{"code": ..., "machine": ...}``, to merge into a results file's JSON."""
    return {"code": code_state(root), "machine": machine()}


def describe_machine(m: dict[str, Any]) -> str:
    """One line: ``CPU, N cores, M GiB; kernel (distribution); Python X``."""
    hardware = ", ".join(
        part for part in (str(m["cpu"]), f"{m['cores']} cores", m.get("memory")) if part
    )
    system = str(m["system"]) + (f" ({m['os']})" if m.get("os") else "")
    return f"{hardware}; {system}; Python {m['python']}"


def measured_at(report: dict[str, Any]) -> str:
    """The Markdown line, from a report holding ``provenance()``'s keys."""
    code = report["code"]
    dirty = " + uncommitted changes" if code["uncommitted_changes"] else ""
    return f"Measured at commit `{code['commit']}`{dirty} on {describe_machine(report['machine'])}."
