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
import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import ClassVar

import pytest

from modelreg.api import validate
from modelreg.core.layout import CONFIG_PATH, REGISTRY_DIR, SCHEMAS_DIR
from modelreg.core.schema import schema_text
from modelreg.validation import checks
from tests import builders
from tests.conftest import git

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


# --- What the case files check only through their expected lines -------------------------
# A case compares rendered lines, which leave out each finding's code and some of what
# validate reports besides its findings; these tests pin those whole.


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def test_registry_config_findings_carry_their_codes(empty_repo: Path) -> None:
    build_base(empty_repo)
    (empty_repo / CONFIG_PATH).write_text(
        "schema_version: 1\n"
        "stages: [staging, production, latest]\n"
        "storage: {dvc_remote: nowhere}\n"
        "policies:\n"
        "  prod:\n"
        "    from: [staging]\n"
        "  staging:\n"
        "    require:\n"
        "      accuracy: {min: 0.5, max: 0.5}\n"
        "  production:\n"
        "    from: [candidate, none]\n"
        "    require:\n"
        "      accuracy: {min: 0.99, max: 0.9}\n"
    )
    commit_all(empty_repo, "a registry.yaml with problems")

    # offline: the DVC remote named under storage is not looked for; a policy without
    # from: and a bound with min equal to max are fine
    report = validate(empty_repo, offline=True, cache=False)
    config = CONFIG_PATH
    assert builders.finding_tuples(report) == [
        (
            "error",
            "stage-name",
            config,
            "stages[2]",
            "'latest' is reserved and cannot name a stage",
        ),
        (
            "error",
            "policy-stage",
            config,
            "policies.prod",
            "'prod' is not a declared stage (did you mean 'production'?); a policy applies to "
            "a stage listed under 'stages'",
        ),
        (
            "error",
            "policy-stage",
            config,
            "policies.production.from[0]",
            "'candidate' is not a declared stage; use a stage or 'none'",
        ),
        (
            "error",
            "policy-bound",
            config,
            "policies.production.require.accuracy",
            "min 0.99 is above max 0.9; no version could pass",
        ),
    ]


def test_unreadable_registry_config_is_reported_as_unreadable(empty_repo: Path) -> None:
    build_base(empty_repo)
    (empty_repo / CONFIG_PATH).unlink()
    (empty_repo / CONFIG_PATH).mkdir()
    (empty_repo / CONFIG_PATH / "stages.yaml").write_text("[staging]\n")
    commit_all(empty_repo, "registry.yaml a folder")

    report = validate(empty_repo, offline=True, cache=False)
    assert builders.finding_tuples(report) == [
        ("error", "unreadable", CONFIG_PATH, "", "is a folder, not a file")
    ]
    assert report.models_checked == 1


def test_registry_folder_entries_and_schemas(empty_repo: Path) -> None:
    build_base(empty_repo)
    registry = empty_repo / REGISTRY_DIR
    # sorts before every model folder: the models after it are still checked
    (registry / "0-notes.txt").write_text("notes\n")
    # a hidden folder is no model, and nothing to report
    (registry / ".cache").mkdir()
    (registry / ".cache" / "state").write_text("x\n")
    # KELVIN SIGN lower-cases to 'k': the folder collides with keras/
    kelvin = "\u212aeras"
    builders.write_model(empty_repo, "keras")
    (registry / kelvin).mkdir()
    (registry / kelvin / "README").write_text("x\n")
    # registry.schema.json absent, model's current, version's stale and not UTF-8
    schemas = empty_repo / SCHEMAS_DIR
    schemas.mkdir()
    (schemas / "model.schema.json").write_text(schema_text("model"))
    (schemas / "version.schema.json").write_bytes(b'{"\xff": 1}\n')
    commit_all(empty_repo, "registry/ with stray entries")

    report = validate(empty_repo, offline=True, cache=False)
    assert builders.finding_tuples(report) == [
        (
            "warning",
            "stale-schema",
            f"{SCHEMAS_DIR}/version.schema.json",
            "",
            "differs from the schema this modelreg checks with; run 'modelreg init' to refresh it",
        ),
        (
            "error",
            "unexpected-file",
            "registry/0-notes.txt",
            "",
            "is not part of the registry; registry/ holds registry.yaml and one folder per model",
        ),
        (
            "error",
            "model-name",
            f"registry/{kelvin}",
            "",
            f"'{kelvin}' is not a valid model name: use letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit, at most 64 characters; rename the folder",
        ),
        (
            "error",
            "model-name-case",
            f"registry/{kelvin}",
            "",
            "differs from 'keras' only in case, which collides on macOS and Windows; rename one",
        ),
        (
            "error",
            "unexpected-file",
            f"registry/{kelvin}/README",
            "",
            "is not part of a model folder, which holds model.yaml, versions/, stages/, "
            "aliases/ and artifacts/; move it elsewhere",
        ),
        (
            "error",
            "missing-model-file",
            f"registry/{kelvin}/model.yaml",
            "",
            f"is missing; every model folder needs one (at least 'name: {kelvin}')",
        ),
    ]
    assert report.models_checked == 3


def test_validate_defaults_report_and_manifest_cache(
    empty_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_base(empty_repo)
    commit_all(empty_repo, "base registry")
    monkeypatch.chdir(empty_repo)
    cache = empty_repo / ".git" / "modelreg" / "manifests.marshal"

    report = validate(offline=True, cache=False)  # the repository of the working directory
    assert (report.findings, report.scope, report.base) == ((), "full", None)
    assert (report.files_checked, report.models_checked, report.offline) == (8, 1, True)
    assert not cache.exists(), "cache=False keeps no manifests"

    # not offline, without DVC: the artifacts cannot be checked
    report = validate(cache=False)
    assert builders.finding_tuples(report) == [
        (
            "error",
            "dvc-missing",
            ".dvc",
            "",
            "DVC is not initialised, so no artifact can be checked; run 'modelreg init', "
            "or pass --offline",
        )
    ]
    assert not cache.exists()

    validate(offline=True)
    assert cache.is_file(), "a full run keeps the manifests it parsed"


def test_validate_base_checks_only_touched_models(empty_repo: Path) -> None:
    build_base(empty_repo)
    builders.write_version(empty_repo, "mnist", 1)
    commit_all(empty_repo, "two models")
    base = git(empty_repo, "rev-parse", "HEAD").strip()
    builders.write_version(empty_repo, "digits", 4)  # untracked: a new version
    # a field that may change after merge: compared with the base, and allowed
    builders.write_version(empty_repo, "digits", 3, description="Retrained on more data.")
    # untracked too, but in no watched place: mnist is not touched
    (empty_repo / REGISTRY_DIR / "mnist" / "notes.txt").write_text("notes\n")

    report = validate(empty_repo, base="HEAD", offline=True)
    assert report.findings == ()
    assert (report.scope, report.base, report.models_checked) == ("changed", base, 1)
    # registry.yaml, digits' 8 files and version 3 as the base has it
    assert report.files_checked == 10
    assert not (empty_repo / ".git" / "modelreg").exists(), "a --base run keeps no cache"


class _SerialPool:
    """Stands in for ProcessPoolExecutor: records how many workers validate asks for
    and runs each submitted chunk at once, in this process."""

    created: ClassVar[list[int]] = []

    def __init__(self, max_workers: int, mp_context: object) -> None:
        self.created.append(max_workers)

    def __enter__(self) -> _SerialPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., object], *args: object) -> Future[object]:
        future: Future[object] = Future()
        future.set_result(fn(*args))
        return future


@pytest.mark.parametrize(
    ("jobs", "cpus", "workers"),
    [(1, 4, []), (None, 4, [2]), (None, None, []), (2, None, [1])],
    ids=["jobs-1", "one-per-cpu", "cpu-count-unknown", "jobs-2"],
)
def test_validate_jobs_caps_worker_processes(
    empty_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: int | None,
    cpus: int | None,
    workers: list[int],
) -> None:
    builders.write_config(empty_repo)
    builders.write_registry(empty_repo, {"alpha": 2, "beta": 1, "gamma": 1})
    commit_all(empty_repo, "three models")
    monkeypatch.setattr(checks, "_PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(checks, "ProcessPoolExecutor", _SerialPool)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(_SerialPool, "created", [])

    report = validate(empty_repo, offline=True, jobs=jobs, cache=False)
    assert _SerialPool.created == workers
    assert (report.findings, report.models_checked) == ((), 3)
