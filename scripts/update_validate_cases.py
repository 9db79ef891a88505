"""Rewrite the expected findings of validation cases (tests/cases/validate/<case>/expected.txt).

    .venv/bin/python -m scripts.update_validate_cases [CASE...]

Run it after changing a rule's wording or adding a case, then read every diff before
committing it: the test that checks a case never writes it, so a wrong message can
only reach main through a reviewed change of its expected file. Comment lines
(``# ...``) in an expected file are kept at its top.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from modelreg.api import validate
from tests.test_validate_cases import CASES, apply_case, build_base


def update(case: str) -> bool:
    """Write ``case``'s expected file from what validate reports now; True if it changed."""
    case_dir = CASES / case
    with tempfile.TemporaryDirectory(prefix="modelreg-case-") as scratch:
        root = Path(scratch)
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        identity = ["-c", "user.name=cases", "-c", "user.email=cases@example.com"]
        subprocess.run(
            ["git", *identity, "commit", "-q", "--allow-empty", "-m", "start"], cwd=root, check=True
        )
        build_base(root)
        apply_case(root, case_dir)
        found = [finding.render() for finding in validate(root, offline=True).findings]
    expected = case_dir / "expected.txt"
    old = expected.read_text() if expected.exists() else ""
    comments = [line for line in old.splitlines() if line.startswith("#")]
    new = "".join(f"{line}\n" for line in [*comments, *found])
    if new == old:
        return False
    expected.write_text(new)
    return True


def main(argv: list[str]) -> int:
    cases = argv or sorted(p.name for p in CASES.iterdir())
    for case in cases:
        if not (CASES / case).is_dir():
            print(f"no such case: {case}", file=sys.stderr)
            return 1
        if update(case):
            print(f"rewrote {CASES / case / 'expected.txt'}: read its diff before committing")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
