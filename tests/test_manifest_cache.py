"""The manifest cache makes ``validate`` faster and never changes its answer."""

from __future__ import annotations

import marshal

import pytest

from modelreg.api import validate
from modelreg.validation.manifest_cache import ManifestCache, cache_file
from tests import builders
from tests.conftest import RegistryFactory, Workspace


@pytest.fixture
def registry(make_registry: RegistryFactory) -> Workspace:
    return make_registry(
        {"digits": 3},
        models={"digits": {"card": builders.CARD}},
        stages={"digits": {"production": 2}},
        message="three versions",
    )


def entries(ws: Workspace) -> dict[bytes, object]:
    file = cache_file(ws.root)
    assert file is not None
    return ManifestCache.open(ws.root).entries if file.exists() else {}


def test_a_warm_run_answers_like_a_cold_one(registry: Workspace) -> None:
    cold = validate(registry.root, offline=True)
    assert len(entries(registry)) == 5  # model.yaml, three versions, one pointer
    warm = validate(registry.root, offline=True)
    uncached = validate(registry.root, offline=True, cache=False)
    assert cold.ok and cold.findings == warm.findings == uncached.findings == ()
    assert cold.files_checked == warm.files_checked == uncached.files_checked


def test_an_edited_file_is_checked_again(registry: Workspace) -> None:
    validate(registry.root, offline=True)
    version = registry.root / "registry/digits/versions/2.yaml"
    version.write_text(version.read_text().replace("version: 2", "version: 7"))

    report = validate(registry.root, offline=True)

    assert [(f.code, f.path) for f in report.findings if f.severity == "error"] == [
        ("version-mismatch", "registry/digits/versions/2.yaml")
    ]
    broken = registry.root / "registry/digits/versions/3.yaml"
    broken.write_text(broken.read_text().replace("metrics:", "metrix:"))
    report = validate(registry.root, offline=True)
    assert any(f.field == "metrix" and f.line > 0 for f in report.findings)
    # A file with findings is never cached: fixing it must be seen, and breaking it again.
    assert validate(registry.root, offline=True).findings == report.findings


def test_a_damaged_or_foreign_cache_is_ignored(registry: Workspace) -> None:
    validate(registry.root, offline=True)
    file = cache_file(registry.root)
    assert file is not None and file.is_file()
    good = file.read_bytes()

    file.write_bytes(good[: len(good) // 2])  # cut short
    assert validate(registry.root, offline=True).ok
    # A cache whose payload was swapped (valid marshal, wrong checksum) is not trusted.
    header = good[: good.index(b"\n") + 1 + 16]
    forged = marshal.dumps({ManifestCache.key("version", b"x"): {"forged": True}})
    file.write_bytes(header + b"\0" * 16 + forged)
    assert ManifestCache.open(registry.root).entries == {}
    assert validate(registry.root, offline=True).ok


def test_entries_follow_the_registry(registry: Workspace) -> None:
    validate(registry.root, offline=True)
    before = set(entries(registry))
    (registry.root / "registry/digits/stages/production.yaml").unlink()
    validate(registry.root, offline=True)
    assert len(set(entries(registry))) == len(before) - 1
    assert validate(registry.root, offline=True, cache=False).ok


def test_no_cache_is_written_when_asked(registry: Workspace) -> None:
    validate(registry.root, offline=True, cache=False)
    file = cache_file(registry.root)
    assert file is not None and not file.exists()


def test_cli_no_cache(registry: Workspace, cli: object) -> None:
    from click.testing import CliRunner

    from modelreg.cli import cli as cli_group

    assert isinstance(cli, CliRunner)
    done = cli.invoke(
        cli_group, ["--repo", str(registry.root), "validate", "--offline", "--no-cache"]
    )
    assert done.exit_code == 0, done.output
    assert done.output.startswith("ok: the registry is valid")
    file = cache_file(registry.root)
    assert file is not None and not file.exists()
    cli.invoke(cli_group, ["--repo", str(registry.root), "validate", "--offline"])
    assert file.exists()
