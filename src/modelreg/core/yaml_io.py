"""Reading and writing registry YAML safely and canonically.

The reader accepts the JSON-compatible subset of YAML that manifests need and
refuses everything that makes a file mean something other than it appears to:
duplicate keys, anchors and aliases, explicit tags, non-string keys, several
documents, files over 1 MiB, bytes that are not UTF-8, and nesting deeper
than :data:`MAX_DEPTH`.

Plain scalars are typed by a narrow, YAML 1.2-like rule set, so the YAML 1.1
traps stay strings: ``no``/``yes``/``on``/``off`` are not booleans, ``010`` is
not octal, ``1:20`` is not sexagesimal, ``2024-01-01`` is not a date. A value
whose type the schema does not expect (``version: 1.10`` read as a float)
is then rejected by the schema with a hint to quote it.

Values are built from the C parser's flat event stream rather than its
recursive composer, which overflows the C stack on deeply nested input.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml import events as ev

from modelreg.core.errors import ManifestError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "dump_yaml",
    "line_of",
    "new_file_mode",
    "parse_yaml",
    "plain_scalar_value",
    "top_level_scalars",
    "write_bytes_atomic",
    "write_text_atomic",
]

MAX_BYTES = 1024 * 1024
"""Largest registry file accepted; manifests are a few hundred bytes."""

MAX_DEPTH = 32
"""Deepest nesting accepted; manifests nest about five levels."""

_Parser: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]")


_MAYBE_TYPED = frozenset("0123456789+-.~nNtTfF")


def plain_scalar_value(text: str) -> Any:
    """The value an unquoted scalar ``text`` stands for under modelreg's rules."""
    if text and text[0] not in _MAYBE_TYPED:
        return text  # most names, paths and prose: no rule below can match
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text) and not _LEADING_ZERO.match(text):
        return float(text)
    return text


def _decode(data: bytes, path: str) -> str:
    if len(data) > MAX_BYTES:
        raise ManifestError(
            path, f"file is {len(data)} bytes, over the {MAX_BYTES}-byte limit for registry files"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestError(
            path, f"byte {exc.start} is not valid UTF-8; save the file as UTF-8", line=line
        ) from None
    return text.removeprefix("\ufeff")


_TYPE_WORDS = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}


class _Builder:
    """Turns a flat event stream into plain Python values (dict, list, str, ...)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, event: Any, message: str) -> ManifestError:
        return ManifestError(self.path, message, line=event.start_mark.line + 1)

    def check_node(self, event: Any) -> None:
        if event.anchor is not None:
            raise self.fail(event, f"anchor '&{event.anchor}' is not allowed; repeat the value")
        if event.tag is not None:
            raise self.fail(event, f"tag '{event.tag}' is not allowed; remove it")

    def build(self, next_event: Callable[[], Any]) -> Any:
        # This loop runs once per scalar of every manifest, so it keeps the open
        # container and its pending key in locals, and binds names locally. The
        # pending key is _NO_KEY while a mapping waits for its next key and
        # _IN_LIST in sequences. A key is stored with its value before the next
        # key is read, so the mapping itself tells whether a key repeats.
        scalar_event, alias_event = ev.ScalarEvent, ev.AliasEvent
        mapping_start, sequence_start = ev.MappingStartEvent, ev.SequenceStartEvent
        mapping_end, sequence_end = ev.MappingEndEvent, ev.SequenceEndEvent
        document_start, stream_end = ev.DocumentStartEvent, ev.StreamEndEvent
        no_key, in_list, typed = _NO_KEY, _IN_LIST, plain_scalar_value
        saved: list[tuple[Any, Any]] = []  # the enclosing (container, key) pairs
        container: Any = None
        key: Any = None
        root: Any = None
        documents = 0
        while True:
            event = next_event()
            kind = type(event)
            if kind is scalar_event:
                if event.anchor is not None or event.tag is not None:
                    self.check_node(event)
                # The C parser reports plain style as "", the pure-Python one as None.
                value = event.value if event.style else typed(event.value)
                if container is None:
                    root = value
                elif key is no_key:
                    if type(value) is not str:
                        raise self.fail(
                            event,
                            f"key {event.value!r} reads as {_TYPE_WORDS[type(value)]}, not text; "
                            f"write it in quotes: '{event.value}'",
                        )
                    if value in container:
                        raise self.fail(event, f"duplicate key '{value}'; keep only one")
                    key = value
                elif key is in_list:
                    container.append(value)
                else:
                    container[key] = value
                    key = no_key
            elif kind is mapping_start or kind is sequence_start:
                self.check_node(event)
                if len(saved) >= MAX_DEPTH:
                    raise self.fail(event, f"nested deeper than {MAX_DEPTH} levels")
                is_map = kind is mapping_start
                child: Any = {} if is_map else []
                if container is None:
                    root = child
                elif key is no_key:
                    raise self.fail(event, "a key must be text, not a mapping or a list")
                elif key is in_list:
                    container.append(child)
                else:
                    container[key] = child
                    key = no_key
                saved.append((container, key))
                container, key = child, (no_key if is_map else in_list)
            elif kind is mapping_end or kind is sequence_end:
                container, key = saved.pop()
            elif kind is alias_event:
                raise self.fail(event, f"alias '*{event.anchor}' is not allowed; repeat the value")
            elif kind is document_start:
                documents += 1
                if documents > 1:
                    raise self.fail(event, "more than one YAML document; keep a single document")
            elif kind is stream_end:
                return root
            # StreamStart and DocumentEnd carry nothing.


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NO_KEY = _Marker("<no key>")
_IN_LIST = _Marker("<list>")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _parser_error(path: str, text: str, exc: yaml.YAMLError) -> ManifestError:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return ManifestError(
            path, f"character U+{exc.character:04X} is not allowed in YAML; remove it", line=line
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = _one_line(exc.problem or exc.context or "malformed YAML")
        return ManifestError(path, f"not valid YAML: {problem}", line=line)
    return ManifestError(path, f"not valid YAML: {_one_line(str(exc))}")


def parse_yaml(data: bytes, path: str) -> Any:
    """Parse one registry file's bytes; ``path`` names it in errors.

    Raises :class:`ManifestError` for anything the module docstring lists.
    An empty file yields ``None``.
    """
    text = _decode(data, path)
    parser = _Parser(text)
    try:
        return _Builder(path).build(parser.get_event)
    except yaml.YAMLError as exc:
        raise _parser_error(path, text, exc) from None
    finally:
        parser.dispose()


def top_level_scalars(data: bytes, keys: frozenset[str]) -> dict[str, Any]:
    """The plain values of ``keys`` in a mapping document, read no further than needed.

    For reading many small files when only a few fields matter (``history`` reads
    each pointer's ``version`` and ``reason``); it stops once every key is found,
    so a long list later in the file costs nothing. Keys whose value is a mapping
    or list are skipped. Unlike :func:`parse_yaml` it does not check the rest of
    the file: callers must tolerate files that ``validate`` would refuse.
    """
    found: dict[str, Any] = {}
    try:
        parser = _Parser(_decode(data, ""))
    except ManifestError:
        return found
    depth = 0
    key: str | None = None
    expecting_key = False
    try:
        while len(found) < len(keys):
            event = parser.get_event()
            kind = event.__class__
            if kind is ev.StreamEndEvent:
                break
            if kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
                depth += 1
                if depth == 1:
                    expecting_key = kind is ev.MappingStartEvent
                    continue
                if depth == 2 and key is not None:
                    key, expecting_key = None, True  # a nested value: not wanted
                continue
            if kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
                depth -= 1
                continue
            if kind is ev.ScalarEvent and depth == 1:
                if expecting_key:
                    key, expecting_key = event.value, False
                    continue
                if key in keys and key not in found:
                    found[key] = event.value if event.style else plain_scalar_value(event.value)
                key, expecting_key = None, True
    except yaml.YAMLError:
        pass
    finally:
        parser.dispose()
    return found


def _located_nodes(text: str) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """Yield (field path, 1-based line) for every key and value of a well-formed file."""
    parser = _Parser(text)
    # One frame per open container: [is_mapping, pending key or _NO_KEY, next index, path].
    frames: list[list[Any]] = []
    try:
        while True:
            event = parser.get_event()
            kind = event.__class__
            if kind is ev.StreamEndEvent:
                return
            if kind in (ev.MappingEndEvent, ev.SequenceEndEvent):
                frames.pop()
                continue
            if kind not in (ev.ScalarEvent, ev.MappingStartEvent, ev.SequenceStartEvent):
                continue
            line = event.start_mark.line + 1
            here: tuple[str | int, ...] = ()
            if frames:
                frame = frames[-1]
                if frame[0] and frame[1] is _NO_KEY:
                    frame[1] = event.value
                    yield (*frame[3], event.value), line
                    continue
                if frame[0]:
                    here = (*frame[3], frame[1])
                    frame[1] = _NO_KEY
                else:
                    here = (*frame[3], frame[2])
                    frame[2] += 1
            yield here, line
            if kind is not ev.ScalarEvent:
                frames.append([kind is ev.MappingStartEvent, _NO_KEY, 0, here])
    finally:
        parser.dispose()


def line_of(data: bytes, field_path: tuple[str | int, ...]) -> int:
    """1-based line where ``field_path`` (or its nearest existing parent) sits; 0 if unknown.

    Used only to point error messages at a line, so it re-reads the file rather
    than making every load carry positions.
    """
    try:
        text = _decode(data, "")
        best = 0
        best_len = -1
        for found, line in _located_nodes(text):
            if len(found) > best_len and found == field_path[: len(found)]:
                best, best_len = line, len(found)
        return best
    except (ManifestError, yaml.YAMLError):
        return 0


# --- writing -------------------------------------------------------------------------

_STR_TAG = "tag:yaml.org,2002:str"
_yaml11 = yaml.resolver.Resolver()


_TAG_OF_TYPE = {
    type(None): "tag:yaml.org,2002:null",
    bool: "tag:yaml.org,2002:bool",
    int: "tag:yaml.org,2002:int",
    float: "tag:yaml.org,2002:float",
    str: _STR_TAG,
}


class _CanonicalDumper(yaml.SafeDumper):
    """Writes a plain scalar only where modelreg's reader and a YAML 1.1 reader agree.

    The emitter quotes a string whose plain form resolves to another type, so
    answering "ambiguous" for any disagreement makes it quote ``no``, ``1e3``
    and friends, and keeps ``09`` or ``1.5`` plain where both readers agree.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            ours = _TAG_OF_TYPE[type(plain_scalar_value(value))]
            if ours == _yaml11.resolve(kind, value, implicit):  # type: ignore[no-untyped-call]
                return ours
            return "tag:modelreg,2026:ambiguous"
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]

    def ignore_aliases(self, data: Any) -> bool:
        return True


# Line breaks YAML knows beyond \n and \r: written raw, a reader folds them to
# spaces, so strings holding them are double-quoted, where they are escaped.
_YAML_ONLY_BREAKS = frozenset("\x85\u2028\u2029")


def _represent_str(dumper: _CanonicalDumper, value: str) -> yaml.ScalarNode:
    style = None
    if not _YAML_ONLY_BREAKS.isdisjoint(value) or "\r" in value:
        style = '"'
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar(_STR_TAG, value, style=style)


def _represent_list(dumper: _CanonicalDumper, value: list[Any] | tuple[Any, ...]) -> yaml.Node:
    scalars = all(isinstance(item, int | float | bool) for item in value)
    short = scalars and len(value) <= 16
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=short)


def _represent_float(dumper: _CanonicalDumper, value: float) -> yaml.ScalarNode:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{value} cannot be written to a registry file")
    return dumper.represent_float(value)


_CanonicalDumper.add_representer(str, _represent_str)
_CanonicalDumper.add_representer(list, _represent_list)
_CanonicalDumper.add_representer(tuple, _represent_list)
_CanonicalDumper.add_representer(float, _represent_float)


def dump_yaml(value: Any, *, header: str = "") -> str:
    """Render ``value`` canonically: keys in the given order, block style, no folding.

    ``header`` is written first as comment lines (a ``yaml-language-server``
    schema line, for instance).
    """
    body = yaml.dump(
        value,
        Dumper=_CanonicalDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
        indent=2,
    )
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + body


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half."""
    write_bytes_atomic(path, text.encode("utf-8"))


def new_file_mode() -> int:
    """The mode a new file gets under the process's umask (0o644 under the usual 022).

    Read from ``/proc`` where it can be: setting the umask to read it back would
    race with other threads creating files.
    """
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.

    A new file gets the mode the user's umask gives; a replaced one keeps its mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
