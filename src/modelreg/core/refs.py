"""Parsing model references, as MLflow and GTO users write them.

    NAME                the model (``resolve`` picks its latest version)
    NAME/3              version 3
    NAME/latest         the newest version that is not deprecated
    NAME@production     the version a stage (any case) or an alias points at
    NAME/Production     MLflow's legacy stage form, the same as NAME@production
    NAME@v1.2.3         the version whose ``semver`` is 1.2.3 (also NAME/v1.2.3)

Each may carry MLflow's ``models:/`` prefix. Parsing checks only the shape;
whether the stage or alias exists is the registry's question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from modelreg.core.errors import ModelregError, ReferenceSyntaxError
from modelreg.core.layout import name_problem
from modelreg.core.semver import SemVer, semver_of_ref

__all__ = ["ModelRef", "parse_ref"]

_PREFIX = "models:/"
_NUMBER = re.compile(r"[0-9]+\Z")

Selector = Literal["model", "version", "latest", "pointer", "semver"]


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference. ``selector`` says which of the other fields matter."""

    raw: str
    model: str
    selector: Selector
    version: int | None = None
    pointer: str | None = None  # a stage or alias name, as written
    legacy_stage: bool = False  # written NAME/Stage rather than NAME@stage
    semver: SemVer | None = None  # the semantic version NAME@v1.2.3 names

    def __str__(self) -> str:
        if self.selector == "version":
            return f"{self.model}/{self.version}"
        if self.selector == "semver":
            return f"{self.model}@v{self.semver}"
        if self.selector == "latest":
            return f"{self.model}/latest"
        if self.selector == "pointer":
            return f"{self.model}@{self.pointer}"
        return self.model


def _fail(raw: str, why: str) -> ReferenceSyntaxError:
    return ReferenceSyntaxError(
        f"{raw!r} is not a model reference: {why}; write NAME, NAME/3, NAME/latest or NAME@stage"
    )


def parse_ref(raw: str) -> ModelRef:
    """Parse ``raw``; :class:`ReferenceSyntaxError` says what is wrong and what to write."""
    text = raw.strip()
    if text.startswith(_PREFIX):
        text = text[len(_PREFIX) :]
    elif text.startswith("models:"):
        raise _fail(raw, "MLflow references start with 'models:/'")
    if not text:
        raise _fail(raw, "it is empty")
    if "#" in text:
        model, _, rest = text.partition("#")
        suggestion = f"{model}@{rest.split('#')[0]}"
        if suggestion.isprintable() and not any(ch.isspace() for ch in suggestion):
            raise _fail(raw, f"'#' is GTO's syntax; did you mean '{suggestion}'?")
        raise _fail(raw, "'#' is GTO's syntax; name a stage as NAME@stage")

    if "@" in text:
        model, _, pointer = text.partition("@")
        _check_model(raw, model)
        if not pointer or "/" in pointer or "@" in pointer:
            raise _fail(raw, "a stage or alias name must follow '@'")
        semver = _semver(raw, model, pointer)
        if semver is not None:
            return ModelRef(raw, model, "semver", semver=semver)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", pointer):
            raise _fail(raw, f"{pointer!r} is not a stage or alias name")
        return ModelRef(raw, model, "pointer", pointer=pointer)

    if "/" in text:
        model, _, rest = text.partition("/")
        _check_model(raw, model)
        if not rest or "/" in rest:
            raise _fail(raw, "expected one '/' followed by a version number, 'latest' or a stage")
        if _NUMBER.match(rest):
            number = int(rest)
            if number < 1:
                raise _fail(raw, "version numbers start at 1")
            return ModelRef(raw, model, "version", version=number)
        if rest.lower() == "latest":
            return ModelRef(raw, model, "latest")
        semver = _semver(raw, model, rest)
        if semver is not None:
            return ModelRef(raw, model, "semver", semver=semver)
        if re.fullmatch(r"[vV][0-9]+", rest):
            raise _fail(raw, f"versions are plain numbers; did you mean '{model}/{rest[1:]}'?")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,31}", rest):
            raise _fail(raw, f"{rest!r} is neither a version number, 'latest', nor a stage name")
        return ModelRef(raw, model, "pointer", pointer=rest, legacy_stage=True)

    _check_model(raw, text)
    return ModelRef(raw, text, "model")


def _semver(raw: str, model: str, selector: str) -> SemVer | None:
    """The semver ``v1.2.3`` names; None when ``selector`` is not shaped like one."""
    try:
        found = semver_of_ref(selector)
    except ModelregError as exc:
        why = str(exc).removeprefix("reference: ")
        raise ReferenceSyntaxError(f"{raw!r} is not a model reference: {why}") from None
    if found is None and re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", selector):
        raise ReferenceSyntaxError(
            f"{raw!r} is not a model reference: a semantic version is written with a 'v'; "
            f"did you mean '{model}@v{selector}'?"
        )
    return found


def _check_model(raw: str, model: str) -> None:
    if not model:
        raise _fail(raw, "the model name is missing")
    problem = name_problem("model", model)
    if problem:
        raise _fail(raw, problem)
