"""Turning command-line inputs (metrics files, params files, tags) into checked values.

Each function either returns a value the schemas accept or raises
:class:`InputError` naming the input and the fix, before anything is written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from modelreg.core.errors import InputError, ManifestError
from modelreg.core.yaml_io import parse_yaml

__all__ = ["check_metrics", "load_metrics", "load_params", "parse_tags"]

_METRIC = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./:-]{0,249}\Z")
TAG_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./:-]{0,249}\Z")


def _read_structured(source: str, what: str) -> Any:
    """A JSON or YAML file's content, or inline JSON when ``source`` starts with '{'."""
    if source.lstrip().startswith("{"):
        try:
            return json.loads(source)
        except ValueError as exc:
            raise InputError(f"{what}: inline JSON is malformed: {exc}") from None
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{what}: {source} is not a file (give a JSON/YAML file or inline JSON)")
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            return json.loads(data)
        except ValueError as exc:
            raise InputError(f"{what}: {source} is not valid JSON: {exc}") from None
    try:
        return parse_yaml(data, source)
    except ManifestError as exc:
        raise InputError(f"{what}: {exc}") from None


def _flatten(value: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            yield from _flatten(item, f"{name}.")
        else:
            yield name, item


def check_metrics(metrics: Mapping[str, Any], what: str = "metric") -> dict[str, float]:
    """``metrics`` if every name is valid and every value a finite number, else InputError."""
    for name, value in metrics.items():
        if not isinstance(name, str) or not _METRIC.match(name):
            raise InputError(
                f"{what} {name!r} is not a valid metric name: use letters, digits and _ . / : -"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{what} {name} is {value!r}, not a number")
        if not math.isfinite(value):
            raise InputError(f"{what} {name} is {value}, not a finite number")
    return dict(metrics)


def load_metrics(source: str) -> dict[str, float]:
    """Metrics from a file or inline JSON; nested keys join with '.', as ``dvc metrics`` shows."""
    document = _read_structured(source, "--metrics")
    if not isinstance(document, Mapping):
        raise InputError(f"--metrics: {source} must hold a mapping of metric names to numbers")
    return check_metrics(dict(_flatten(document)), "--metrics:")


def load_params(source: str) -> dict[str, Any]:
    """Training parameters from a YAML/JSON file (``params.yaml``) or inline JSON."""
    document = _read_structured(source, "--params")
    if not isinstance(document, Mapping):
        raise InputError(f"--params: {source} must hold a mapping of parameter names to values")
    return dict(document)


def parse_tags(pairs: Iterable[str]) -> dict[str, str]:
    """``key=value`` strings as a tag mapping; a repeated key is an error."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"--tag {pair!r}: write it as key=value")
        if not TAG_KEY.match(key):
            raise InputError(
                f"--tag {pair!r}: {key!r} is not a valid tag key (letters, digits, _ . / : -)"
            )
        if key in tags:
            raise InputError(f"--tag {key!r} is given twice; keep one")
        if len(value) > 5000:
            raise InputError(f"--tag {key!r}: the value is over 5000 characters")
        tags[key] = value
    return tags
