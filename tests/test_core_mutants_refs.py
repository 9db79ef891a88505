"""Model references (modelreg.core.refs), exactly: every error message in full, the
limits of stage and alias names, and the canonical text of each reference.

Written to kill the mutants mutation testing left alive (make mutation).
"""

from __future__ import annotations

import pytest

from modelreg.core.errors import ReferenceSyntaxError
from modelreg.core.refs import ModelRef, parse_ref
from modelreg.core.semver import SemVer

WRITE = "; write NAME, NAME/3, NAME/latest or NAME@stage"


def message(text: str) -> str:
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_ref(text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("models:/", "it is empty"),
        ("models:digits", "MLflow references start with 'models:/'"),
        ("d#p#q", "'#' is GTO's syntax; did you mean 'd@p'?"),
        ("a#b c", "'#' is GTO's syntax; name a stage as NAME@stage"),
        ("a#b\x01", "'#' is GTO's syntax; name a stage as NAME@stage"),
        ("digits@", "a stage or alias name must follow '@'"),
        ("digits@x@y", "a stage or alias name must follow '@'"),
        ("digits@x/y", "a stage or alias name must follow '@'"),
        ("@prod", "the model name is missing"),
        ("digits@b c", "'b c' is not a stage or alias name"),
        ("digits@" + "a" * 65, f"{'a' * 65!r} is not a stage or alias name"),
        ("digits/", "expected one '/' followed by a version number, 'latest' or a stage"),
        ("digits/1/", "expected one '/' followed by a version number, 'latest' or a stage"),
        ("digits/00", "version numbers start at 1"),
        ("digits/V3", "versions are plain numbers; did you mean 'digits/3'?"),
        ("digits/3x", "'3x' is neither a version number, 'latest', nor a stage name"),
        ("digits/_a", "'_a' is neither a version number, 'latest', nor a stage name"),
        (
            "digits/A" + "b" * 32,
            f"{'A' + 'b' * 32!r} is neither a version number, 'latest', nor a stage name",
        ),
    ],
)
def test_each_malformed_reference_has_its_whole_message(text: str, why: str) -> None:
    assert message(text) == f"{text!r} is not a model reference: {why}{WRITE}"


def test_a_bad_model_name_is_reported_with_the_layout_rule() -> None:
    assert message("a b") == (
        "'a b' is not a model reference: 'a b' is not a valid model name: use letters, "
        "digits, '.', '_' and '-', starting and ending with a letter or digit, at most 64 "
        "characters" + WRITE
    )
    assert message("con@prod").startswith(
        "'con@prod' is not a model reference: 'con' is a reserved device name on Windows"
    )
    assert message("../x/1").startswith("'../x/1' is not a model reference: '..' is not a valid")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "digits@1.2.3",
            "a semantic version is written with a 'v'; did you mean 'digits@v1.2.3'?",
        ),
        (
            "digits/10.0.1",
            "a semantic version is written with a 'v'; did you mean 'digits@v10.0.1'?",
        ),
        (
            "digits/v1.2.3+b",
            "'v1.2.3+b' has build metadata ('+...'), which orders no version; "
            "write 1.2.3 and keep build details in tags",
        ),
        (
            "digits@v01.2.3",
            "'v01.2.3' is not a semantic version: write MAJOR.MINOR.PATCH with an optional "
            "-PRERELEASE, e.g. 1.2.0 or 2.0.0-rc.1 (numbers without leading zeros)",
        ),
    ],
)
def test_semver_mistakes_name_the_fix_without_the_generic_hint(text: str, why: str) -> None:
    assert message(text) == f"{text!r} is not a model reference: {why}"


def test_names_at_the_length_limits_parse() -> None:
    pointer = parse_ref("digits@" + "a" * 64)
    assert (pointer.selector, pointer.pointer, pointer.legacy_stage) == ("pointer", "a" * 64, False)
    assert parse_ref("digits@x").pointer == "x"
    assert parse_ref("digits@-_9").pointer == "-_9"
    legacy = parse_ref("digits/A" + "b" * 31)
    assert (legacy.selector, legacy.pointer, legacy.legacy_stage) == (
        "pointer",
        "Ab" + "b" * 30,
        True,
    )
    assert parse_ref("digits/Q").pointer == "Q"
    assert parse_ref("digits/a-_1").pointer == "a-_1"


def test_versions_are_decimal_numbers_from_one() -> None:
    assert parse_ref("digits/1").version == 1
    assert parse_ref("digits/007") == ModelRef("digits/007", "digits", "version", version=7)
    assert str(parse_ref("digits/007")) == "digits/7"


def test_parsed_references_keep_what_was_written_and_print_canonically() -> None:
    cases = {
        "digits": ModelRef("digits", "digits", "model"),
        "models:/digits/LaTeSt": ModelRef("models:/digits/LaTeSt", "digits", "latest"),
        "digits@Prod": ModelRef("digits@Prod", "digits", "pointer", pointer="Prod"),
        "digits/Prod": ModelRef(
            "digits/Prod", "digits", "pointer", pointer="Prod", legacy_stage=True
        ),
        "digits/v1.2.3": ModelRef("digits/v1.2.3", "digits", "semver", semver=SemVer(1, 2, 3)),
        "digits@V1.2.3": ModelRef("digits@V1.2.3", "digits", "semver", semver=SemVer(1, 2, 3)),
    }
    for text, expected in cases.items():
        assert parse_ref(text) == expected
    assert [str(parse_ref(t)) for t in cases] == [
        "digits",
        "digits/latest",
        "digits@Prod",
        "digits@Prod",
        "digits@v1.2.3",
        "digits@v1.2.3",
    ]


def test_the_defaults_of_a_reference_name_nothing_else() -> None:
    ref = ModelRef("x", "x", "model")
    assert (ref.version, ref.pointer, ref.legacy_stage, ref.semver) == (None, None, False, None)
