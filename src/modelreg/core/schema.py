"""JSON Schema checks for registry files, compiled once into plain closures.

The schemas in ``modelreg/schemas/`` are ordinary JSON Schema 2020-12 files:
editors and ``jsonschema`` read them as they are. modelreg checks documents
against them with this small compiler instead of ``jsonschema`` because the
registry's targets leave no room for it: importing ``jsonschema`` costs
~65 ms of a 150 ms budget for ``modelreg show``, and it takes ~430 µs per
version manifest, over 4 s for a 10,000-version ``validate``. Compiled closures
take tens of µs, and produce messages written for people ("unknown field
'metrix'; did you mean 'metrics'?").

Only the keywords the shipped schemas use are supported; compiling a schema
with any other keyword fails, so a schema can never silently mean more than
is checked. The test suite runs the same documents through ``jsonschema`` and
requires both to agree.

Two deliberate differences from a generic validator: a ``pattern``'s ``$``
anchors at the very end of the text, as in ECMA-262 (Python's ``$`` also
matches before a final newline), and ``x-message`` on a schema replaces the
generic message when its ``pattern`` or ``enum`` fails.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path as _FsPath
from typing import Any

__all__ = [
    "SCHEMA_DIR",
    "SCHEMA_NAMES",
    "SchemaError",
    "Violation",
    "canonical_order",
    "compile_schema",
    "format_path",
    "load_schema",
    "schema_text",
]

Path = tuple[str | int, ...]

SCHEMA_DIR = _FsPath(__file__).parent.parent / "schemas"
"""The shipped schema files, one per kind of registry file."""

SCHEMA_NAMES = ("registry", "model", "version", "pointer")


@dataclass(frozen=True)
class Violation:
    """One way a document breaks its schema; ``path`` leads to the bad value."""

    path: Path
    message: str


class SchemaError(Exception):
    """A schema file uses a keyword this compiler does not implement (a modelreg bug)."""


# While checking, a path travels as a linked pair (parent, key), which is cheap
# to extend; it is flattened into a tuple only when a violation is recorded.
Link = tuple[Any, str | int] | None
Check = Callable[[Any, Link, "_Out"], None]


class _Out(list[Violation]):
    def add(self, link: Link, message: str) -> None:
        parts: list[str | int] = []
        while link is not None:
            link, key = link
            parts.append(key)
        self.append(Violation(tuple(reversed(parts)), message))


_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$defs",
        "markdownDescription",
    }
)
_SUPPORTED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "propertyNames",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "enum",
        "const",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "maxProperties",
        "$ref",
    }
)

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def format_path(path: Path) -> str:
    """Render a field path the way messages show it: ``artifacts[0].md5``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def describe(value: Any) -> str:
    """A short, one-line rendering of a value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    return repr(value)


def _is_type(value: Any, name: str) -> bool:
    cls = value.__class__
    if name == "string":
        return cls is str
    if name == "object":
        return cls is dict
    if name == "array":
        return cls is list
    if name == "boolean":
        return cls is bool
    if name == "null":
        return value is None
    if name == "number":
        return cls is int or cls is float
    # JSON Schema counts 2.0 as an integer; YAML readers produce it from "2.0".
    return cls is int or (cls is float and math.isfinite(value) and value.is_integer())


def _type_hint(value: Any, expected: Sequence[str]) -> str:
    """Why a value probably has the wrong type, for the YAML traps people fall into."""
    if "string" in expected and (value is None or isinstance(value, bool | int | float)):
        return "; write it in quotes"
    if "boolean" in expected and isinstance(value, str):
        return "; use true or false"
    return ""


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    # ECMA-262's "$" (no multiline flag) matches only at the end of input.
    translated = re.sub(r"(?<!\\)\$", r"\\Z", pattern)
    return re.compile(translated)


def _accept(value: Any, path: Link, out: _Out) -> None:
    """The check of a schema that allows anything."""


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        if pointer in self.refs:
            return self.refs[pointer]
        if not pointer.startswith("#/$defs/"):
            raise SchemaError(f"only local '#/$defs/...' references are supported, not {pointer}")
        target = self.root["$defs"][pointer.removeprefix("#/$defs/")]
        slot: list[Check] = []

        def deferred(value: Any, path: Link, out: _Out) -> None:
            slot[0](value, path, out)

        self.refs[pointer] = deferred
        slot.append(self.compile(target))
        return deferred

    def compile(self, schema: Mapping[str, Any] | bool) -> Check:
        if schema is True:
            return _accept
        if schema is False:
            return lambda value, path, out: out.add(path, "is not allowed here")
        unknown = {k for k in schema if k not in _SUPPORTED and k not in _ANNOTATIONS} - {
            k for k in schema if k.startswith("x-")
        }
        if unknown:
            raise SchemaError(f"unsupported schema keywords: {sorted(unknown)}")
        ref = self.ref(schema["$ref"]) if "$ref" in schema else None
        custom = schema.get("x-message")
        types = schema.get("type")
        type_list: list[str] = [types] if isinstance(types, str) else list(types or [])
        exact, integral_floats, type_error = (
            self._type(type_list) if type_list else (None, False, _accept)
        )
        any_type: list[Check] = []
        if "enum" in schema:
            any_type.append(self._enum(list(schema["enum"]), custom))
        if "const" in schema:
            any_type.append(self._enum([schema["const"]], custom))
        # Each check below applies to one kind of value only, so the node keeps one
        # list per Python class and runs just the list for the value at hand: a plain
        # text field costs one dictionary lookup.
        by_class: dict[type, list[Check]] = {
            str: any_type + self._string_checks(schema, custom),
            int: any_type + self._number_checks(schema),
            dict: any_type + self._object_checks(schema),
            list: any_type + self._array_checks(schema),
        }
        by_class[float] = by_class[int]
        other = any_type  # bool and None: only enum and const can say more

        def check(value: Any, path: Link, out: _Out) -> None:
            if ref is not None:
                ref(value, path, out)
            cls = value.__class__
            if (
                exact is not None
                and cls not in exact
                and not (integral_floats and _is_type(value, "integer"))
            ):
                type_error(value, path, out)
            for keyword_check in by_class.get(cls, other):
                keyword_check(value, path, out)

        return check

    def _type(self, expected: list[str]) -> tuple[frozenset[type], bool, Check]:
        """The classes a type list admits, whether integral floats count as integers,
        and the check that reports a value of any other type."""
        words = " or ".join(_TYPE_WORDS[t] for t in expected)
        classes: dict[str, set[type]] = {
            "string": {str},
            "object": {dict},
            "array": {list},
            "boolean": {bool},
            "null": {type(None)},
            "number": {int, float},
            "integer": {int},
        }
        exact = frozenset(cls for name in expected for cls in classes[name])
        # JSON Schema counts 2.0 as an integer; YAML readers produce it from "2.0".
        integral_floats = "integer" in expected and "number" not in expected

        def report(value: Any, path: Link, out: _Out) -> None:
            hint = _type_hint(value, expected)
            out.add(path, f"expected {words}, got {describe(value)}{hint}")

        return exact, integral_floats, report

    def _enum(self, allowed: list[Any], custom: str | None) -> Check:
        shown = ", ".join(describe(a) for a in allowed)
        strings = [a for a in allowed if isinstance(a, str)]

        # Most enums list strings; a set answers those without the JSON-equality walk.
        string_set = frozenset(strings) if len(strings) == len(allowed) else None

        def check(value: Any, path: Link, out: _Out) -> None:
            if string_set is not None and value.__class__ is str:
                if value in string_set:
                    return
            elif any(_json_equal(value, a) for a in allowed):
                return
            if custom:
                out.add(path, f"{describe(value)}: {custom}")
                return
            hint = ""
            if isinstance(value, str):
                import difflib  # only on a failure

                close = difflib.get_close_matches(value.lower(), strings, n=1)
                hint = f"; did you mean {describe(close[0])}?" if close else ""
            if len(allowed) == 1:
                out.add(path, f"must be {shown}, got {describe(value)}")
            else:
                out.add(path, f"{describe(value)} is not one of {shown}{hint}")

        return check

    def _string_checks(self, schema: Mapping[str, Any], custom: str | None) -> list[Check]:
        checks: list[Check] = []
        if "pattern" in schema:
            regex = _ecma_pattern(schema["pattern"])
            message = custom or f"must match the pattern {schema['pattern']}"

            def pattern(value: Any, path: Link, out: _Out) -> None:
                if value.__class__ is str and regex.search(value) is None:
                    out.add(path, f"{describe(value)} {message}")

            checks.append(pattern)
        low, high = schema.get("minLength"), schema.get("maxLength")
        if low is not None or high is not None:

            def length(value: Any, path: Link, out: _Out) -> None:
                if value.__class__ is not str:
                    return
                # JSON Schema counts code points, as len() does.
                if low is not None and len(value) < low:
                    needed = "must not be empty" if low == 1 else f"needs at least {low} characters"
                    out.add(path, needed)
                if high is not None and len(value) > high:
                    out.add(path, f"is {len(value)} characters long, over {high}")

            checks.append(length)
        return checks

    def _number_checks(self, schema: Mapping[str, Any]) -> list[Check]:
        bounds = [
            (key, schema[key])
            for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            if key in schema
        ]
        if not bounds:
            return []
        words = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }

        def within(key: str, value: float, bound: float) -> bool:
            if key == "minimum":
                return value >= bound
            if key == "maximum":
                return value <= bound
            if key == "exclusiveMinimum":
                return value > bound
            return value < bound

        def check(value: Any, path: Link, out: _Out) -> None:
            if value.__class__ is not int and value.__class__ is not float:
                return
            for key, bound in bounds:
                if not within(key, value, bound):
                    out.add(path, f"must be {words[key]} {bound}, got {describe(value)}")

        return [check]

    def _object_checks(self, schema: Mapping[str, Any]) -> list[Check]:
        checks: list[Check] = []
        properties = {k: self.compile(v) for k, v in schema.get("properties", {}).items()}
        required = list(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is True or extra is False else self.compile(extra)
        names = schema.get("propertyNames")
        name_check = self.compile(names) if names is not None else None
        most = schema.get("maxProperties")
        known = sorted(properties)

        if not (properties or required or extra is not True or name_check or most is not None):
            return checks

        def check(value: Any, path: Link, out: _Out) -> None:
            if value.__class__ is not dict:
                return
            for key in required:
                if key not in value:
                    out.add((path, key), "is required but missing")
            for key, item in value.items():
                if name_check is not None:
                    before = len(out)
                    name_check(key, (path, key), out)
                    if len(out) > before:
                        continue  # one message per bad key is enough
                sub = properties.get(key)
                if sub is not None:
                    sub(item, (path, key), out)
                elif extra is False:
                    import difflib  # only on a failure

                    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                    if close:
                        hint = f"; did you mean '{close[0]}'?"
                    else:
                        hint = f"; allowed: {', '.join(known)}" if known else ""
                    out.add((path, key), f"unknown field{hint}")
                elif extra_check is not None:
                    extra_check(item, (path, key), out)
            if most is not None and len(value) > most:
                out.add(path, f"has {len(value)} entries, over the limit of {most}")

        checks.append(check)
        return checks

    def _array_checks(self, schema: Mapping[str, Any]) -> list[Check]:
        items = self.compile(schema["items"]) if "items" in schema else None
        low, high = schema.get("minItems"), schema.get("maxItems")
        unique = schema.get("uniqueItems", False)
        if items is None and low is None and high is None and not unique:
            return []

        def check(value: Any, path: Link, out: _Out) -> None:
            if value.__class__ is not list:
                return
            if low is not None and len(value) < low:
                out.add(path, f"needs at least {low} item{'s' if low != 1 else ''}")
            if high is not None and len(value) > high:
                out.add(path, f"has {len(value)} items, over the limit of {high}")
            if unique:
                for i, item in enumerate(value):
                    if any(_json_equal(item, earlier) for earlier in value[:i]):
                        out.add((path, i), f"repeats {describe(item)}")
            if items is not None:
                for i, item in enumerate(value):
                    items(item, (path, i), out)

        return [check]


def compile_schema(schema: Mapping[str, Any]) -> Callable[[Any], list[Violation]]:
    """Compile ``schema`` into a function returning every violation of a document."""
    check = _Compiler(schema).compile(schema)

    def violations(document: Any) -> list[Violation]:
        out = _Out()
        check(document, None, out)
        return list(out)

    return violations


def schema_text(name: str) -> str:
    """The shipped schema file ``name`` (``version``, ``model``...) as text."""
    return (SCHEMA_DIR / f"{name}.schema.json").read_text("utf-8")


@cache
def load_schema(name: str) -> Callable[[Any], list[Violation]]:
    """The compiled checker for the shipped schema ``name``."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    return compile_schema(schema)


@cache
def _raw_schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded


def canonical_order(document: Any, name: str) -> Any:
    """``document`` with keys in the order its schema lists them; free-form maps sorted.

    The canonical writer relies on this so a file's key order never depends on
    who wrote it, which keeps diffs to the lines that changed.
    """
    root = _raw_schema(name)

    def resolve(schema: Any) -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
        return schema

    def order(value: Any, schema: Any) -> Any:
        schema = resolve(schema)
        if isinstance(value, dict):
            props: dict[str, Any] = schema.get("properties", {}) if isinstance(schema, dict) else {}
            extra = schema.get("additionalProperties", True) if isinstance(schema, dict) else True
            known = [k for k in props if k in value]
            rest = sorted(k for k in value if k not in props)
            result = {k: order(value[k], props[k]) for k in known}
            result.update({k: order(value[k], extra) for k in rest})
            return result
        if isinstance(value, list):
            items = schema.get("items", True) if isinstance(schema, dict) else True
            return [order(item, items) for item in value]
        return value

    return order(document, root)
