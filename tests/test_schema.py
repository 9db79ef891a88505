"""The shipped schemas are standard JSON Schema, and modelreg's compiled checks agree
with the reference implementation (``jsonschema``) on every document."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelreg.core.schema import (
    SCHEMA_DIR,
    SCHEMA_NAMES,
    SchemaError,
    canonical_order,
    compile_schema,
    format_path,
    load_schema,
)

SAMPLES: dict[str, dict[str, Any]] = {
    "registry": {
        "schema_version": 1,
        "stages": ["staging", "production"],
        "policies": {
            "production": {
                "from": ["staging"],
                "require": {"accuracy": {"min": 0.9}, "latency_p50_ms": {"max": 5}},
                "no_regression": {"accuracy": {"better": "higher", "tolerance": 0.01}},
            }
        },
        "storage": {"dvc_remote": "storage"},
    },
    "model": {
        "name": "digits-cnn",
        "description": "A CNN",
        "task": "image-classification",
        "owners": ["@ml-team", "@org/platform", "ada@example.com"],
        "tags": {"framework": "pytorch"},
        "created": "2026-01-15T09:30:00Z",
        "card": {
            "intended_use": "demos",
            "license": "MIT",
            "dataset": "sklearn-digits",
            "data_splits": {"train": 1347, "test": 450},
        },
    },
    "version": {
        "model": "digits-cnn",
        "version": 3,
        "semver": "1.2.0-rc.1",
        "created": "2026-01-15T09:30:00Z",
        "author": "Ada <ada@example.com>",
        "description": "lr 1e-3",
        "lineage": {
            "git_commit": "0123456789abcdef0123456789abcdef01234567",
            "git_dirty": False,
            "dvc_stage": "train",
            "dvc_lock_hash": "0123456789abcdef0123456789abcdef",
            "params": {"lr": 0.001, "layers": [32, 64]},
            "mlflow": {
                "run_id": "4b8e6057500b4b03bef452bac0c212dd",
                "tracking_uri": "file:./mlruns",
            },
        },
        "artifacts": [
            {
                "name": "weights",
                "path": "registry/digits-cnn/artifacts/3/model.pt",
                "md5": "0123456789abcdef0123456789abcdef",
                "size": 10,
                "format": "pytorch",
            },
            {
                "name": "onnx",
                "path": "registry/digits-cnn/artifacts/3/model.onnx",
                "md5": "0123456789abcdef0123456789abcdef",
                "size": 10,
                "format": "onnx",
                "opset": 18,
            },
        ],
        "signature": {
            "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 1, 8, 8]}],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 10]}],
            "classes": ["0", "1"],
        },
        "metrics": {"accuracy": 0.98, "test.loss": 0.1},
        "tags": {"k": "v"},
        "deprecation": {"date": "2026-02-01T00:00:00Z", "reason": "bug"},
        "deleted": {"date": "2026-03-01T00:00:00Z", "reason": "deleted through MLflow"},
    },
    "pointer": {
        "version": 3,
        "since": "2026-01-15T09:30:00Z",
        "previous": 2,
        "reason": "better",
        "canary": {"version": 4, "weight": 0.1},
        "retired": [1, 2],
    },
}


def raw(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    return loaded


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_files_are_valid_json_schema_2020_12(name: str) -> None:
    schema = raw(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_samples_are_valid_for_both_validators(name: str) -> None:
    assert jsonschema.Draft202012Validator(raw(name)).is_valid(SAMPLES[name])
    assert load_schema(name)(SAMPLES[name]) == []


def test_mutable_fields_are_declared_in_the_schema() -> None:
    mutable = {k for k, v in raw("version")["properties"].items() if v.get("x-mutable")}
    assert mutable == {"description", "tags", "deprecation", "deleted"}


def test_unsupported_keywords_are_refused_at_compile_time() -> None:
    with pytest.raises(SchemaError, match=r"unsupported schema keywords: \['oneOf'\]"):
        compile_schema({"oneOf": [{"type": "string"}]})
    with pytest.raises(SchemaError, match="only local"):
        compile_schema({"$ref": "https://example.com/other.json"})


def test_pattern_dollar_anchors_at_the_very_end() -> None:
    check = compile_schema({"type": "string", "pattern": "^[a-z]+$"})
    assert check("abc") == []
    assert check("abc\n") != []  # Python's '$' would accept this; ECMA-262's does not


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({**SAMPLES["version"], "version": 1.1}, ["version: expected a whole number, got 1.1"]),
        ({**SAMPLES["version"], "metrix": {}}, ["metrix: unknown field; did you mean 'metrics'?"]),
        (
            {**SAMPLES["version"], "created": "yesterday"},
            ['created: "yesterday" is not a UTC timestamp: write it as 2026-01-31T12:00:00Z'],
        ),
        (
            {**SAMPLES["version"], "tags": {"ok": "x", "n": 5}},
            ["tags.n: expected text, got 5; write it in quotes"],
        ),
        (
            {**SAMPLES["version"], "tags": {"bad key": "x"}},
            [
                'tags["bad key"]: "bad key" is not a valid tag key: '
                "use letters, digits and _ . / : -"
            ],
        ),
        (
            {**SAMPLES["version"], "metrics": {"acc": "high"}},
            ['metrics.acc: expected a number, got "high"'],
        ),
        (
            {k: v for k, v in SAMPLES["version"].items() if k != "artifacts"},
            ["artifacts: is required but missing"],
        ),
        ({**SAMPLES["version"], "artifacts": []}, ["artifacts: needs at least 1 item"]),
        (
            {**SAMPLES["pointer"], "canary": {"version": 4, "weight": 1.5}},
            ["canary.weight: must be less than 1, got 1.5"],
        ),
        (
            {**SAMPLES["registry"], "stages": ["staging", "Production"]},
            [
                'stages[1]: "Production" is not a valid stage name: use lowercase letters, digits, '
                "'-' and '_', starting with a letter, at most 32 characters"
            ],
        ),
        (
            {**SAMPLES["registry"], "stages": ["staging", "staging"]},
            ['stages[1]: repeats "staging"'],
        ),
        (
            {**SAMPLES["model"], "owners": ["nobody"]},
            ['owners[0]: "nobody" is not an owner: use @user, @org/team or an e-mail address'],
        ),
        ({**SAMPLES["registry"], "schema_version": 2}, ["schema_version: must be 1, got 2"]),
    ],
)
def test_messages_name_the_field_the_value_and_the_fix(
    document: dict[str, Any], expected: list[str]
) -> None:
    name = next(n for n in SCHEMA_NAMES if set(document) <= set(raw(n)["properties"]) | {"metrix"})
    found = [f"{format_path(v.path)}: {v.message}" for v in load_schema(name)(document)]
    assert found == expected


def test_enum_suggests_the_closest_value() -> None:
    artifact = {**SAMPLES["version"]["artifacts"][0], "format": "Onnx"}
    found = load_schema("version")({**SAMPLES["version"], "artifacts": [artifact]})
    assert [v.message for v in found] == [
        '"Onnx" is not one of "onnx", "pytorch", "safetensors", "mlflow", "pickle", "other"; '
        'did you mean "onnx"?'
    ]


def test_canonical_order_follows_the_schema() -> None:
    shuffled = dict(reversed(list(SAMPLES["version"].items())))
    shuffled["metrics"] = {"z": 1, "a": 2}
    ordered = canonical_order(shuffled, "version")
    assert list(ordered) == list(raw("version")["properties"])
    assert list(ordered["metrics"]) == ["a", "z"]
    assert list(ordered["artifacts"][1]) == ["name", "path", "md5", "size", "format", "opset"]


# --- differential testing against jsonschema ---------------------------------------------

INTERESTING_STRINGS = [
    "",
    "a",
    "Production",
    "staging",
    "onnx",
    "0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef.dir",
    "2026-01-15T09:30:00Z",
    "2026-01-15 09:30:00",
    "@team",
    "x@y.io",
    "digits-cnn",
    "-bad",
    "bad-",
    "a" * 70,
    "registry/x/artifacts/1/m.pt",
    "higher",
    "float32",
    "ü",
    "none",
    "1.2.0",
    "1.2.0+build",
    "v1.2.0",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=200)
    | st.sampled_from([0.0, 1.0, 2.0, 0.5, -1.5, 1e300, 3.0])
    | st.sampled_from(INTERESTING_STRINGS)
    | st.text(max_size=12).filter(lambda s: not s.endswith("\n"))
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["version", "name", "x", "min", "weight", "a"]) | st.text(max_size=6),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def perturbations(value: Any) -> list[Any]:
    """Values near ``value``: the edges where keyword checks (bounds, patterns, enums,
    lengths, uniqueness) and JSON Schema's type rules (2.0 is an integer, True is not)
    decide."""
    if isinstance(value, bool):
        return [not value, int(value), None, "true"]
    if isinstance(value, int):
        return [value - 1, value + 1, 0, -1, -2, float(value), value + 0.5, str(value), True, 10**6]
    if isinstance(value, float):
        return [0.0, -value, 1.0, 2.0, value * 10, round(value), -0.0, str(value), False]
    if isinstance(value, str):
        return [
            "",
            value.upper(),
            value + "x",
            value[:-1],
            "a" * 300,
            " " + value,
            value + " ",
            value.replace("-", "_"),
            5,
            None,
            *INTERESTING_STRINGS,
        ]
    if isinstance(value, list):
        # json round trip: an equal duplicate that is a different object
        duplicate = json.loads(json.dumps(value[:1]))
        return [[], value[:1], value + duplicate, [*value, None], list(reversed(value)), {}]
    if isinstance(value, dict):
        return [{}, [], {**value, "unknown_field": 1}] + [
            {k: v for k, v in value.items() if k != key} for key in value
        ]
    return [0, "", [], {}]


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(document)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return copied


def _disagreement(name: str, document: Any) -> str | None:
    reference = jsonschema.Draft202012Validator(raw(name)).is_valid(document)
    ours = load_schema(name)(document)
    if (ours == []) != reference:
        return f"jsonschema says valid={reference}, modelreg found {ours} in {document!r}"
    return None


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_single_perturbation_agrees_with_jsonschema(name: str) -> None:
    sample = SAMPLES[name]
    checked = invalid = 0
    for path in _paths(sample):
        current: Any = sample
        for key in path:
            current = current[key]
        for value in perturbations(current):
            document = _replace(sample, path, value)
            problem = _disagreement(name, document)
            assert problem is None, problem
            checked += 1
            invalid += bool(load_schema(name)(document))
    # The sweep must exercise both outcomes, or it proves nothing.
    assert checked > 100
    assert 0.2 < invalid / checked < 0.95


@st.composite
def mutated(draw: st.DrawFn, name: str) -> Any:
    document: Any = copy.deepcopy(SAMPLES[name])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        current = document
        for key in path:
            current = current[key]
        operation = draw(st.sampled_from(["near", "near", "random", "add"]))
        if operation == "near":
            document = _replace(document, path, draw(st.sampled_from(perturbations(current))))
        elif operation == "random":
            document = _replace(document, path, draw(values))
        elif isinstance(current, dict):
            keys = st.text(max_size=8) | st.sampled_from(list(raw(name)["properties"]))
            current[draw(keys)] = draw(values)
        elif isinstance(current, list):
            current.append(draw(values))
    return document


@pytest.mark.parametrize("name", SCHEMA_NAMES)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_mutations_agree_with_jsonschema(name: str, data: st.DataObject) -> None:
    document = data.draw(mutated(name))
    problem = _disagreement(name, document)
    assert problem is None, problem
