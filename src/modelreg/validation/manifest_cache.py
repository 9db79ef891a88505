"""Manifests already parsed and found schema-valid, remembered by their content.

A full ``validate`` reads every manifest; parsing the YAML and checking it against
its schema is most of its time, and merged versions never change. So ``validate``
keeps, under ``.git/modelreg/``, the parsed document of every file that passed
both, keyed by a hash of the schema kind and the file's exact bytes. A file whose
bytes are in the cache skips both steps and gets the same document; anything else
(a new or edited file, a file with findings) is parsed and checked as always.

The key is the content, not a path or a timestamp, so an edit can never be
mistaken for the cached file. The cache is tied to the schemas and to modelreg's
version: when either changes it starts empty. It is a convenience: a missing,
unreadable or damaged cache means parsing again, never a different answer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from modelreg import __version__
from modelreg.core.schema import schema_text
from modelreg.core.yaml_io import write_bytes_atomic

__all__ = ["ManifestCache", "cache_file"]

_FORMAT = b"modelreg-manifests/1\n"
_KINDS = ("registry", "model", "version", "pointer")
_MAX_ENTRIES = 500_000


@functools.cache
def _fingerprint() -> bytes:
    """What a cached answer depends on: the schemas and the code that parses and checks."""
    from modelreg.core import schema as _schema
    from modelreg.core import yaml_io as _yaml

    digest = hashlib.blake2b(_FORMAT + __version__.encode(), digest_size=16)
    for kind in _KINDS:
        digest.update(schema_text(kind).encode())
    for module in (_yaml, _schema):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.digest()


def cache_file(root: Path) -> Path | None:
    """Where the cache of the repository at ``root`` lives; None where there is no
    plain .git folder (a linked worktree or submodule simply goes uncached)."""
    dot_git = root / ".git"
    return dot_git / "modelreg" / "manifests.marshal" if dot_git.is_dir() else None


class ManifestCache:
    """Parsed documents by content key; lookups record which keys were used."""

    def __init__(self, file: Path | None, entries: dict[bytes, Any] | None = None) -> None:
        self.file = file
        self.entries: dict[bytes, Any] = entries or {}
        self.used: set[bytes] = set()
        self.new: dict[bytes, Any] = {}

    @classmethod
    def open(cls, root: Path) -> ManifestCache:
        file = cache_file(root)
        if file is None:
            return cls(None)
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
            data = file.read_bytes()
            header = _FORMAT + _fingerprint()
            if data.startswith(header):
                body = data[len(header) :]
                checksum, payload = body[:16], body[16:]
                if hashlib.blake2b(payload, digest_size=16).digest() == checksum:
                    entries = marshal.loads(payload)
                    if isinstance(entries, dict):
                        return cls(file, entries)
        return cls(file)

    @staticmethod
    def key(kind: str, data: bytes) -> bytes:
        return hashlib.blake2b(kind.encode() + b"\0" + data, digest_size=16).digest()

    def get(self, key: bytes) -> Any:
        """The cached document for ``key``, or None."""
        document = self.entries.get(key)
        if document is not None:
            self.used.add(key)
        return document

    def put(self, key: bytes, document: Any) -> None:
        self.new[key] = document
        self.used.add(key)

    def save(self, used: Iterable[bytes], new: dict[bytes, Any]) -> None:
        """Keep what a full run used and ``new`` documents; entries no file used are
        dropped, so the cache follows the registry as it changes."""
        if self.file is None:
            return
        kept = {k: self.entries[k] for k in set(used) if k in self.entries}
        kept.update(new)
        if kept.keys() == self.entries.keys() or len(kept) > _MAX_ENTRIES:
            return
        payload = marshal.dumps(kept)
        checksum = hashlib.blake2b(payload, digest_size=16).digest()
        # A read-only repository cannot keep the cache; validate still works, uncached.
        with contextlib.suppress(OSError):
            write_bytes_atomic(self.file, _FORMAT + _fingerprint() + checksum + payload)
