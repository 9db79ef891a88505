"""Every validation rule, as data: ``tests/cases/validate/<case>/``.

Each case starts from the same valid registry (model ``digits``: versions 1-3,
production -> 2, staging -> 3, alias ``champion`` -> 2), then

* copies the files under ``<case>/tree/`` over it,
* deletes the paths listed in ``<case>/remove.txt``,

and expects ``validate --offline`` to report exactly the lines of
``<case>/expected.txt`` (``# comments`` allowed), in order, without writing
anything. This test never writes a case: after changing a rule's wording,
``python -m scripts.update_validate_cases`` rewrites the expected files (then read
every diff before committing it).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from modelreg.api import validate
from tests import builders

CASES = Path(__file__).parent / "cases" / "validate"


def build_base(root: Path) -> None:
    builders.write_config(root)
    builders.write_model(
        root, "digits", description="Digits classifier", owners=["@ml-team"], card=builders.CARD
    )
    for number in (1, 2, 3):
        builders.write_version(root, "digits", number)
    builders.write_pointer(
        root, "digits", "production", 2, since=builders.CREATED, previous=1, retired=[1]
    )
    builders.write_pointer(root, "digits", "staging", 3)
    builders.write_alias(root, "digits", "champion", 2)


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def expected_lines(case: Path) -> list[str]:
    text = (case / "expected.txt").read_text() if (case / "expected.txt").exists() else ""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def apply_case(root: Path, case: Path) -> None:
    tree = case / "tree"
    if tree.is_dir():
        for source in sorted(tree.rglob("*")):
            if source.is_file():
                target = root / source.relative_to(tree)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    removals = case / "remove.txt"
    if removals.exists():
        for line in removals.read_text().splitlines():
            if line.strip():
                target = root / line.strip()
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink()


def test_base_registry_is_valid(empty_repo: Path) -> None:
    build_base(empty_repo)
    report = validate(empty_repo, offline=True)
    assert report.findings == ()
    assert report.ok


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()), ids=str)
def test_validation_case(case: str, empty_repo: Path, modelreg_exe: str) -> None:
    case_dir = CASES / case
    build_base(empty_repo)
    apply_case(empty_repo, case_dir)
    before = snapshot(empty_repo)

    report = validate(empty_repo, offline=True)
    found = [finding.render() for finding in report.findings]
    assert found == expected_lines(case_dir)
    assert snapshot(empty_repo) == before, "validate must never write"

    # The installed command, as CI runs it, prints the same lines on stdout and
    # exits 1 when any is an error (in-process CliRunner never saw it exit 0).
    done = subprocess.run(
        [modelreg_exe, "--repo", str(empty_repo), "validate", "--offline"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.stdout.splitlines()[: len(found)] == found
    assert done.returncode == (0 if report.ok else 1), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert report.ok == all(" warning: " in line for line in found)
    assert snapshot(empty_repo) == before, "validate must never write"
