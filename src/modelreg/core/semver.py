"""Semantic versions of model versions (semver.org 2.0.0): parsing, order, bumps.

A version manifest may carry ``semver: MAJOR.MINOR.PATCH``, optionally with a
pre-release (``2.0.0-rc.1``). The integer version stays the identity (``NAME/3`` is
version 3); the semver is a second, human name for one version, so it is unique
and grows with the version number: each version's semver is greater than that of
every lower-numbered version (``modelreg validate`` checks it), and
``NAME@v1.2.3`` or ``models:/NAME/v1.2.3`` names the version carrying ``1.2.3``.

Build metadata (``1.2.3+build.5``) is refused: semver.org gives it no precedence,
so two versions differing only in it could not be ordered, and a version's build
details already live in its ``lineage`` (commit, data hash, run).

Bumps follow npm's ``semver.inc``, the rule most tools share: ``patch`` of
``1.2.3`` is ``1.2.4``, ``minor`` is ``1.3.0``, ``major`` is ``2.0.0``; a
pre-release is released by the bump that reaches it (``patch`` of ``1.2.4-rc.1`` is
``1.2.4``, ``minor`` of ``1.3.0-rc.1`` is ``1.3.0``). A model none of whose versions
has a semver bumps from ``0.0.0``: ``patch`` gives ``0.0.1`` (GTO's first
version), ``minor`` ``0.1.0`` and ``major`` ``1.0.0``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from modelreg.core.errors import InputError

__all__ = [
    "BUMPS",
    "MAX_LENGTH",
    "SEMVER_PATTERN",
    "Bump",
    "SemVer",
    "looks_like_semver",
    "order_problems",
    "semver_of_ref",
]

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("major", "minor", "patch")

MAX_LENGTH = 64
"""The longest semver a manifest may hold (numbers stay small; a reference stays short)."""

_NUMBER = r"(?:0|[1-9][0-9]*)"
_IDENTIFIER = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
SEMVER_PATTERN = rf"({_NUMBER})\.({_NUMBER})\.({_NUMBER})(?:-({_IDENTIFIER}(?:\.{_IDENTIFIER})*))?"
"""semver.org's grammar without build metadata, ASCII digits only (no anchors)."""

_SEMVER = re.compile(SEMVER_PATTERN + r"\Z")
_REF = re.compile(r"[vV](" + SEMVER_PATTERN + r")\Z")
_LOOSE = re.compile(r"[vV]?[0-9]+\.[0-9]+\.[0-9]+\S*\Z")


def _shown(text: str) -> str:
    """``text`` quoted for a one-line message: escaped, and clipped when long."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


@functools.total_ordering
@dataclass(frozen=True, eq=True)
class SemVer:
    """One semantic version; ordered by semver.org's precedence (rule 11)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, *, what: str = "semver", allow_v: bool = False) -> SemVer:
        """``text`` (``1.2.3``, ``2.0.0-rc.1``; with ``allow_v`` also ``v1.2.3``) as a
        SemVer, or :class:`InputError` naming ``what`` and how to write it."""
        if not isinstance(text, str):
            raise InputError(f"{what}: a semantic version is text such as 1.2.0")
        if len(text) > MAX_LENGTH + 1:
            raise InputError(
                f"{what}: {_shown(text)} is longer than {MAX_LENGTH} characters; "
                "write MAJOR.MINOR.PATCH, e.g. 1.2.0"
            )
        body = text[1:] if allow_v and text[:1] in ("v", "V") else text
        match = _SEMVER.match(body)
        if match is None or len(body) > MAX_LENGTH:
            if "+" in body and _SEMVER.match(body.partition("+")[0]):
                raise InputError(
                    f"{what}: {_shown(text)} has build metadata ('+...'), which orders no "
                    f"version; write {body.partition('+')[0]} and keep build details in tags"
                )
            hint = "" if allow_v or body[:1] not in ("v", "V") else ", without the leading 'v'"
            raise InputError(
                f"{what}: {_shown(text)} is not a semantic version: write MAJOR.MINOR.PATCH "
                f"with an optional -PRERELEASE, e.g. 1.2.0 or 2.0.0-rc.1{hint} "
                "(numbers without leading zeros)"
            )
        pre = match.group(4)
        return cls(
            int(match.group(1)),
            int(match.group(2)),
            int(match.group(3)),
            tuple(pre.split(".")) if pre else (),
        )

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(self.prerelease)}" if self.prerelease else core

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers sort numerically
        # and before alphanumeric ones, which sort in ASCII order; a longer list of
        # otherwise equal identifiers sorts later (tuple order does exactly that).
        ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, ids)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() < other._key()

    def bump(self, part: Bump) -> SemVer:
        """The next version after this one by ``part`` (npm's rule, see the module)."""
        if part == "major":
            released = self.prerelease and self.minor == 0 and self.patch == 0
            return SemVer(self.major if released else self.major + 1, 0, 0)
        if part == "minor":
            released = self.prerelease and self.patch == 0
            return SemVer(self.major, self.minor if released else self.minor + 1, 0)
        if part == "patch":
            return SemVer(self.major, self.minor, self.patch if self.prerelease else self.patch + 1)
        raise InputError(f"--bump {part!r}: use major, minor or patch")

    @classmethod
    def first(cls, part: Bump) -> SemVer:
        """A model's first semver: ``part`` bumped from 0.0.0."""
        return cls(0, 0, 0).bump(part)


def semver_of_ref(text: str) -> SemVer | None:
    """The semver a reference's selector names (``v1.2.3``, ``V2.0.0-rc.1``), None when
    ``text`` is not shaped like one; :class:`InputError` when it is shaped like one but
    is not valid (``v01.2.3``, ``v1.2.3+build``)."""
    if _REF.match(text):
        return SemVer.parse(text, what="reference", allow_v=True)
    if len(text) <= 2 * MAX_LENGTH and _LOOSE.match(text) and text[:1] in ("v", "V"):
        SemVer.parse(text, what="reference", allow_v=True)  # raises, saying why
    return None


def looks_like_semver(text: str) -> bool:
    """Whether ``text`` reads as a semver, with or without its ``v`` (``1.2.3``,
    ``v1.2``-and-more): such a name would be ambiguous as an alias."""
    return bool(_LOOSE.match(text)) if len(text) <= 2 * MAX_LENGTH else False


def order_problems(semvers: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """For ``(version number, semver)`` pairs in version-number order: each version
    whose semver is not greater than every semver before it, with the reason. Text
    that does not parse is skipped (the schema reports it)."""
    highest: tuple[SemVer, int] | None = None
    for number, text in semvers:
        try:
            current = SemVer.parse(text)
        except InputError:
            continue
        if highest is not None and not current > highest[0]:
            same = "equals" if current == highest[0] else "is lower than"
            yield (
                number,
                f"{current} {same} {highest[0]}, the semver of version {highest[1]}; "
                "semantic versions must increase with the version number: give this "
                f"version one greater than {highest[0]}",
            )
            continue
        highest = (current, number)
