"""The registry's YAML reader and writer (modelreg.core.yaml_io), exactly: each refusal
with its message and line, the typing of plain scalars, the limits, the partial
reader, line lookup and the canonical writer.

Written to kill the mutants mutation testing left alive (make mutation).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelreg.core.errors import ManifestError
from modelreg.core.yaml_io import (
    MAX_BYTES,
    MAX_DEPTH,
    dump_yaml,
    line_of,
    new_file_mode,
    parse_yaml,
    plain_scalar_value,
    top_level_scalars,
    write_bytes_atomic,
    write_text_atomic,
)


def refusal(data: bytes) -> tuple[str, int]:
    with pytest.raises(ManifestError) as caught:
        parse_yaml(data, "registry/x.yaml")
    assert caught.value.path == "registry/x.yaml"
    return caught.value.detail, caught.value.line


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("nULL", "nULL"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("tRUE", "tRUE"),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("0", 0),
        ("7", 7),
        ("-12", -12),
        ("+3", 3),
        ("010", "010"),
        ("-010", "-010"),
        ("0.5", 0.5),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        ("+2.5e+1", 25.0),
        ("00.5", "00.5"),
        ("09", "09"),
        ("1:20", "1:20"),
        ("2024-01-01", "2024-01-01"),
        ("1.2.3", "1.2.3"),
        ("e3", "e3"),
        (".", "."),
        ("-", "-"),
        ("digits", "digits"),
        ("Digits 7", "Digits 7"),
    ],
)
def test_plain_scalars_are_typed_by_the_narrow_rules(text: str, value: Any) -> None:
    got = plain_scalar_value(text)
    assert got == value
    assert type(got) is type(value)


def test_refusals_name_the_problem_the_fix_and_the_line() -> None:
    assert refusal(b"a: 1\nb: &x 1\n") == ("anchor '&x' is not allowed; repeat the value", 2)
    assert refusal(b"a:\n  - &y [1]\n") == ("anchor '&y' is not allowed; repeat the value", 2)
    assert refusal(b"a: !!str 1\n") == (
        "tag 'tag:yaml.org,2002:str' is not allowed; remove it",
        1,
    )
    assert refusal(b"a: !custom {}\n") == ("tag '!custom' is not allowed; remove it", 1)
    assert refusal(b"a: 1\nb: *x\n") == ("alias '*x' is not allowed; repeat the value", 2)
    assert refusal(b"a: 1\nb: 2\na: 3\n") == ("duplicate key 'a'; keep only one", 3)
    assert refusal(b"1: a\n") == ("key '1' reads as a number, not text; write it in quotes: '1'", 1)
    assert refusal(b"x: 1\n1.5: a\n") == (
        "key '1.5' reads as a number, not text; write it in quotes: '1.5'",
        2,
    )
    assert refusal(b"true: a\n") == (
        "key 'true' reads as a boolean, not text; write it in quotes: 'true'",
        1,
    )
    assert refusal(b"~: a\n") == ("key '~' reads as null, not text; write it in quotes: '~'", 1)
    assert refusal(b"a: 1\n? [1]\n: 2\n") == ("a key must be text, not a mapping or a list", 2)
    assert refusal(b"? {a: 1}\n: 2\n") == ("a key must be text, not a mapping or a list", 1)
    assert refusal(b"---\na: 1\n---\nb: 2\n") == (
        "more than one YAML document; keep a single document",
        3,
    )


def test_quoted_keys_and_values_stay_text() -> None:
    assert parse_yaml(b"'1': '2'\n\"true\": 'null'\n", "f") == {"1": "2", "true": "null"}
    assert parse_yaml(b"a: |\n  010\n", "f") == {"a": "010\n"}


def test_the_parsed_value_has_every_shape() -> None:
    data = b"a: 1\nb:\n  - x\n  - [1, {c: ~}]\n  - {}\nd: {e: [], f: 'g'}\nh: no\n"
    assert parse_yaml(data, "f") == {
        "a": 1,
        "b": ["x", [1, {"c": None}], {}],
        "d": {"e": [], "f": "g"},
        "h": "no",
    }
    assert parse_yaml(b"- 1\n- two\n", "f") == [1, "two"]
    assert parse_yaml(b"just text\n", "f") == "just text"
    assert parse_yaml(b"'7'\n", "f") == "7"
    assert parse_yaml(b"", "f") is None
    assert parse_yaml(b"---\na: 1\n...\n", "f") == {"a": 1}


def test_nesting_is_limited_to_max_depth() -> None:
    assert MAX_DEPTH == 32
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    value = parse_yaml(deepest, "f")
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []
    too_deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    assert refusal(too_deep) == ("nested deeper than 32 levels", 1)
    assert refusal(b"a:\n  " + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"\n") == (
        "nested deeper than 32 levels",
        2,
    )


def test_files_are_limited_to_one_mebibyte() -> None:
    assert MAX_BYTES == 1024 * 1024
    padding = b"#" + b"x" * (MAX_BYTES - 7) + b"\na: 1\n"
    assert len(padding) == MAX_BYTES
    assert parse_yaml(padding, "f") == {"a": 1}
    assert refusal(padding + b" ") == (
        f"file is {MAX_BYTES + 1} bytes, over the {MAX_BYTES}-byte limit for registry files",
        0,
    )


def test_bytes_that_are_not_utf8_are_refused_with_their_offset_and_line() -> None:
    assert refusal(b"a: 1\nb: \xff\n") == ("byte 8 is not valid UTF-8; save the file as UTF-8", 2)
    assert refusal(b"\xc3") == ("byte 0 is not valid UTF-8; save the file as UTF-8", 1)
    assert parse_yaml(b"\xef\xbb\xbfa: caf\xc3\xa9\n", "f") == {"a": "caf\u00e9"}


def test_parser_errors_are_one_line_with_a_line_number() -> None:
    assert refusal(b"a: 1\nb: \x01\n") == (
        "character U+0001 is not allowed in YAML; remove it",
        2,
    )
    assert refusal(b"a: [\n") == ("not valid YAML: did not find expected node content", 2)
    assert refusal(b"a: b: c\n") == (
        "not valid YAML: mapping values are not allowed in this context",
        1,
    )
    assert refusal(b'x: 1\n"a\n') == ("not valid YAML: found unexpected end of stream", 3)
    assert refusal(b"a: 1\n  b: 2\n") == (
        "not valid YAML: mapping values are not allowed in this context",
        2,
    )
    with pytest.raises(ManifestError) as caught:
        parse_yaml(b"a: [\n", "registry/x.yaml")
    assert str(caught.value) == (
        "registry/x.yaml:2: not valid YAML: did not find expected node content"
    )


# --- top_level_scalars -----------------------------------------------------------------------


KEYS = frozenset({"version", "reason"})


def test_top_level_scalars_reads_only_the_top_level_plain_values() -> None:
    data = b"since: x\nversion: 3\nnested: {version: 9, reason: no}\nreason: 'quoted'\n"
    assert top_level_scalars(data, KEYS) == {"version": 3, "reason": "quoted"}
    data = b"reason: [a, b]\nversion: 010\n"
    assert top_level_scalars(data, KEYS) == {"version": "010"}
    data = b"reason:\n  - a\nlist: [1]\nversion: 4\n"
    assert top_level_scalars(data, KEYS) == {"version": 4}
    data = b"reason: {a: b}\nversion: 5\n"
    assert top_level_scalars(data, KEYS) == {"version": 5}
    assert top_level_scalars(b"version: 1\nversion: 2\n", KEYS) == {"version": 1}
    assert top_level_scalars(b"version: true\n", KEYS) == {"version": True}
    assert top_level_scalars(b"version: ~\n", frozenset({"version"})) == {"version": None}


def test_top_level_scalars_stops_once_every_key_is_found() -> None:
    # the broken tail is never read
    assert top_level_scalars(b"version: 2\nreason: r\n: [\n", KEYS) == {"version": 2, "reason": "r"}
    assert top_level_scalars(b"version: 2\n: [\n", KEYS) == {"version": 2}
    assert top_level_scalars(b"version: 2\n", frozenset()) == {}


def test_top_level_scalars_tolerates_what_validate_refuses() -> None:
    assert top_level_scalars(b"\xff", KEYS) == {}
    assert top_level_scalars(b"- version\n- 3\n", KEYS) == {}
    assert top_level_scalars(b"version\n", KEYS) == {}
    assert top_level_scalars(b"", KEYS) == {}
    assert top_level_scalars(b"[version, 3]\n", KEYS) == {}


# --- line_of ---------------------------------------------------------------------------------


LINES = b"""model: digits
metrics:
  accuracy: 0.9
  loss: 0.1
artifacts:
- name: model
  md5: abc
- name: onnx
  md5: def
tags: {}
"""


@pytest.mark.parametrize(
    ("field", "line"),
    [
        ((), 1),
        (("model",), 1),
        (("metrics",), 2),
        (("metrics", "accuracy"), 3),
        (("metrics", "loss"), 4),
        (("metrics", "f1"), 2),
        (("artifacts",), 5),
        (("artifacts", 0), 6),
        (("artifacts", 0, "md5"), 7),
        (("artifacts", 1), 8),
        (("artifacts", 1, "name"), 8),
        (("artifacts", 1, "md5"), 9),
        (("artifacts", 2, "md5"), 5),
        (("tags", "x"), 10),
        (("nothing",), 1),
    ],
)
def test_line_of_finds_the_field_or_its_nearest_parent(
    field: tuple[str | int, ...], line: int
) -> None:
    assert line_of(LINES, field) == line


def test_line_of_is_zero_when_the_file_cannot_be_read() -> None:
    assert line_of(b"a: [\n", ("a",)) == 0
    assert line_of(b"\xff", ()) == 0
    assert line_of(b"", ("a",)) == 0
    assert line_of(b"\n\na: 1\n", ("a",)) == 3


# --- the writer ------------------------------------------------------------------------------


def test_dump_yaml_writes_block_style_in_the_given_order() -> None:
    document = {
        "z": 1,
        "a": [1, 2.5, True],
        "nested": {"b": "text", "list": ["x", {"k": None}]},
        "empty": [],
    }
    assert dump_yaml(document) == (
        "z: 1\na: [1, 2.5, true]\nnested:\n  b: text\n  list:\n  - x\n  - k: null\nempty: []\n"
    )


def test_dump_yaml_quotes_strings_any_reader_would_type() -> None:
    text = dump_yaml({"a": "no", "b": "1e3", "c": "010", "d": "true", "e": "1.5", "f": "09"})
    assert parse_yaml(text.encode(), "f") == {
        "a": "no",
        "b": "1e3",
        "c": "010",
        "d": "true",
        "e": "1.5",
        "f": "09",
    }
    lines = text.splitlines()
    assert lines[0] == "a: 'no'"
    assert lines[3] == "d: 'true'"
    assert lines[4] == "e: '1.5'"


def test_dump_yaml_writes_line_breaks_safely() -> None:
    assert dump_yaml({"a": "one\ntwo\n"}) == "a: |\n  one\n  two\n"
    assert dump_yaml({"a": "x\ry"}) == 'a: "x\\ry"\n'
    assert dump_yaml({"a": "x\u2028y"}) == 'a: "x\\Ly"\n'
    assert dump_yaml({"a": "x\x85y"}) == 'a: "x\\Ny"\n'
    long = "word " * 100
    assert dump_yaml({"a": long.strip()}) == f"a: {long.strip()}\n"


def test_dump_yaml_lists_long_or_mixed_sequences_in_block_style() -> None:
    assert dump_yaml(list(range(16))) == f"[{', '.join(str(n) for n in range(16))}]\n"
    assert dump_yaml(list(range(17))).splitlines()[:2] == ["- 0", "- 1"]
    assert dump_yaml((1, 2)) == "[1, 2]\n"
    assert dump_yaml([1, "a"]) == "- 1\n- a\n"
    shared = {"k": 1}
    assert dump_yaml({"a": shared, "b": shared}) == "a:\n  k: 1\nb:\n  k: 1\n"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_dump_yaml_refuses_floats_json_cannot_hold(value: float) -> None:
    with pytest.raises(ValueError, match="cannot be written to a registry file"):
        dump_yaml({"a": value})
    assert dump_yaml({"a": 1.0e-7}) == "a: 1.0e-07\n"


def test_dump_yaml_writes_the_header_as_comments() -> None:
    header = "yaml-language-server: $schema=x\n\nsecond"
    assert dump_yaml({"a": 1}, header=header) == (
        "# yaml-language-server: $schema=x\n#\n# second\na: 1\n"
    )
    assert dump_yaml({"a": 1}, header="") == "a: 1\n"


def test_written_files_replace_atomically_and_keep_their_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "file.yaml"
    write_text_atomic(path, "caf\u00e9\n")
    assert path.read_bytes() == b"caf\xc3\xa9\n"
    assert stat.S_IMODE(path.stat().st_mode) == new_file_mode()
    path.chmod(0o600)
    write_bytes_atomic(path, b"second\n")
    assert path.read_bytes() == b"second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.yaml"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "file.yaml"
    target.mkdir()  # replacing a folder by a file fails
    with pytest.raises(OSError):
        write_bytes_atomic(target, b"x")
    assert list(tmp_path.iterdir()) == [target]


def test_the_new_file_mode_follows_the_umask() -> None:
    old = os.umask(0o027)
    try:
        assert new_file_mode() == 0o640
    finally:
        os.umask(old)
    assert new_file_mode() == 0o666 & ~old


def test_top_level_scalars_skips_everything_nested() -> None:
    # a value three levels down, then a wanted key at the second level: neither is top level
    assert top_level_scalars(b"a:\n  b:\n    c: 1\n  version: 5\n", KEYS) == {}
    assert top_level_scalars(b"a:\n  b:\n    c: 1\n  version: 5\nversion: 6\n", KEYS) == {
        "version": 6
    }
    # a list document: its items are not keys, whatever they hold
    assert top_level_scalars(b"- {x: 1}\n- version\n- 3\n", KEYS) == {}


def test_the_line_of_a_bad_character_counts_from_the_start() -> None:
    assert refusal(b"\na: \x01\n") == ("character U+0001 is not allowed in YAML; remove it", 2)


def test_parser_errors_without_a_position_or_a_problem() -> None:
    from modelreg.core.yaml_io import _parser_error

    plain = _parser_error("r.yaml", "", yaml.YAMLError("bad\n   thing"))
    assert (str(plain), plain.path, plain.line) == (
        "r.yaml: not valid YAML: bad thing",
        "r.yaml",
        0,
    )
    bare = _parser_error("r.yaml", "", yaml.MarkedYAMLError())
    assert (bare.detail, bare.line) == ("not valid YAML: malformed YAML", 0)
    mark = yaml.Mark("r.yaml", 0, 4, 0, None, None)
    context = _parser_error(
        "r.yaml", "", yaml.MarkedYAMLError(context="while  parsing\na map", context_mark=mark)
    )
    assert (context.detail, context.line) == ("not valid YAML: while parsing a map", 5)
    both = yaml.MarkedYAMLError(
        context="ctx",
        context_mark=mark,
        problem="the problem",
        problem_mark=yaml.Mark("", 0, 1, 0, None, None),
    )
    assert (_parser_error("r", "", both).detail, _parser_error("r", "", both).line) == (
        "not valid YAML: the problem",
        2,
    )


def test_the_temporary_file_is_made_beside_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Renamed into place, it must be on the target's filesystem: never the system temp folder.
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-temp-folder"))
    target = tmp_path / "registry" / "file.yaml"
    write_bytes_atomic(target, b"a: 1\n")
    assert target.read_bytes() == b"a: 1\n"


def test_the_umask_is_read_from_proc_without_being_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Setting the umask to read it back would race with other threads creating files.
    if not Path("/proc/self/status").is_file():
        pytest.skip("no /proc on this system")
    real_umask = os.umask
    old = real_umask(0o026)
    try:
        calls: list[int] = []

        def spy(mask: int) -> int:
            calls.append(mask)
            return real_umask(mask)

        monkeypatch.setattr(os, "umask", spy)
        assert new_file_mode() == 0o640
        write_bytes_atomic(tmp_path / "new.yaml", b"a: 1\n")
        assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640
        assert calls == []
    finally:
        monkeypatch.undo()
        real_umask(old)


def test_without_proc_the_umask_is_read_and_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelreg.core.yaml_io as yaml_io

    def no_proc(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError("no /proc here")

    monkeypatch.setattr(yaml_io, "open", no_proc, raising=False)
    old = os.umask(0o026)
    try:
        assert new_file_mode() == 0o640
        assert os.umask(0o026) == 0o026  # left as the user set it
        write_bytes_atomic(tmp_path / "new.yaml", b"a: 1\n")
        assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640
        os.umask(0o077)
        assert new_file_mode() == 0o600
        assert os.umask(0o077) == 0o077
    finally:
        os.umask(old)


def test_the_temporary_file_is_hidden_and_the_old_file_stays_until_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.yaml"
    target.write_bytes(b"old\n")
    real_fsync = os.fsync
    seen: list[list[str]] = []

    def spy(fd: int) -> None:
        assert target.read_bytes() == b"old\n"  # readers still see the old file
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_bytes_atomic(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    [[temporary, name]] = seen
    assert name == "model.yaml"
    assert re.fullmatch(r"\.model\.yaml\.[a-z0-9_]+\.tmp", temporary), temporary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.yaml"]

    # If the temporary file vanished before the write failed, the write's own error surfaces.
    def fail(fd: int) -> None:
        [hidden] = [p for p in tmp_path.iterdir() if p.name != "model.yaml"]
        hidden.unlink()
        raise OSError("disk failed")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError) as caught:
        write_bytes_atomic(target, b"newer\n")
    assert (type(caught.value), str(caught.value)) == (OSError, "disk failed")
    assert target.read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.yaml"]


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
def test_only_a_leading_byte_order_mark_is_dropped(
    loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelreg.core.yaml_io as yaml_io

    if not hasattr(yaml, loader):
        pytest.skip(f"PyYAML without {loader}")
    monkeypatch.setattr(yaml_io, "_Parser", getattr(yaml, loader))
    bom = "\ufeff".encode()
    # an editor adding a mark to a file that already has one: both parsers read it alike
    assert parse_yaml(bom + bom + b"a: 1\n", "f") == {"a": 1}
    assert top_level_scalars(bom + bom + b"a: 1\n", KEYS | {"a"}) == {"a": 1}
    # elsewhere it is text, kept as written
    assert parse_yaml(b"a: x" + bom, "f") == {"a": "x\ufeff"}
    assert top_level_scalars(b"a: x" + bom, KEYS | {"a"}) == {"a": "x\ufeff"}


def test_dump_yaml_writes_unicode_as_is() -> None:
    document = {"name": "caf\u00e9 \u65e5\u672c", "caf\u00e9": ["\u00fc", 1, "x"]}
    assert dump_yaml(document) == "name: caf\u00e9 \u65e5\u672c\ncaf\u00e9:\n- \u00fc\n- 1\n- x\n"
