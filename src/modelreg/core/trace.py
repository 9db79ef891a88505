"""What ``modelreg -v`` shows: the git and DVC operations the library runs, as they finish.

The library never prints; it calls :func:`trace`, which does nothing until the
command line installs a hook. No ``logging`` here: importing it costs every command
about 15 ms, and a trace is one line of text.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["set_hook", "trace", "tracing"]

_hook: Callable[[str], None] | None = None


def set_hook(hook: Callable[[str], None] | None) -> None:
    global _hook
    _hook = hook


def tracing() -> bool:
    return _hook is not None


def trace(message: str) -> None:
    if _hook is not None:
        _hook(message)
