"""The schema compiler (modelreg.core.schema), exactly: each keyword at its boundary,
each message in full, and the paths violations point at.

Written to kill the mutants mutation testing left alive (make mutation).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelreg.core.schema import (
    SCHEMA_DIR,
    SCHEMA_NAMES,
    SchemaError,
    Violation,
    canonical_order,
    compile_schema,
    describe,
    format_path,
    load_schema,
    schema_text,
)


def problems(schema: Any, document: Any) -> list[tuple[str, str]]:
    """Each violation as (rendered path, message)."""
    return [(format_path(v.path), v.message) for v in compile_schema(schema)(document)]


# --- rendering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("md5",), "md5"),
        (("artifacts", 0, "md5"), "artifacts[0].md5"),
        ((0, "a"), "[0].a"),
        (("metrics", "top-1"), "metrics.top-1"),
        (("metrics", "_x9"), "metrics._x9"),
        (("metrics", "val/acc"), 'metrics["val/acc"]'),
        (("metrics", "9lives"), 'metrics["9lives"]'),
        (("tags", "caf\u00e9"), 'tags["caf\u00e9"]'),
        (("a b",), '["a b"]'),
        (("x", 'q"'), 'x["q\\""]'),
    ],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        ({}, "a mapping"),
        ([1], "a list"),
        ("caf\u00e9", '"caf\u00e9"'),
        ("x" * 60, json.dumps("x" * 60)),
        ("x" * 61, json.dumps("x" * 57 + "...")),
        (3, "3"),
        (2.5, "2.5"),
    ],
)
def test_describe(value: Any, text: str) -> None:
    assert describe(value) == text


# --- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "good", "bad", "words"),
    [
        ("string", ["", "x"], [1, None, True, [], {}], "text"),
        ("object", [{}], ["x", [], 1], "a mapping"),
        ("array", [[]], [{}, "x", (1,)], "a list"),
        ("boolean", [True, False], [0, 1, "true"], "true or false"),
        ("null", [None], [0, "", False], "null"),
        ("number", [1, 1.5, -0.0], ["1", True, None], "a number"),
        ("integer", [1, 2.0, -3], [1.5, "1", True, float("inf"), float("nan")], "a whole number"),
    ],
)
def test_each_type_admits_its_values_only(
    kind: str, good: list[Any], bad: list[Any], words: str
) -> None:
    for value in good:
        assert problems({"type": kind}, value) == [], value
    for value in bad:
        found = problems({"type": kind}, value)
        assert len(found) == 1, value
        assert found[0][1].startswith(f"expected {words}, got {describe(value)}"), value


def test_type_errors_hint_at_the_yaml_traps() -> None:
    assert problems({"type": "string"}, 1.10) == [
        ("", "expected text, got 1.1; write it in quotes")
    ]
    assert problems({"type": "string"}, None) == [
        ("", "expected text, got null; write it in quotes")
    ]
    assert problems({"type": "string"}, False) == [
        ("", "expected text, got false; write it in quotes")
    ]
    assert problems({"type": "string"}, 3) == [("", "expected text, got 3; write it in quotes")]
    assert problems({"type": "string"}, []) == [("", "expected text, got a list")]
    assert problems({"type": "boolean"}, "yes") == [
        ("", 'expected true or false, got "yes"; use true or false')
    ]
    assert problems({"type": "boolean"}, 1) == [("", "expected true or false, got 1")]
    assert problems({"type": ["string", "null"]}, 5) == [
        ("", "expected text or null, got 5; write it in quotes")
    ]
    assert problems({"type": ["integer", "boolean"]}, "x") == [
        ("", 'expected a whole number or true or false, got "x"; use true or false')
    ]


def test_integral_floats_count_as_integers_unless_numbers_are_allowed() -> None:
    assert problems({"type": "integer"}, 3.0) == []
    assert problems({"type": ["integer", "null"]}, 3.0) == []
    assert problems({"type": "integer"}, 3.5) == [("", "expected a whole number, got 3.5")]
    assert problems({"type": ["number", "integer"]}, 3.5) == []
    assert problems({"type": ["string", "null"]}, 3.0) == [
        ("", "expected text or null, got 3.0; write it in quotes")
    ]


# --- enum and const --------------------------------------------------------------------------


def test_enum_messages_list_the_choices_and_suggest_the_closest() -> None:
    schema = {"enum": ["pytorch", "onnx", "sklearn"]}
    assert problems(schema, "onnx") == []
    assert problems(schema, "ONNX") == [
        ("", '"ONNX" is not one of "pytorch", "onnx", "sklearn"; did you mean "onnx"?')
    ]
    assert problems(schema, "pytorhc") == [
        ("", '"pytorhc" is not one of "pytorch", "onnx", "sklearn"; did you mean "pytorch"?')
    ]
    assert problems(schema, "zzzzzz") == [
        ("", '"zzzzzz" is not one of "pytorch", "onnx", "sklearn"')
    ]
    assert problems(schema, 3) == [("", '3 is not one of "pytorch", "onnx", "sklearn"')]
    assert problems(schema, None) == [("", 'null is not one of "pytorch", "onnx", "sklearn"')]


def test_mixed_enums_compare_as_json_does() -> None:
    schema = {"enum": [1, "a", None, [1, 2], {"k": True}]}
    for value in (1, 1.0, "a", None, [1, 2], [1.0, 2], {"k": True}):
        assert problems(schema, value) == [], value
    for value in (True, 2, "b", [1], [2, 1], [1, 2, 3], {"k": 1}, {"j": True}, {}, False):
        assert len(problems(schema, value)) == 1, value
    assert problems({"enum": [True]}, 1) == [("", "must be true, got 1")]
    assert problems({"enum": [0]}, False) == [("", "must be 0, got false")]
    assert problems({"enum": [1, "a"]}, "b") == [("", '"b" is not one of 1, "a"')]


def test_const_says_what_it_must_be() -> None:
    assert problems({"const": 1}, 1) == []
    assert problems({"const": 1}, 2) == [("", "must be 1, got 2")]
    assert problems({"const": "v1"}, "v2") == [("", 'must be "v1", got "v2"')]
    assert problems({"const": "v1", "x-message": "is the format"}, "v2") == [
        ("", '"v2": is the format')
    ]


def test_a_custom_message_replaces_the_enum_message() -> None:
    schema = {"enum": ["a", "b"], "x-message": "names a kind; see the docs"}
    assert problems(schema, "c") == [("", '"c": names a kind; see the docs')]


def test_enum_and_type_errors_are_both_reported() -> None:
    assert problems({"type": "string", "enum": ["a"]}, 1) == [
        ("", "expected text, got 1; write it in quotes"),
        ("", 'must be "a", got 1'),
    ]
    assert problems({"type": "string", "enum": ["a"]}, True) == [
        ("", "expected text, got true; write it in quotes"),
        ("", 'must be "a", got true'),
    ]


# --- strings ---------------------------------------------------------------------------------


def test_patterns_anchor_dollar_at_the_very_end() -> None:
    schema = {"type": "string", "pattern": "^[a-f0-9]{32}$"}
    assert problems(schema, "a" * 32) == []
    assert problems(schema, "a" * 32 + "\n") == [
        ("", f"{json.dumps('a' * 32 + chr(10))} must match the pattern ^[a-f0-9]{{32}}$")
    ]
    assert problems({"pattern": "a\\$b"}, "a$b") == []
    assert problems({"pattern": "b"}, "abc") == []  # search, not match
    assert problems({"pattern": "^b"}, "abc") == [("", '"abc" must match the pattern ^b')]
    assert problems({"pattern": "^b", "x-message": "must start with b"}, "abc") == [
        ("", '"abc" must start with b')
    ]
    assert problems({"pattern": "^b"}, 5) == []


def test_string_lengths_count_characters() -> None:
    schema = {"minLength": 2, "maxLength": 3}
    assert problems(schema, "ab") == []
    assert problems(schema, "\u00e9\u00e9\u00e9") == []
    assert problems(schema, "a") == [("", "needs at least 2 characters")]
    assert problems(schema, "abcd") == [("", "is 4 characters long, over 3")]
    assert problems({"minLength": 1}, "") == [("", "must not be empty")]
    assert problems({"minLength": 1}, "a") == []
    assert problems({"maxLength": 0}, "") == []
    assert problems({"maxLength": 3}, "abc") == []
    assert problems(schema, 12345) == []
    assert problems(schema, ["a"]) == []


# --- numbers ---------------------------------------------------------------------------------


def test_numeric_bounds_are_inclusive_or_exclusive_as_named() -> None:
    schema = {"minimum": 1, "maximum": 10}
    assert problems(schema, 1) == []
    assert problems(schema, 10.0) == []
    assert problems(schema, 0.5) == [("", "must be at least 1, got 0.5")]
    assert problems(schema, 11) == [("", "must be at most 10, got 11")]
    exclusive = {"exclusiveMinimum": 0, "exclusiveMaximum": 1}
    assert problems(exclusive, 0.5) == []
    assert problems(exclusive, 0) == [("", "must be more than 0, got 0")]
    assert problems(exclusive, 1) == [("", "must be less than 1, got 1")]
    assert problems(exclusive, -1) == [("", "must be more than 0, got -1")]
    assert problems(exclusive, 2) == [("", "must be less than 1, got 2")]
    assert problems({"minimum": 5, "exclusiveMaximum": 3}, 4) == [
        ("", "must be at least 5, got 4"),
        ("", "must be less than 3, got 4"),
    ]
    assert problems(schema, "0") == []
    assert problems(schema, True) == []


# --- objects ---------------------------------------------------------------------------------


def test_required_fields_are_reported_at_their_own_path() -> None:
    schema = {"type": "object", "required": ["name", "version"]}
    assert problems(schema, {"name": "x", "version": 1}) == []
    assert problems(schema, {"name": "x"}) == [("version", "is required but missing")]
    assert problems(schema, {}) == [
        ("name", "is required but missing"),
        ("version", "is required but missing"),
    ]
    assert problems(schema, []) == [("", "expected a mapping, got a list")]


def test_unknown_fields_get_a_suggestion_or_the_allowed_list() -> None:
    schema = {
        "type": "object",
        "properties": {"metrics": {"type": "object"}, "tags": {}},
        "additionalProperties": False,
    }
    assert problems(schema, {"metrix": {}}) == [
        ("metrix", "unknown field; did you mean 'metrics'?")
    ]
    assert problems(schema, {"zzz": 1}) == [("zzz", "unknown field; allowed: metrics, tags")]
    assert problems({"additionalProperties": False}, {"a": 1}) == [("a", "unknown field")]
    assert problems(schema, {"metrics": 1}) == [("metrics", "expected a mapping, got 1")]


def test_additional_properties_and_property_names_check_each_entry() -> None:
    schema = {
        "type": "object",
        "properties": {"known": {"type": "string"}},
        "propertyNames": {"pattern": "^[a-z]+$"},
        "additionalProperties": {"type": "number"},
    }
    assert problems(schema, {"known": "x", "other": 1.5}) == []
    assert problems(schema, {"Bad": "x", "other": "y", "known": 1}) == [
        ("Bad", '"Bad" must match the pattern ^[a-z]+$'),
        ("other", 'expected a number, got "y"'),
        ("known", "expected text, got 1; write it in quotes"),
    ]


def test_max_properties_counts_entries() -> None:
    schema = {"maxProperties": 2}
    assert problems(schema, {"a": 1, "b": 2}) == []
    assert problems(schema, {"a": 1, "b": 2, "c": 3}) == [
        ("", "has 3 entries, over the limit of 2")
    ]
    assert problems(schema, [1, 2, 3]) == []


def test_false_forbids_and_true_allows() -> None:
    schema = {"properties": {"gone": False, "any": True}}
    assert problems(schema, {"any": [{}]}) == []
    assert problems(schema, {"gone": 1}) == [("gone", "is not allowed here")]


# --- arrays ----------------------------------------------------------------------------------


def test_array_sizes_items_and_uniqueness() -> None:
    schema = {"minItems": 1, "maxItems": 2, "items": {"type": "integer"}}
    assert problems(schema, [1]) == []
    assert problems(schema, [1, 2]) == []
    assert problems(schema, []) == [("", "needs at least 1 item")]
    assert problems({"minItems": 2}, [1]) == [("", "needs at least 2 items")]
    assert problems({"minItems": 0}, []) == []
    assert problems(schema, [1, 2, 3]) == [("", "has 3 items, over the limit of 2")]
    assert problems(schema, [1, "x"]) == [("[1]", 'expected a whole number, got "x"')]
    unique = {"uniqueItems": True}
    assert problems(unique, [1, 2, "1", True]) == []
    assert problems(unique, [1, 2, 1.0, 2]) == [("[2]", "repeats 1.0"), ("[3]", "repeats 2")]
    assert problems({"uniqueItems": False}, [1, 1]) == []
    assert problems(schema, {"a": 1}) == []


def test_nested_paths_lead_to_the_bad_value() -> None:
    schema = {
        "type": "object",
        "properties": {
            "artifacts": {
                "type": "array",
                "items": {"type": "object", "properties": {"md5": {"pattern": "^[a-f0-9]+$"}}},
            }
        },
    }
    found = compile_schema(schema)({"artifacts": [{"md5": "abc"}, {"md5": "XYZ"}]})
    assert found == [Violation(("artifacts", 1, "md5"), '"XYZ" must match the pattern ^[a-f0-9]+$')]


# --- references and the compiler's limits ----------------------------------------------------


def test_local_references_resolve_and_may_recurse() -> None:
    schema = {
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                "additionalProperties": False,
            }
        },
    }
    assert problems(schema, {"children": [{"children": []}]}) == []
    assert problems(schema, {"children": [{"children": [{"x": 1}]}]}) == [
        ("children[0].children[0].x", "unknown field; allowed: children")
    ]


def test_the_compiler_refuses_what_it_does_not_implement() -> None:
    with pytest.raises(SchemaError, match=r"^unsupported schema keywords: \['anyOf', 'oneOf'\]$"):
        compile_schema({"oneOf": [], "anyOf": [], "title": "t", "x-note": 1})
    with pytest.raises(
        SchemaError,
        match=r"^only local '#/\$defs/\.\.\.' references are supported, not other\.json$",
    ):
        compile_schema({"$ref": "other.json"})
    assert compile_schema({"description": "d", "$comment": "c", "x-anything": 1})(5) == []


def test_the_shipped_schemas_load_and_check() -> None:
    assert SCHEMA_NAMES == ("registry", "model", "version", "pointer")
    for name in SCHEMA_NAMES:
        assert (SCHEMA_DIR / f"{name}.schema.json").is_file()
        assert json.loads(schema_text(name))["$schema"].startswith("https://json-schema.org/")
    check = load_schema("pointer")
    assert check is load_schema("pointer")
    assert check({"version": 3}) == []
    assert [format_path(v.path) for v in check({"version": "3", "bogus": 1})] == [
        "version",
        "bogus",
    ]


def test_canonical_order_follows_the_schema_and_sorts_free_maps() -> None:
    document = {
        "metrics": {"z": 1, "a": 2},
        "zzz_unknown": 1,
        "version": 3,
        "model": "digits",
        "artifacts": [{"path": "p", "name": "n", "md5": "m", "size": 1, "format": "onnx"}],
        "aaa_unknown": 2,
    }
    ordered = canonical_order(document, "version")
    assert ordered == document
    keys = list(ordered)
    assert keys.index("model") < keys.index("version") < keys.index("artifacts")
    assert keys[-2:] == ["aaa_unknown", "zzz_unknown"]
    assert list(ordered["metrics"]) == ["a", "z"]
    artifact_keys = list(ordered["artifacts"][0])
    assert artifact_keys.index("name") < artifact_keys.index("path")
    assert canonical_order([1, 2], "version") == [1, 2]
    assert canonical_order("x", "version") == "x"


# --- where nested violations point -----------------------------------------------------------


def test_every_keyword_reports_at_the_nested_value_it_judged() -> None:
    schema = {
        "type": "object",
        "properties": {
            "kind": {"enum": ["a", "b"]},
            "one": {"const": 1},
            "custom": {"enum": ["a"], "x-message": "is wrong"},
            "short": {"minLength": 2},
            "long": {"maxLength": 1},
            "n": {"minimum": 0},
            "map": {"maxProperties": 0},
            "few": {"minItems": 1},
            "many": {"maxItems": 0},
        },
    }
    document = {
        "kind": "c",
        "one": 2,
        "custom": "b",
        "short": "x",
        "long": "xy",
        "n": -1,
        "map": {"k": 1},
        "few": [],
        "many": [1],
    }
    assert problems(schema, document) == [
        ("kind", '"c" is not one of "a", "b"'),
        ("one", "must be 1, got 2"),
        ("custom", '"b": is wrong'),
        ("short", "needs at least 2 characters"),
        ("long", "is 2 characters long, over 1"),
        ("n", "must be at least 0, got -1"),
        ("map", "has 1 entries, over the limit of 0"),
        ("few", "needs at least 1 item"),
        ("many", "has 1 items, over the limit of 0"),
    ]


def test_a_single_bound_is_enforced_alone() -> None:
    assert problems({"maxLength": 3}, "abcd") == [("", "is 4 characters long, over 3")]
    assert problems({"maxItems": 1}, [1, 2]) == [("", "has 2 items, over the limit of 1")]
    assert problems({"minItems": 3}, [1, 2]) == [("", "needs at least 3 items")]


def test_items_may_repeat_unless_the_schema_says_unique() -> None:
    assert problems({"items": {"type": "integer"}}, [1, 1]) == []
    assert problems({"minItems": 1}, ["a", "a"]) == []


def test_a_string_enum_judges_values_of_any_type() -> None:
    schema = {"enum": ["a", "b"]}
    assert problems(schema, [1]) == [("", 'a list is not one of "a", "b"')]
    assert problems(schema, {"a": 1}) == [("", 'a mapping is not one of "a", "b"')]
    assert problems({"const": "a"}, ["a"]) == [("", 'must be "a", got a list')]


@pytest.mark.parametrize(
    ("name", "yes", "no"),
    [
        ("string", ["x"], [1, None, b"x"]),
        ("object", [{}], [[], "x"]),
        ("array", [[]], [{}, (1,)]),
        ("boolean", [True], [1, None]),
        ("null", [None], [0, "", False]),
        ("number", [1, 1.5], ["1", True]),
        ("integer", [1, 2.0], [1.5, float("inf"), True, "1"]),
    ],
)
def test_is_type_follows_json_schema(name: str, yes: list[Any], no: list[Any]) -> None:
    from modelreg.core.schema import _is_type

    assert [_is_type(v, name) for v in yes] == [True] * len(yes)
    assert [_is_type(v, name) for v in no] == [False] * len(no)


def test_canonical_order_sorts_maps_the_schema_leaves_free() -> None:
    ordered = canonical_order({"zzz_unknown": {"b": 1, "a": {"d": 1, "c": 2}}}, "version")
    assert ordered == {"zzz_unknown": {"a": {"c": 2, "d": 1}, "b": 1}}
    assert list(ordered["zzz_unknown"]) == ["a", "b"]
    assert list(ordered["zzz_unknown"]["a"]) == ["c", "d"]


def key_order(value: Any) -> Any:
    """Every mapping's keys, in order, down the whole document (lists item by item)."""
    if isinstance(value, dict):
        return [(k, key_order(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [key_order(item) for item in value]
    return value


def test_canonical_order_of_a_version_manifest_follows_the_schema_at_every_level() -> None:
    document = {
        "zz_unknown": [{"b": 1, "a": {"d": 1, "c": 2}}, "x", 3],
        "deprecation": {
            "reason": "old",
            "date": "2026-01-01T00:00:00Z",
            "b_extra": {"y": 1, "x": 2},
        },
        "tags": {"team": "vision", "owner": "ann", "Alpha": "1"},
        "metrics": {"val/acc": 0.9, "loss": 0.1, "acc": 0.8},
        "artifacts": [
            {
                "opset": 17,
                "format": "onnx",
                "size": 10,
                "md5": "0" * 32,
                "path": "p",
                "name": "onnx",
                "zeta": {"b": 1, "a": 2},
                "alpha": [{"d": 1, "c": 2}],
            },
            {"size": 1, "name": "weights"},
            "not a mapping",
        ],
        "lineage": {
            "params": {"lr": 0.1, "epochs": 3},
            "git_commit": "a" * 40,
            "mlflow": {"experiment_id": "1", "run_id": "r"},
        },
        "signature": {
            "classes": ["b", "a"],
            "outputs": [{"shape": [1], "dtype": "int64", "name": "y"}],
            "inputs": [],
        },
        "created": "2026-01-01T00:00:00Z",
        "version": 2,
        "model": "m",
    }
    assert key_order(canonical_order(document, "version")) == [
        ("model", "m"),
        ("version", 2),
        ("created", "2026-01-01T00:00:00Z"),
        (
            "lineage",
            [
                ("git_commit", "a" * 40),
                ("params", [("epochs", 3), ("lr", 0.1)]),
                ("mlflow", [("run_id", "r"), ("experiment_id", "1")]),
            ],
        ),
        (
            "artifacts",
            [
                [
                    ("name", "onnx"),
                    ("path", "p"),
                    ("md5", "0" * 32),
                    ("size", 10),
                    ("format", "onnx"),
                    ("opset", 17),
                    ("alpha", [[("c", 2), ("d", 1)]]),
                    ("zeta", [("a", 2), ("b", 1)]),
                ],
                [("name", "weights"), ("size", 1)],
                "not a mapping",
            ],
        ),
        (
            "signature",
            [
                ("inputs", []),
                ("outputs", [[("name", "y"), ("dtype", "int64"), ("shape", [1])]]),
                ("classes", ["b", "a"]),
            ],
        ),
        ("metrics", [("acc", 0.8), ("loss", 0.1), ("val/acc", 0.9)]),
        ("tags", [("Alpha", "1"), ("owner", "ann"), ("team", "vision")]),
        (
            "deprecation",
            [
                ("date", "2026-01-01T00:00:00Z"),
                ("reason", "old"),
                ("b_extra", [("x", 2), ("y", 1)]),
            ],
        ),
        ("zz_unknown", [[("a", [("c", 2), ("d", 1)]), ("b", 1)], "x", 3]),
    ]


def test_canonical_order_of_registry_policies_follows_the_policy_schema() -> None:
    document = {
        "storage": {"dvc_remote": "r"},
        "score": {
            "metrics": {
                "loss": {"range": [1, 0], "better": "lower", "weight": 1},
                "acc": {"zz": {"b": 1, "a": 2}, "better": "higher", "weight": 2},
            }
        },
        "policies": {
            "staging": "not a mapping",
            "production": {
                "onnx_parity": True,
                "score": {"tolerance": 0.1, "no_regression": True, "min": 0.5},
                "no_regression": {
                    "acc": {"relative_tolerance": 0.1, "tolerance": 0.01, "better": "higher"}
                },
                "require": {"acc": {"max": 1, "min": 0.5}},
                "from": ["staging", "none"],
                "extra": {"b": 1, "a": 2},
            },
        },
        "stages": ["staging", "production"],
        "schema_version": 1,
    }
    assert key_order(canonical_order(document, "registry")) == [
        ("schema_version", 1),
        ("stages", ["staging", "production"]),
        (
            "policies",
            [
                (
                    "production",
                    [
                        ("from", ["staging", "none"]),
                        ("require", [("acc", [("min", 0.5), ("max", 1)])]),
                        (
                            "no_regression",
                            [
                                (
                                    "acc",
                                    [
                                        ("better", "higher"),
                                        ("tolerance", 0.01),
                                        ("relative_tolerance", 0.1),
                                    ],
                                )
                            ],
                        ),
                        ("score", [("min", 0.5), ("no_regression", True), ("tolerance", 0.1)]),
                        ("onnx_parity", True),
                        ("extra", [("a", 2), ("b", 1)]),
                    ],
                ),
                ("staging", "not a mapping"),
            ],
        ),
        (
            "score",
            [
                (
                    "metrics",
                    [
                        (
                            "acc",
                            [("weight", 2), ("better", "higher"), ("zz", [("a", 2), ("b", 1)])],
                        ),
                        ("loss", [("weight", 1), ("better", "lower"), ("range", [1, 0])]),
                    ],
                )
            ],
        ),
        ("storage", [("dvc_remote", "r")]),
    ]
