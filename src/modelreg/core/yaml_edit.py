"""Editing an existing registry file without losing what a person wrote in it.

A reviewer's ``# NOTE`` above a field, an inline comment, a key order chosen by
hand: rewriting the file canonically from the changed document drops them all.
:func:`edit_manifest_text` instead applies only the difference between the file
and the new document to a round-trip parse of the file, so everything outside
the changed fields stays byte for byte.

The round-trip library (ruamel.yaml) is imported only here, on the edit path;
reading stays on :mod:`modelreg.core.yaml_io`'s fast event loader, which also checks
the result: an edit whose text would not read back as exactly the new document
(or would break a registry YAML rule) is written canonically instead.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from modelreg.core.errors import InputError, ManifestError
from modelreg.core.yaml_io import dump_yaml, parse_yaml, write_bytes_atomic

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["edit_manifest_text", "manifest_bytes", "write_manifest"]


def manifest_bytes(path: str, document: dict[str, Any], kind: str, *, old: bytes | None) -> bytes:
    """The bytes of registry file ``path`` holding ``document``, checked against the
    ``kind`` schema first (a one-line error names the field). With ``old`` (the file as
    it is) comments and key order outside the changed fields stay."""
    from modelreg.core.layout import schema_comment
    from modelreg.core.schema import format_path, load_schema

    violations = load_schema(kind)(document)
    if violations:
        first = violations[0]
        raise InputError(f"{path}: {format_path(first.path)}: {first.message}")
    header = schema_comment(path, kind)
    if old is not None:
        try:
            return edit_manifest_text(old.decode("utf-8"), document, header=header).encode()
        except UnicodeDecodeError:
            pass
    return dump_yaml(document, header=header).encode("utf-8")


def write_manifest(root: Path, relpath: str, document: dict[str, Any], kind: str) -> None:
    """Write a registry file canonically, outside any change (test and benchmark
    fixtures). modelreg's own writes go through :class:`modelreg.ops.change.Change`."""
    from modelreg.core.layout import schema_comment

    text = dump_yaml(document, header=schema_comment(relpath, kind))
    write_bytes_atomic(root / relpath, text.encode("utf-8"))


def edit_manifest_text(old: str, document: dict[str, Any], *, header: str = "") -> str:
    """The text of a registry file ``old`` changed to hold ``document``.

    A file already in canonical form (what :func:`dump_yaml` writes, ``header``
    included) comes out canonical, exactly as a fresh write would. Otherwise
    comments and the order of keys are kept outside the fields that change;
    changed and added fields are written in canonical style.
    """
    canonical = dump_yaml(document, header=header)
    try:
        current = parse_yaml(old.encode("utf-8"), "")
    except ManifestError:
        return canonical
    if not isinstance(current, dict) or old == dump_yaml(current, header=header):
        return canonical
    try:
        edited = _round_trip_edit(old, current, document)
        if parse_yaml(edited.encode("utf-8"), "") == document:
            return edited
    except Exception:  # any surprise in the round trip: write canonically
        pass
    return canonical


def _round_trip_edit(old: str, current: dict[str, Any], document: dict[str, Any]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never fold a long description
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.representer.ignore_aliases = lambda *_: True
    tree = yaml.load(old)
    _merge(tree, current, document)
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


def _merge(node: Any, current: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Change round-trip mapping ``node`` (which reads as ``current``) to read as ``wanted``."""
    for key in [k for k in current if k not in wanted]:
        _keep_comments_below(node, key)
        del node[key]
    for index, (key, value) in enumerate(wanted.items()):
        if key in current:
            old = current[key]
            if old == value and type(old) is type(value):
                continue
            if isinstance(old, dict) and isinstance(value, dict):
                _merge(node[key], old, value)
                continue
            styled = _styled(value)
            _restyle_comment(node, key, _is_block(node[key]), _is_block(styled))
            node[key] = styled
        else:
            # A new key goes after the wanted key before it, wherever that sits.
            before = [k for k in list(wanted)[:index] if k in node]
            position = list(node).index(before[-1]) + 1 if before else 0
            node.insert(position, key, _styled(value))


# The round-trip library keeps the comment lines below a key with that key's
# value (after its inline comment, if any). After a plain scalar the token starts
# with the rest of the value's line ("\n" or an inline comment); after a block
# scalar, whose text ends with its own line break, it starts on a fresh line.


def _is_block(value: Any) -> bool:
    from ruamel.yaml.scalarstring import LiteralScalarString

    return isinstance(value, LiteralScalarString)


def _restyle_comment(node: Any, key: str, was_block: bool, now_block: bool) -> None:
    token = _comment_after(node, key)
    if token is None or was_block == now_block:
        return
    if now_block and token.value.startswith("\n"):
        token.value = token.value[1:]
    elif was_block:
        token.value = "\n" + token.value


def _comment_after(node: Any, key: Any) -> Any:
    entry = node.ca.items.get(key)
    return entry[2] if entry is not None and len(entry) > 2 else None


def _keep_comments_below(node: Any, key: str) -> None:
    """Move the whole-line comments kept with ``key`` to the key before it, which stays."""
    token = _comment_after(node, key)
    keys = list(node)
    if token is None or keys.index(key) == 0:
        return
    text = token.value
    if not _is_block(node[key]):  # drop the rest of the deleted key's own line
        text = text.split("\n", 1)[1] if "\n" in text else ""
    if not text.strip():
        return
    # The lines now follow the previous key's value, or the last leaf inside it.
    target, prev = node, keys[keys.index(key) - 1]
    while isinstance(target[prev], dict) and len(target[prev]) > 0 and prev != key:
        target = target[prev]
        prev = list(target)[-1]
    if isinstance(target[prev], list | dict):
        return  # after a list or an empty mapping: no safe place to keep them
    before = _comment_after(target, prev)
    if before is not None:
        before.value += text
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    lead = "" if _is_block(target[prev]) else "\n"
    target.ca.items[prev] = [None, None, CommentToken(lead + text, CommentMark(0), None), None]


def _styled(value: Any) -> Any:
    """``value`` as round-trip nodes that render the way :func:`dump_yaml` would."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import (
        DoubleQuotedScalarString,
        LiteralScalarString,
        PlainScalarString,
        SingleQuotedScalarString,
    )

    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _styled(item)
        return mapping
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_styled(item) for item in value)
        if all(isinstance(item, int | float | bool) for item in value) and len(value) <= 16:
            seq.fa.set_flow_style()  # dump_yaml writes short lists of numbers inline
        return seq
    if isinstance(value, str):
        # Quote exactly where the canonical writer does, so no reader types it otherwise.
        written = dump_yaml(value)
        if written.startswith('"'):
            return DoubleQuotedScalarString(value)
        if written.startswith("'"):
            return SingleQuotedScalarString(value)
        if written.startswith("|"):
            return LiteralScalarString(value)
        # Marked plain too: assigning a bare str over a quoted value keeps its old quotes.
        return PlainScalarString(value)
    return value
