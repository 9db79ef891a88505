"""What the shell completes: model names, references and stages, read from the file names.

Completion runs on every Tab, so it never loads the registry: it lists folders and
reads only ``registry.yaml``'s stage list. Anything unreadable completes nothing
rather than failing, since a shell prints whatever a completer writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelreg.core.layout import (
    ALIASES,
    CONFIG_PATH,
    MODEL_FILE,
    REGISTRY_DIR,
    VERSIONS,
    version_number_from_filename,
)

__all__ = ["complete_models", "complete_refs", "complete_stages"]


def _listing(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _models(root: Path) -> list[str]:
    registry = root / REGISTRY_DIR
    return [n for n in _listing(registry) if (registry / n / MODEL_FILE).is_file()]


def _configured_stages(root: Path) -> list[str]:
    from modelreg.core.yaml_io import parse_yaml

    try:
        config = parse_yaml((root / CONFIG_PATH).read_bytes(), CONFIG_PATH)
    except Exception:  # a completer must not fail; validate reports a broken file
        return []
    stages = config.get("stages") if isinstance(config, dict) else None
    return [s for s in stages if isinstance(s, str)] if isinstance(stages, list) else []


def complete_models(root: Path, incomplete: str) -> list[str]:
    return [n for n in _models(root) if n.startswith(incomplete)]


def complete_stages(root: Path, incomplete: str) -> list[str]:
    return [s for s in _configured_stages(root) if s.startswith(incomplete)]


def complete_refs(root: Path, incomplete: str) -> list[str]:
    """``NAME``, then ``NAME@stage``/``NAME@alias`` or ``NAME/3``/``NAME/latest``."""
    for separator in ("@", "/"):
        if separator in incomplete:
            name, _, rest = incomplete.partition(separator)
            if name not in _models(root):
                return []
            folder = root / REGISTRY_DIR / name
            if separator == "@":
                aliases = [f[: -len(".yaml")] for f in _listing(folder / ALIASES)]
                choices = [*_configured_stages(root), *(a for a in aliases if a)]
            else:
                numbers = [version_number_from_filename(f) for f in _listing(folder / VERSIONS)]
                found = sorted(n for n in numbers if n is not None)
                choices = ["latest", *(str(n) for n in reversed(found))]
            return [f"{name}{separator}{c}" for c in choices if c.startswith(rest)]
    return complete_models(root, incomplete)
