"""The validator under random damage: whatever a manifest becomes, validate answers
with findings (never a crash), writes nothing, and what it accepts is valid by the
reference JSON Schema implementation."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from modelreg.api import validate
from modelreg.core.errors import ManifestError
from modelreg.core.layout import model_manifest_path, stage_pointer_path, version_path
from modelreg.core.schema import schema_text
from modelreg.core.yaml_io import dump_yaml, parse_yaml
from tests.builders import container_paths
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


# Schema-valid documents, built field by field. Each agrees with the rest of the
# fixture's registry too (digits has versions 1 and 2, production points at 1), so
# validate accepts it whole; the mutations below then break some of them.
_TEXT = st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=12)
_NAME = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
_METRIC = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_./:-]{0,10}", fullmatch=True)
_SPLIT = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True)
_NUMBER = st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)
_HEX = "0123456789abcdef"
_MD5 = st.text(_HEX, min_size=32, max_size=32)
_TIMESTAMP = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format,
    st.integers(1970, 2099),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
)
_EXTRA_STAGES = ["dev", "qa", "shadow", "canary_2", "pre-prod"]


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


@st.composite
def _valid_config(draw: st.DrawFn) -> dict[str, Any]:
    extra = draw(st.lists(st.sampled_from(_EXTRA_STAGES), unique=True, max_size=3))
    stages = ["staging", "production", *extra]
    metrics = st.dictionaries(_METRIC, st.just(None), max_size=3)

    def bound(limits: tuple[float, float]) -> dict[str, float]:
        return draw(_optional(min=st.just(min(limits)), max=st.just(max(limits))))

    policies = {}
    for stage in draw(st.lists(st.sampled_from(stages), unique=True, max_size=3)):
        policy = draw(
            _optional(
                **{"from": st.lists(st.sampled_from([*stages, "none"]), unique=True, max_size=3)},
                no_regression=st.dictionaries(
                    _METRIC,
                    st.fixed_dictionaries(
                        {"better": st.sampled_from(["higher", "lower"])},
                        optional={
                            "tolerance": st.floats(0, 1),
                            "relative_tolerance": st.floats(0, 1),
                        },
                    ),
                    max_size=2,
                ),
                score=_optional(
                    min=_NUMBER, no_regression=st.booleans(), tolerance=st.floats(0, 1)
                ),
                onnx_parity=st.booleans(),
            )
        )
        required = draw(metrics)
        if required:
            policy["require"] = {m: bound(draw(st.tuples(_NUMBER, _NUMBER))) for m in required}
        policies[stage] = policy
    document: dict[str, Any] = {"schema_version": 1, "stages": stages}
    if policies:
        document["policies"] = policies
    if draw(st.booleans()):
        term = st.fixed_dictionaries(
            {"weight": st.floats(0.01, 10), "better": st.sampled_from(["higher", "lower"])},
            optional={"range": st.lists(_NUMBER, min_size=2, max_size=2)},
        )
        document["score"] = {"metrics": draw(st.dictionaries(_METRIC, term, max_size=3))}
    return document


_VALID_MODEL = st.fixed_dictionaries(
    {"name": st.just("digits")},
    optional={
        "description": _TEXT,
        "task": st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True),
        "owners": st.lists(
            st.sampled_from(["@ml-team", "@org/platform", "ada@example.com", "@bob"]),
            unique=True,
            max_size=3,
        ),
        "tags": st.dictionaries(_METRIC, _TEXT, max_size=3),
        "created": _TIMESTAMP,
        "card": _optional(
            intended_use=_TEXT,
            limitations=_TEXT,
            license=_TEXT,
            dataset=_TEXT,
            data_splits=st.dictionaries(_SPLIT, st.integers(0, 10**6), max_size=3),
        ),
        "archived": st.lists(st.sampled_from([1, 2]), unique=True, max_size=2),
    },
)

_TENSOR = st.fixed_dictionaries(
    {
        "name": st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8),
        "dtype": st.sampled_from(["float32", "int64", "bool", "string", "bfloat16"]),
        "shape": st.lists(st.integers(-1, 64), max_size=4),
    }
)
_VERSION_EXTRAS = _optional(
    semver=st.sampled_from(["1.0.0", "0.2.1", "2.0.0-rc.1", "10.20.30-alpha.beta.1"]),
    description=_TEXT,
    lineage=_optional(
        git_commit=st.text(_HEX, min_size=40, max_size=40),
        git_dirty=st.booleans(),
        dvc_stage=_TEXT,
        dvc_lock_hash=_MD5,
        data_hash=_MD5,
        params=st.dictionaries(_METRIC, _NUMBER | _TEXT, max_size=3),
        mlflow=st.fixed_dictionaries(
            {"run_id": st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)},
            optional={"experiment_id": _TEXT},
        ),
    ),
    signature=st.fixed_dictionaries(
        {
            "inputs": st.lists(_TENSOR, min_size=1, max_size=2),
            "outputs": st.lists(_TENSOR, min_size=1, max_size=2),
        },
        optional={"classes": st.lists(_TEXT, max_size=4)},
    ),
    metrics=st.dictionaries(_METRIC, _NUMBER, max_size=4),
    tags=st.dictionaries(_METRIC, _TEXT, max_size=3),
    deprecation=st.fixed_dictionaries({"date": _TIMESTAMP}, optional={"reason": _TEXT}),
)
_VALID_POINTER = st.fixed_dictionaries(
    {"version": st.just(1)},
    optional={
        "since": _TIMESTAMP,
        "previous": st.sampled_from([1, 2]),
        "reason": _TEXT,
        "canary": st.fixed_dictionaries({"version": st.just(2), "weight": st.floats(0.01, 0.99)}),
        "retired": st.lists(st.just(2), max_size=1),
    },
)

# The fields each kind cannot do without: dropping one is a mutation jsonschema refuses.
_REQUIRED = {
    "config": ["schema_version", "stages"],
    "model": ["name"],
    "version": ["model", "version", "created", "artifacts"],
    "pointer": ["version"],
}
# A value the field's type, enum or pattern refuses, per kind.
_BAD_VALUES = {
    "config": [("schema_version", 2), ("stages", ["Production"]), ("stages", []), ("storage", 5)],
    "model": [("name", "-bad-"), ("task", "Image Classification"), ("owners", ["nobody"])],
    "version": [("version", "two"), ("created", "yesterday"), ("artifacts", []), ("semver", "v1")],
    "pointer": [("version", 0), ("since", "2026-01-15"), ("retired", [2, 2]), ("reason", 7)],
}
_ANY = st.recursive(
    st.none() | st.booleans() | _NUMBER | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=6,
)


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


@st.composite
def _mutated(draw: st.DrawFn, document: dict[str, Any], target: str) -> dict[str, Any]:
    """``document`` with one thing broken (most of the time) or changed at random."""
    document = copy.deepcopy(document)
    how = draw(st.sampled_from(["drop-required", "bad-value", "unknown-field", "random"]))
    if how == "drop-required":
        del document[draw(st.sampled_from(_REQUIRED[target]))]
    elif how == "bad-value":
        key, value = draw(st.sampled_from(_BAD_VALUES[target]))
        document[key] = value
    else:
        path = draw(st.sampled_from(container_paths(document)))
        container = _at(document, path)
        if how == "unknown-field" and isinstance(container, dict):
            container[draw(st.sampled_from(["extra", "Version", "colour"]))] = draw(_ANY)
        else:  # a random value in a random place: jsonschema decides what it makes
            keys = list(container) if isinstance(container, dict) else range(len(container))
            container[draw(st.sampled_from(list(keys)))] = draw(_ANY)
    return document


def _valid(target: str, original: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    if target == "config":
        return _valid_config()
    if target == "model":
        return _VALID_MODEL
    if target == "version":  # the fixture's own fields (its artifact is real), and more
        return _VERSION_EXTRAS.map(lambda extra: {**original, **extra})
    return _VALID_POINTER


# Per kind: documents tried, cross-checked (they parse, so jsonschema can judge them),
# and of those, the ones jsonschema finds valid. Filled by the fuzz test, read after it.
_REACH: dict[str, Counter[str]] = {target: Counter() for target in _TARGETS}
_SCHEMA_CODES = {"schema", "syntax", "empty", "unreadable"}


def _run_validate(root: Path, relpath: str, damaged: bytes) -> tuple[bool, bool]:
    """Write ``damaged`` at ``relpath``, validate, and restore; (accepted, schema_ok) for
    that file: no error at all, and no error saying it is not a valid document."""
    path = root / relpath
    original = path.read_bytes()
    try:
        path.write_bytes(damaged)
        before = _snapshot(root)
        report = validate(root, offline=True, jobs=1)
        assert _snapshot(root) == before, "validate changed files"
        for finding in report.findings:
            assert finding.path and finding.message, finding
            assert "\n" not in finding.render(), finding.render()
            assert finding.code, finding
        mine = [f for f in report.errors if f.path == relpath]
        return not mine, not any(f.code in _SCHEMA_CODES for f in mine)
    finally:
        path.write_bytes(original)


@pytest.mark.parametrize("target", sorted(_TARGETS))
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_manifests_get_findings_not_crashes_and_the_verdict_of_jsonschema(
    registry: Workspace, target: str, data: st.DataObject
) -> None:
    relpath, schema = _TARGETS[target]
    original = (registry.root / relpath).read_bytes()
    header = original.decode().splitlines(keepends=True)[0]
    header = header if header.startswith("#") else ""
    how = data.draw(st.sampled_from(["valid", "mutated", "damaged"]), label="how")
    if how == "damaged":  # text edits and bytes that are not UTF-8
        edits = data.draw(st.lists(_EDIT, min_size=1, max_size=4), label="edits")
        damaged = _apply(original.decode(), edits).encode("utf-8", "surrogatepass")
        if data.draw(st.booleans(), label="raw"):
            damaged = damaged.replace(b"e", b"\xe9", 1)
    else:
        document = data.draw(_valid(target, parse_yaml(original, relpath)), label="valid")
        if how == "mutated":
            document = data.draw(_mutated(document, target), label="mutated")
        damaged = (header + dump_yaml(document)).encode()
    accepted, schema_ok = _run_validate(registry.root, relpath, damaged)
    reach = _REACH[target]
    reach["total"] += 1
    try:
        document = parse_yaml(damaged, relpath)
    except ManifestError:
        event(f"{target}: not YAML")
        assert not schema_ok, f"accepted {damaged!r}, which does not parse"
        return
    if document is None:
        event(f"{target}: empty")
        assert not schema_ok
        return
    # The cross-check: modelreg's verdict on the document is the reference's.
    reference = jsonschema.Draft202012Validator(json.loads(schema_text(schema)))
    errors = [e.message for e in reference.iter_errors(document)]
    reach["checked"] += 1
    reach["valid"] += not errors
    event(f"{target}: cross-checked, {'valid' if not errors else 'invalid'} ({how})")
    assert schema_ok == (not errors), (
        f"modelreg {'accepted' if schema_ok else 'refused'} {damaged!r}; jsonschema says {errors}"
    )
    if how == "valid":  # built to fit the registry too: nothing at all to report
        assert accepted, f"refused {damaged!r}, a valid document"
    if accepted:
        assert not errors


def test_the_cross_check_reached_every_kind_of_document() -> None:
    """Runs after the fuzz test (pytest keeps file order): at least a fifth of each kind's
    documents were cross-checked, and both verdicts occurred among them."""
    if not any(reach["total"] for reach in _REACH.values()):
        pytest.skip("the fuzz test did not run in this session")
    for target, reach in sorted(_REACH.items()):
        total, checked, valid = reach["total"], reach["checked"], reach["valid"]
        print(f"{target}: cross-checked {checked}/{total}, {valid} of them valid")
        assert total, f"no {target} documents were generated"
        assert checked / total >= 0.2, f"{target}: only {checked}/{total} cross-checked"
        assert 0.05 < valid / checked < 0.95, f"{target}: {valid}/{checked} valid"
