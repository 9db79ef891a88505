"""Findings about registry files, and loading a file against its schema.

The reader and the validator load files the same way: parse safely, check the
schema, and describe each problem as a :class:`Finding` that names the file,
line, field, bad value and fix. The reader raises the first as a
:class:`ManifestError`; the validator collects them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from modelreg.core.errors import ManifestError
from modelreg.core.schema import Violation, format_path, load_schema
from modelreg.core.source import TreeSource
from modelreg.core.yaml_io import line_of, parse_yaml

__all__ = ["Finding", "check_manifest", "check_manifest_bytes", "read_manifest"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem in one file. ``code`` is stable, for scripts; ``message`` is for people."""

    severity: Severity
    code: str
    path: str
    message: str
    field: str = ""
    line: int = 0

    def render(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        field = f" {self.field}:" if self.field else ""
        label = "" if self.severity == "error" else " warning:"
        return f"{where}:{label}{field} {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "path": self.path,
            "line": self.line or None,
            "field": self.field or None,
            "message": self.message,
        }

    @classmethod
    def from_error(cls, error: ManifestError, code: str = "syntax") -> Finding:
        return cls("error", code, error.path, error.detail, field=error.field, line=error.line)


def _violation_findings(path: str, data: bytes, violations: list[Violation]) -> list[Finding]:
    return [
        Finding(
            "error",
            "schema",
            path,
            v.message,
            field=format_path(v.path),
            line=line_of(data, v.path),
        )
        for v in violations
    ]


def check_manifest(source: TreeSource, path: str, kind: str) -> tuple[Any, list[Finding]]:
    """Load ``path`` and check it against schema ``kind``.

    Returns (document, []) when valid, or (None, findings) when not. A missing
    file raises :class:`~modelreg.NotFoundError`: whether that is a problem
    depends on the caller.
    """
    data = source.read(path)
    return check_manifest_bytes(path, data, kind)


def check_manifest_bytes(path: str, data: bytes, kind: str) -> tuple[Any, list[Finding]]:
    try:
        document = parse_yaml(data, path)
    except ManifestError as exc:
        return None, [Finding.from_error(exc)]
    if document is None:
        return None, [
            Finding("error", "empty", path, "file is empty; see the schema for its fields")
        ]
    violations = load_schema(kind)(document)
    if violations:
        return None, _violation_findings(path, data, violations)
    return document, []


def read_manifest(source: TreeSource, path: str, kind: str) -> Any:
    """Load ``path`` as a valid ``kind`` document, or raise the first problem found."""
    document, findings = check_manifest(source, path, kind)
    if findings:
        first = findings[0]
        more = ""
        if len(findings) > 1:
            more = f" (and {len(findings) - 1} more problems; run 'modelreg validate')"
        raise ManifestError(first.path, first.message + more, line=first.line, field=first.field)
    return document
