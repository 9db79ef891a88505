"""The safe loader refuses what manifests must not contain; the writer round-trips."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg.core.errors import ManifestError
from modelreg.core.yaml_io import MAX_BYTES, dump_yaml, line_of, parse_yaml, write_text_atomic


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"a: 1\na: 2\n", "f.yaml:2: duplicate key 'a'; keep only one"),
        (b"base: &b {x: 1}\nother: *b\n", "f.yaml:1: anchor '&b' is not allowed; repeat the value"),
        (b"a: *nowhere\n", "f.yaml:1: alias '*nowhere' is not allowed; repeat the value"),
        (
            b"a: !!python/object:os.system ls\n",
            "f.yaml:1: tag 'tag:yaml.org,2002:python/object:os.system' is not allowed; remove it",
        ),
        (b"a: !!str 5\n", "f.yaml:1: tag 'tag:yaml.org,2002:str' is not allowed; remove it"),
        (b"1: one\n", "f.yaml:1: key '1' reads as a number, not text; write it in quotes: '1'"),
        (
            b"true: yes\n",
            "f.yaml:1: key 'true' reads as a boolean, not text; write it in quotes: 'true'",
        ),
        (b"? [a, b]\n: 1\n", "f.yaml:1: a key must be text, not a mapping or a list"),
        (b"a: 1\n---\nb: 2\n", "f.yaml:2: more than one YAML document; keep a single document"),
        (b"a: [1, 2\nb: 3\n", "f.yaml:2: not valid YAML: did not find expected ',' or ']'"),
        (b"a: \x01\n", "f.yaml:1: character U+0001 is not allowed in YAML; remove it"),
        (b"ok: 1\nbad: \xff\xfe\n", "f.yaml:2: byte 11 is not valid UTF-8; save the file as UTF-8"),
        (b"[" * 40 + b"]" * 40, "f.yaml:1: nested deeper than 32 levels"),
    ],
)
def test_refuses_unsafe_or_ambiguous_yaml(text: bytes, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_yaml(text, "f.yaml")
    assert str(caught.value) == message


def test_hostile_nesting_is_refused_without_crashing() -> None:
    # PyYAML's C composer overflows the C stack on this; the event reader must not.
    deep = b"[" * 500_000 + b"]" * 500_000
    with pytest.raises(ManifestError, match="nested deeper than 32 levels"):
        parse_yaml(deep, "f.yaml")


def test_refuses_files_over_the_size_limit() -> None:
    big = b"a: '" + b"x" * MAX_BYTES + b"'\n"
    with pytest.raises(ManifestError, match=r"over the 1048576-byte limit"):
        parse_yaml(big, "big.yaml")


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("010", "010"),
        ("0x1F", "0x1F"),
        ("0o17", "0o17"),
        ("1:20", "1:20"),
        ("2024-01-01", "2024-01-01"),
        (".inf", ".inf"),
        (".nan", ".nan"),
        ("1_000", "1_000"),
        ("1.10", 1.1),
        ("1e3", 1000.0),
        ("-7", -7),
        ("0", 0),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
    ],
)
def test_yaml11_traps_stay_strings(scalar: str, value: Any) -> None:
    parsed = parse_yaml(f"k: {scalar}\n".encode(), "f.yaml")
    assert parsed["k"] == value
    assert type(parsed["k"]) is type(value)


def test_quoted_scalars_are_always_text() -> None:
    parsed = parse_yaml(b"a: '1'\nb: \"true\"\nc: 'null'\n", "f.yaml")
    assert parsed == {"a": "1", "b": "true", "c": "null"}


def test_empty_file_is_none_and_bom_is_ignored() -> None:
    assert parse_yaml(b"", "f.yaml") is None
    assert parse_yaml(b"\xef\xbb\xbfa: 1\n", "f.yaml") == {"a": 1}


def test_line_of_points_at_the_field() -> None:
    text = b"model: m\nartifacts:\n- name: w\n  md5: bad\nmetrics:\n  acc: 1\n"
    assert line_of(text, ("artifacts", 0, "md5")) == 4
    assert line_of(text, ("metrics", "acc")) == 6
    assert line_of(text, ("metrics", "missing")) == 5  # nearest existing parent
    assert line_of(text, ()) == 1


@pytest.mark.parametrize(
    "value",
    [
        "no",
        "yes",
        "on",
        "1.10",
        "1e3",
        "010",
        "09",
        "~",
        "null",
        "true",
        "1:20",
        "- x",
        "a: b",
        "#x",
        " lead",
        "trail ",
        "multi\nline\n",
        "tab\tinside",
        "ünïcode",
        "",
        "@at",
        "%pct",
        "nel\x85inside",
        "line\u2028sep",
        "cr\rlf\r\n",
        "\ufeffbom",
        "bell\x07",
    ],
)
def test_writer_quotes_whatever_would_read_back_differently(value: str) -> None:
    text = dump_yaml({"k": value})
    assert parse_yaml(text.encode(), "f.yaml") == {"k": value}
    # A YAML 1.1 reader (PyYAML's default) must read the same string.
    assert yaml.safe_load(text) == {"k": value}


def test_writer_keeps_key_order_and_writes_short_number_lists_inline() -> None:
    text = dump_yaml({"z": 1, "a": {"shape": [-1, 1, 8, 8]}, "m": [{"x": "y"}]}, header="hello")
    assert text == "# hello\nz: 1\na:\n  shape: [-1, 1, 8, 8]\nm:\n- x: y\n"


def test_writer_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError, match="cannot be written"):
        dump_yaml({"m": math.nan})


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.yaml"
    write_text_atomic(target, "a: 1\n")
    write_text_atomic(target, "b: 2\n")
    assert target.read_text() == "b: 2\n"
    assert [p.name for p in target.parent.iterdir()] == ["f.yaml"]  # no temp files left


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)))
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=6))
def test_round_trip_of_any_json_like_document(document: dict[str, Any]) -> None:
    text = dump_yaml(document)
    assert parse_yaml(text.encode(), "f.yaml") == document


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_loader_never_crashes_on_arbitrary_bytes(data: bytes) -> None:
    try:
        parse_yaml(data, "f.yaml")
    except ManifestError as exc:
        assert str(exc).startswith("f.yaml")
        assert "\n" not in str(exc)


yamlish = st.lists(
    st.sampled_from(
        [
            "a",
            ":",
            " ",
            "\n",
            "-",
            "[",
            "]",
            "{",
            "}",
            ",",
            "&x",
            "*x",
            "!t",
            "'",
            '"',
            "#",
            "1",
            "no",
            "---",
            "? ",
            "|",
            ">",
            "\t",
            "  ",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(yamlish)
def test_loader_never_crashes_on_yaml_like_text(text: str) -> None:
    try:
        value = parse_yaml(text.encode(), "f.yaml")
    except ManifestError as exc:
        assert "\n" not in str(exc)
        return
    # Whatever is accepted is plain JSON-like data that the writer round-trips.
    assert parse_yaml(dump_yaml({"v": value}).encode(), "f.yaml") == {"v": value}
