"""What the shell completes: model names, references and stages.

Completion runs on every Tab, so it asks the registry's readers only for names:
folders, version file names, alias files and ``registry.yaml``'s stages, never a
version manifest. Anything unreadable completes nothing rather than failing, since
a shell prints whatever a completer writes.
"""

from __future__ import annotations

from pathlib import Path

from modelreg.core.errors import ModelregError
from modelreg.core.registry import Registry
from modelreg.core.source import WorktreeSource

__all__ = ["complete_models", "complete_refs", "complete_stages"]


def _registry(root: Path) -> Registry:
    return Registry(root, WorktreeSource(root))


def _stages(registry: Registry) -> list[str]:
    try:
        return list(registry.config.stages)
    except ModelregError:  # validate reports a broken registry.yaml
        return []


def complete_models(root: Path, incomplete: str) -> list[str]:
    return [n for n in _registry(root).model_names() if n.startswith(incomplete)]


def complete_stages(root: Path, incomplete: str) -> list[str]:
    return [s for s in _stages(_registry(root)) if s.startswith(incomplete)]


def complete_refs(root: Path, incomplete: str) -> list[str]:
    """``NAME``, then ``NAME@stage``/``NAME@alias`` or ``NAME/3``/``NAME/latest``."""
    registry = _registry(root)
    for separator in ("@", "/"):
        if separator in incomplete:
            name, _, rest = incomplete.partition(separator)
            try:
                if separator == "@":
                    choices = [*_stages(registry), *registry.aliases(name)]
                else:
                    numbers = registry.version_numbers(name)
                    choices = ["latest", *(str(n) for n in reversed(numbers))]
            except ModelregError:  # no such model, or an unreadable alias file
                return []
            return [f"{name}{separator}{c}" for c in choices if c.startswith(rest)]
    return [n for n in registry.model_names() if n.startswith(incomplete)]
