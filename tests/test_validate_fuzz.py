"""The validator under random damage: whatever a manifest becomes, validate answers
with findings (never a crash), writes nothing, and what it accepts is valid by the
reference JSON Schema implementation."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from modelreg.api import validate
from modelreg.core.layout import model_manifest_path, stage_pointer_path, version_path
from modelreg.core.schema import schema_text
from modelreg.core.yaml_io import parse_yaml
from tests.conftest import RegistryFactory, Workspace

# Pieces that YAML treats specially, and values that trip YAML 1.1 readers.
_TOKENS = [
    ":",
    ": ",
    "- ",
    "#",
    "'",
    '"',
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "|",
    ">",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\n",
    "\n  ",
    "\t",
    "\ufeff",
    "\x00",
    "<<: ",
    "1.10",
    "no",
    "yes",
    "null",
    "~",
    "0x1F",
    "1e3",
    "2026-01-01",
    "-1",
    "99999999999999999999",
    "version: 2\n",
    "extra: 1\n",
    "model: other\n",
    "../",
    "\u202e",
    "é",
]
_EDIT = st.tuples(
    st.floats(min_value=0, max_value=1),  # where, as a share of the length
    st.integers(min_value=0, max_value=12),  # how many characters to delete
    st.one_of(st.sampled_from(_TOKENS), st.text(max_size=6)),  # what to insert
)


def _apply(text: str, edits: list[tuple[float, int, str]]) -> str:
    for where, delete, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + delete :]
    return text


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    return make_registry(
        {"digits": 2}, stages={"digits": {"production": 1}}, message="digits 1-2, production 1"
    )


_TARGETS = {
    "version": (version_path("digits", 2), "version"),
    "model": (model_manifest_path("digits"), "model"),
    "pointer": (stage_pointer_path("digits", "production"), "pointer"),
    "config": ("registry/registry.yaml", "registry"),
}


@pytest.mark.parametrize("target", sorted(_TARGETS))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(edits=st.lists(_EDIT, min_size=1, max_size=4), raw=st.booleans())
def test_damaged_manifests_get_findings_not_crashes(
    registry: Workspace, target: str, edits: list[tuple[float, int, str]], raw: bool
) -> None:
    root = registry.root
    relpath, schema = _TARGETS[target]
    path = root / relpath
    original = path.read_bytes()
    damaged = _apply(original.decode(), edits).encode("utf-8", "surrogatepass")
    if raw:  # bytes that are not UTF-8 at all
        damaged = damaged.replace(b"e", b"\xe9", 1)
    try:
        path.write_bytes(damaged)
        before = _snapshot(root)
        report = validate(root, offline=True, jobs=1)
        assert _snapshot(root) == before, "validate changed files"
        for finding in report.findings:
            assert finding.path and finding.message, finding
            assert "\n" not in finding.render(), finding.render()
            assert finding.code, finding
        accepted = not any(f.path == relpath for f in report.errors)
        event("accepted" if accepted else "rejected")
        if accepted:
            # Accepted: it parses, and the reference implementation agrees it fits.
            document = parse_yaml(damaged, relpath)
            reference = jsonschema.Draft202012Validator(json.loads(schema_text(schema)))
            errors = [e.message for e in reference.iter_errors(document)]
            assert not errors, f"accepted {damaged!r}, but jsonschema says {errors}"
    finally:
        path.write_bytes(original)
