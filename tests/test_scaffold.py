"""``modelreg init --ci github``: the CI a team gets, and this repository's own CI
being the same workflows (dogfooded), run through the installed command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelreg.core.project import REPOSITORY, REPOSITORY_URL, release_commit
from modelreg.ops.scaffold import WORKFLOWS, Pin, render_workflow
from tests.conftest import git

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SHA = "0123456789abcdef0123456789abcdef01234567"


def run(exe: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_this_repository_runs_the_workflows_it_scaffolds() -> None:
    """Each workflow here is the template users get, rendered for modelreg's own checkout."""
    for name in WORKFLOWS:
        extras = ("export",) if name == "validate" else ()
        rendered = render_workflow(
            name, Pin.source(), stages=("staging", "production"), branch="main", extras=extras
        )
        assert (ROOT / ".github/workflows" / f"{name}.yml").read_text() == rendered, name


def test_every_job_of_the_reusable_workflows_installs_modelreg_the_same_way() -> None:
    """Reusable workflows cannot share a step with their callers' repositories, so the
    install steps are repeated per job: they must not drift apart."""
    blocks = set()
    for path in sorted((ROOT / ".github/workflows").glob("reusable-*.yml")):
        document = yaml.safe_load(path.read_text())
        for name, job in document["jobs"].items():
            steps = [s for s in job.get("steps", []) if "deploy-pages" not in s.get("uses", "")]
            if not steps:
                continue
            install = [s for s in steps if s.get("if", "").startswith("inputs.modelreg-version")]
            assert len(install) == 4, f"{path.name} {name}: the four install steps"
            for step in install:
                step.get("with", {}).pop("gpu", None)
                if "run" in step:
                    lines = step["run"].splitlines()
                    step["run"] = [line for line in lines if "onnxruntime" not in line]
            blocks.add(json.dumps(install, sort_keys=True))
    assert len(blocks) == 1


def test_release_pins_name_the_project_and_refuse_a_short_ref() -> None:
    pin = Pin.release(SHA)
    assert pin.workflows == f"{REPOSITORY}/.github/workflows"
    assert pin.ref.startswith(f"@{SHA} # v")
    assert pin.commit == SHA
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'Source = "{REPOSITORY_URL}"' in pyproject
    from modelreg.core.errors import InputError

    with pytest.raises(
        InputError, match=r"expected a full 40-character commit hash, not 'v0\.1\.0'"
    ):
        Pin.release("v0.1.0")
    # A checkout of modelreg knows its commit; a release archive has it written in.
    assert release_commit() == git(ROOT, "rev-parse", "HEAD").strip()


@pytest.fixture
def team_repo(tmp_path: Path) -> Path:
    """An existing ML repository: some code, a README, an existing CODEOWNERS and
    pre-commit config of its own."""
    root = tmp_path / "team"
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("print('training')\n")
    (root / ".github").mkdir()
    (root / ".github/CODEOWNERS").write_text("* @acme/everyone\n")
    (root / ".pre-commit-config.yaml").write_text(
        "# our hooks\nrepos:\n  - repo: https://github.com/psf/black\n    rev: 24.1.0\n"
        "    hooks:\n      - id: black\n"
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "our project")
    return root


def test_init_ci_github_writes_the_ci_and_says_what_it_made(
    team_repo: Path, modelreg_exe: str
) -> None:
    done = run(
        modelreg_exe, team_repo, "init", "--ci", "github", "--owner", "@acme/ml-leads",
        "--workflows-ref", SHA, "--commit",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in WORKFLOWS:
        path = f".github/workflows/modelreg-{name}.yml"
        assert f"wrote {path}" in done.stdout
        text = (team_repo / path).read_text()
        assert f"uses: {REPOSITORY}/.github/workflows/reusable-{name}.yml@{SHA} # v" in text
        assert re.search(r'modelreg-version: "\d+\.\d+\.\d+"', text)
    assert "ci: pull requests are validated" in done.stdout
    assert "MODELREG_PR_TOKEN" in done.stdout
    promote = yaml.safe_load((team_repo / ".github/workflows/modelreg-promote.yml").read_text())
    assert promote[True]["workflow_dispatch"]["inputs"]["stage"]["options"] == [
        "staging",
        "production",
    ]
    assert promote[True]["push"]["branches"] == ["main"]
    # The user's lines are kept; modelreg's are added.
    owners = (team_repo / ".github/CODEOWNERS").read_text()
    assert owners.startswith("* @acme/everyone\n")
    assert "/registry/*/stages/ @acme/ml-leads\n" in owners
    config = (team_repo / ".pre-commit-config.yaml").read_text()
    assert config.startswith("# our hooks\n")
    repos = yaml.safe_load(config)["repos"]
    assert [r["repo"] for r in repos] == ["https://github.com/psf/black", REPOSITORY_URL]
    assert repos[1] == {"repo": REPOSITORY_URL, "rev": SHA, "hooks": [{"id": "modelreg-validate"}]}
    assert git(team_repo, "status", "--porcelain") == ""

    # Idempotent: a second run changes nothing and says so.
    again = run(modelreg_exe, team_repo, "init", "--ci", "github", "--owner", "@acme/ml-leads",
                "--workflows-ref", SHA, "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["written"] == []
    assert {f["state"] for f in result["ci"]} == {"same"}


def test_scaffolded_workflows_pass_actionlint_and_zizmor(
    team_repo: Path, modelreg_exe: str
) -> None:
    done = run(modelreg_exe, team_repo, "init", "--ci", "github", "--workflows-ref", SHA)
    assert done.returncode == 0, done.stderr
    lint = subprocess.run(
        [str(BIN / "actionlint"), "-no-color"], cwd=team_repo, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", ".github"],
        cwd=team_repo,
        capture_output=True,
        text=True,
    )
    findings = json.loads(audit.stdout)
    serious = [
        f["ident"] for f in findings if f["determinations"]["severity"] in ("Medium", "High")
    ]
    assert serious == []
    # Without --owner the CODEOWNERS lines are there to fill in, commented out.
    owners = (team_repo / ".github/CODEOWNERS").read_text()
    assert "# /registry/*/stages/ @your-org/model-approvers" in owners
    assert "CODEOWNERS: name who approves a stage change" in done.stdout


def test_a_users_differing_file_is_kept_and_its_diff_shown_until_force(
    team_repo: Path, modelreg_exe: str
) -> None:
    ours = team_repo / ".github/workflows/modelreg-validate.yml"
    ours.parent.mkdir(parents=True)
    ours.write_text("name: our own validate\n")
    done = run(modelreg_exe, team_repo, "init", "--ci", "github", "--workflows-ref", SHA)
    assert done.returncode == 0, done.stderr
    assert ours.read_text() == "name: our own validate\n"
    assert "kept .github/workflows/modelreg-validate.yml: yours differs" in done.stdout
    assert "-name: our own validate" in done.stdout
    assert "+name: validate" in done.stdout
    forced = run(modelreg_exe, team_repo, "init", "--ci", "github", "--workflows-ref", SHA,
                 "--force")  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert "reusable-validate.yml" in ours.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--owner", "acme team"], "--owner: 'acme team' is not a GitHub user (@name), team"),
        (["--workflows-ref", "main"], "--workflows-ref: expected a full 40-character commit"),
    ],
)
def test_bad_ci_options_fail_in_one_line_and_write_nothing(
    team_repo: Path, modelreg_exe: str, args: list[str], message: str
) -> None:
    done = run(modelreg_exe, team_repo, "init", "--ci", "github", *args)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert git(team_repo, "status", "--porcelain", "--untracked-files=all") == ""
