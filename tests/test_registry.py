"""The read API and model references, in the working tree and at git revisions."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg.api import Registry
from modelreg.core.errors import ManifestError, NotFoundError, ReferenceSyntaxError
from modelreg.core.layout import name_problem
from modelreg.core.refs import ModelRef, parse_ref
from modelreg.core.semver import SemVer
from tests import builders
from tests.conftest import RegistryFactory, Workspace


@pytest.mark.parametrize(
    ("text", "model", "selector", "version", "pointer", "legacy"),
    [
        ("digits", "digits", "model", None, None, False),
        ("digits/3", "digits", "version", 3, None, False),
        ("digits/latest", "digits", "latest", None, None, False),
        ("digits/Latest", "digits", "latest", None, None, False),
        ("digits@production", "digits", "pointer", None, "production", False),
        ("digits@champion", "digits", "pointer", None, "champion", False),
        ("digits/Production", "digits", "pointer", None, "Production", True),
        ("models:/digits/3", "digits", "version", 3, None, False),
        ("models:/digits@production", "digits", "pointer", None, "production", False),
        ("models:/CatDogClassifier/Staging", "CatDogClassifier", "pointer", None, "Staging", True),
        ("  digits/2  ", "digits", "version", 2, None, False),
    ],
)
def test_reference_forms(
    text: str, model: str, selector: str, version: int | None, pointer: str | None, legacy: bool
) -> None:
    ref = parse_ref(text)
    assert (ref.model, ref.selector, ref.version, ref.pointer, ref.legacy_stage) == (
        model,
        selector,
        version,
        pointer,
        legacy,
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "it is empty"),
        ("models:/", "it is empty"),
        ("models:digits/1", "MLflow references start with 'models:/'"),
        ("digits/0", "version numbers start at 1"),
        ("digits/v3", "versions are plain numbers; did you mean 'digits/3'?"),
        ("digits#prod", "'#' is GTO's syntax; did you mean 'digits@prod'?"),
        ("digits@", "a stage or alias name must follow '@'"),
        ("digits@a/b", "a stage or alias name must follow '@'"),
        ("digits/1/2", "expected one '/' followed by a version number, 'latest' or a stage"),
        ("../etc@x", "'../etc' is not a valid model name"),
        ("/3", "the model name is missing"),
        ("di gits/1", "'di gits' is not a valid model name"),
        ("digits/-1", "'-1' is neither a version number, 'latest', nor a stage name"),
    ],
)
def test_malformed_references_say_what_to_write(text: str, why: str) -> None:
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_ref(text)
    message = str(caught.value)
    assert message.startswith(f"{text!r} is not a model reference: {why}")
    assert message.endswith("; write NAME, NAME/3, NAME/latest or NAME@stage")


@pytest.mark.parametrize(
    ("text", "canonical", "semver"),
    [
        ("  models:/digits/2 ", "digits/2", None),
        ("digits/LATEST", "digits/latest", None),
        ("models:/CatDogClassifier/Staging", "CatDogClassifier@Staging", None),
        ("digits@v1.2.0-rc.1", "digits@v1.2.0-rc.1", SemVer(1, 2, 0, ("rc", "1"))),
        ("models:/digits/V2.0.0", "digits@v2.0.0", SemVer(2, 0, 0)),
        ("digits@latest", "digits@latest", None),  # after '@', a stage or alias name
    ],
)
def test_references_print_in_their_canonical_form(
    text: str, canonical: str, semver: SemVer | None
) -> None:
    ref = parse_ref(text)
    assert ref.raw == text and str(ref) == canonical and ref.semver == semver
    assert _fields(parse_ref(canonical)) == _fields(ref)


def _fields(ref: ModelRef) -> tuple[object, ...]:
    """What a reference names, whichever way it was written."""
    return (ref.model, ref.selector, ref.version, ref.pointer, ref.semver)


_MODEL_NAMES = st.from_regex(
    r"[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9])?", fullmatch=True
).filter(lambda name: name_problem("model", name) is None)
_SEMVERS = st.builds(
    SemVer,
    st.integers(0, 999),
    st.integers(0, 999),
    st.integers(0, 999),
    st.lists(st.sampled_from(["rc", "1", "alpha", "0", "beta-2", "x1"]), max_size=2).map(tuple),
)
_STAGES = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,31}", fullmatch=True).filter(
    lambda rest: rest.lower() != "latest" and not re.fullmatch(r"[vV][0-9]+", rest)
)


@st.composite
def written_refs(draw: st.DrawFn) -> tuple[str, ModelRef]:
    """A reference as someone writes it, and the reference it must parse to."""
    model = draw(_MODEL_NAMES)
    form = draw(st.sampled_from(["model", "version", "latest", "pointer", "legacy", "semver"]))
    if form == "model":
        text, expected = model, ModelRef("", model, "model")
    elif form == "version":
        number = draw(st.integers(1, 10**9))
        text, expected = f"{model}/{number}", ModelRef("", model, "version", version=number)
    elif form == "latest":
        latest = "".join(draw(st.sampled_from([c, c.upper()])) for c in "latest")
        text, expected = f"{model}/{latest}", ModelRef("", model, "latest")
    elif form == "pointer":
        name = draw(st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
        text, expected = f"{model}@{name}", ModelRef("", model, "pointer", pointer=name)
    elif form == "legacy":
        stage = draw(_STAGES)
        text = f"{model}/{stage}"
        expected = ModelRef("", model, "pointer", pointer=stage, legacy_stage=True)
    else:
        semver = draw(_SEMVERS)
        text = f"{model}{draw(st.sampled_from(['@', '/']))}{draw(st.sampled_from('vV'))}{semver}"
        expected = ModelRef("", model, "semver", semver=semver)
    prefix = draw(st.sampled_from(["", "models:/"]))
    space = draw(st.sampled_from(["", " ", "\t"]))
    return f"{space}{prefix}{text}{space}", expected


@settings(max_examples=500, deadline=None)
@given(written_refs())
def test_written_references_parse_to_what_they_name(case: tuple[str, ModelRef]) -> None:
    text, expected = case
    ref = parse_ref(text)
    assert ref == dataclasses.replace(expected, raw=text)
    canonical = str(ref)
    again = parse_ref(canonical)  # the canonical form names the same thing, in modern syntax
    assert _fields(again) == _fields(ref) and not again.legacy_stage
    assert str(again) == canonical and canonical == canonical.strip()


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_parse_ref_never_crashes(text: str) -> None:
    try:
        ref = parse_ref(text)
    except ReferenceSyntaxError as exc:
        assert "\n" not in str(exc).replace(repr(text), "")
        return
    assert ref.model and "/" not in ref.model and "@" not in ref.model
    assert ref.raw == text
    again = parse_ref(str(ref))  # the canonical form parses, to the same reference
    assert _fields(again) == _fields(ref) and str(again) == str(ref)


@pytest.fixture
def registry_repo(make_registry: RegistryFactory) -> Workspace:
    """digits 1-4 (3 deprecated), production -> 2 (retired 1), staging -> 4, alias champion -> 2."""
    deprecated = "2026-02-01T00:00:00Z"
    digits = {n: {} for n in (1, 2, 4)} | {
        3: {"deprecation": {"date": deprecated, "reason": "bad"}},
        5: {"deprecation": {"date": deprecated}},
    }
    since = "2026-01-20T10:00:00Z"
    production = {"version": 2, "previous": 1, "retired": [1], "since": since, "reason": "better"}
    return make_registry(
        {"digits": digits, "other": 1},
        models={"digits": {"description": "Digits", "owners": ["@ml-team"]}},
        stages={
            "digits": {
                "production": production,
                "staging": {"version": 4, "canary": {"version": 1, "weight": 0.1}},
            }
        },
        aliases={"digits": {"champion": 2}},
        message="registry",
    )


@pytest.mark.parametrize(
    ("ref", "version", "via"),
    [
        ("digits/1", 1, "version"),
        ("digits/3", 3, "version"),  # deprecated versions stay readable by number
        ("digits", 4, "latest"),  # 5 is deprecated
        ("digits/latest", 4, "latest"),
        ("digits@production", 2, "stage"),
        ("digits@Production", 2, "stage"),
        ("models:/digits/Production", 2, "stage"),
        ("digits/staging", 4, "stage"),
        ("digits@champion", 2, "alias"),
        ("digits/Archived", 1, "archived"),
    ],
)
def test_resolve(registry_repo: Workspace, ref: str, version: int, via: str) -> None:
    for rev in (None, "HEAD"):  # the working tree and the committed revision agree
        with Registry.open(registry_repo.root, rev=rev) as registry:
            resolution = registry.resolve(ref)
            assert (resolution.version.version, resolution.via) == (version, via)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("digits/9", "model 'digits' has no version 9; it has versions 1-5"),
        ("digit/1", "no model named 'digit' in the working tree; did you mean 'digits'?"),
        ("Digits/1", "no model named 'Digits' in the working tree; did you mean 'digits'?"),
        ("zzz/1", "no model named 'zzz' in the working tree (models: digits, other)"),
        (
            "digits@prod",
            "'digits' has no stage or alias 'prod'; did you mean 'production'? "
            "(stages: staging, production; aliases: champion)",
        ),
        ("digits/champion", "'digits' has no stage 'champion' (stages: staging, production)"),
        (
            "other@production",
            "no version of 'other' is in production; promote one with "
            "'modelreg promote other VERSION --to production'",
        ),
        ("other/archived", "no version of 'other' is archived"),
    ],
)
def test_resolve_errors_explain(registry_repo: Workspace, ref: str, message: str) -> None:
    with Registry.open(registry_repo.root) as registry, pytest.raises(NotFoundError) as caught:
        registry.resolve(ref)
    assert str(caught.value) == message


def test_status_shows_stages_aliases_canaries_and_archive(registry_repo: Workspace) -> None:
    with Registry.open(registry_repo.root) as registry:
        status = registry.status("digits")
    assert status[2].stages == ("production",) and status[2].aliases == ("champion",)
    assert status[4].label == "staging"
    assert status[1].archived and status[1].canary_in == ("staging",)
    assert status[1].label == "archived"
    assert 3 not in status


def test_reading_at_an_older_revision(registry_repo: Workspace) -> None:
    root = registry_repo.root
    old = registry_repo.git("rev-parse", "HEAD").strip()
    builders.write_pointer(root, "digits", "production", 4, previous=2, retired=[1, 2])
    builders.write_version(root, "digits", 6)
    registry_repo.commit_all("promote 4")
    with Registry.open(root, rev=old) as registry:
        assert registry.resolve("digits@production").version.version == 2
        assert registry.version_numbers("digits") == [1, 2, 3, 4, 5]
    with Registry.open(root, rev="main") as registry:
        assert registry.resolve("digits@production").version.version == 4
        assert registry.version_numbers("digits") == [1, 2, 3, 4, 5, 6]
    with pytest.raises(Exception, match="unknown revision 'v9'"):
        Registry.open(root, rev="v9")


def test_reading_refuses_invalid_files_with_the_first_problem(registry_repo: Workspace) -> None:
    path = registry_repo.root / "registry/digits/versions/2.yaml"
    path.write_text(path.read_text().replace("size: 28", "size: big").replace("author", "autor"))
    with Registry.open(registry_repo.root) as registry, pytest.raises(ManifestError) as caught:
        registry.resolve("digits@production")
    assert str(caught.value) == (
        "registry/digits/versions/2.yaml:5: autor: unknown field; did you mean 'author'? "
        "(and 1 more problems; run 'modelreg validate')"
    )


def test_pointer_to_missing_version_is_reported_not_crashed(registry_repo: Workspace) -> None:
    builders.write_pointer(registry_repo.root, "digits", "production", 42)
    with Registry.open(registry_repo.root) as registry, pytest.raises(ManifestError) as caught:
        registry.resolve("digits@production")
    assert str(caught.value) == (
        "registry/digits/stages/production.yaml: version: points at version 42, which does not "
        "exist; run 'modelreg validate' and fix the pointer"
    )


def test_git_symlink_out_of_the_repository_is_refused(offline_registry: Workspace) -> None:
    root = offline_registry.root
    builders.write_version(root, "digits", 1)
    link = root / "registry/digits/stages/production.yaml"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../../../../../etc/passwd")
    offline_registry.commit_all("a hostile link")
    with Registry.open(root, rev="HEAD") as registry, pytest.raises(ManifestError) as caught:
        registry.pointer("digits", "production")
    assert "outside the repository; replace it with the file" in str(caught.value)


def test_no_registry_here(empty_repo: Path) -> None:
    with Registry.open(empty_repo) as registry, pytest.raises(NotFoundError) as caught:
        registry.model_names()
        registry.config  # noqa: B018
    assert "registry/registry.yaml is missing; run 'modelreg init'" in str(caught.value)


def test_outside_a_git_repository(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="is not inside a git repository; run 'git init' there"):
        Registry.open(tmp_path)
