"""Each workflow's run: steps, in order, in a sandbox registry with a bare origin, a
DVC remote and the local GitHub server, asserting on what they produce."""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests import builders
from tests.actions_runner import ROOT, JobRun, Runner
from tests.conftest import Workspace, git
from tests.github_server import FakeGitHub

torch = pytest.importorskip("torch")

from modelreg.api import TensorInfo, save_checkpoint  # noqa: E402

# The MODELREG_PR_TOKEN secret: a user's token (a fine-grained PAT's, say), another
# identity than the GITHUB_TOKEN each job gets (github-actions[bot], with the job's
# permissions), so a step that uses the wrong one fails.
PR_TOKEN = "pr-token"
PR_USER = "modelreg-promoter"
SETUP = "./.github/actions/setup-modelreg"
CONFIG = {"channels": 4, "hidden": 8, "dropout": 0.0}
MARKER = "<!-- modelreg:report -->"


def save_cnn(path: Path, seed: int) -> None:
    from pipelines.digits_cnn.model import DigitsCNN

    torch.manual_seed(seed)
    save_checkpoint(
        path,
        DigitsCNN(**CONFIG),
        architecture="pipelines.digits_cnn.model:DigitsCNN",
        config=CONFIG,
        inputs=[TensorInfo("images", "float32", (-1, 1, 8, 8))],
        outputs=[TensorInfo("logits", "float32", (-1, 10))],
        classes=[str(c) for c in range(10)],
        parity_data="data/test.npz",
    )


def register(ws: Workspace, seed: int, accuracy: float) -> None:
    weights = ws.root.parent / f"weights-{seed}" / "model.pt"
    weights.parent.mkdir(exist_ok=True)
    save_cnn(weights, seed)
    from click.testing import CliRunner

    from modelreg.cli import cli

    done = CliRunner().invoke(
        cli,
        [
            "--repo",
            str(ws.root),
            "register",
            "digits",
            "--weights",
            str(weights),
            "--metrics",
            json.dumps({"accuracy": accuracy}),
            "--commit",
        ],
    )
    assert done.exit_code == 0, done.output


@pytest.fixture
def sandbox(workspace: Workspace) -> Workspace:
    """A registry holding digits v1 (a real small CNN), its code and parity data,
    pushed to origin; the DVC remote holds the weights."""
    from sklearn.datasets import load_digits

    for relpath in (
        "pipelines/__init__.py",
        "pipelines/digits_cnn/__init__.py",
        "pipelines/digits_cnn/model.py",
    ):
        target = workspace.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relpath, target)
    digits = load_digits()
    (workspace.root / "data").mkdir()
    images = (digits.images[:60].astype(np.float32) / 16.0)[:, None]
    np.savez(workspace.root / "data" / "test.npz", inputs=images, labels=digits.target[:60])
    workspace.commit_all("the model's code and held-out data")
    register(workspace, seed=0, accuracy=0.90)
    workspace.git("push", "-q", "origin", "main")
    return workspace


@pytest.fixture
def github(sandbox: Workspace) -> Iterator[FakeGitHub]:
    with FakeGitHub(
        repo="acme/models", token=PR_TOKEN, login=PR_USER, origin=sandbox.origin
    ) as server:
        yield server


def runner(ws: Workspace, github: FakeGitHub, tmp_path: Path, **kwargs: Any) -> Runner:
    return Runner(
        ws.root,
        tmp_path / "runs",
        github_env={"GITHUB_API_URL": github.url},
        secrets={"MODELREG_PR_TOKEN": PR_TOKEN},
        github_token=github.installation_token,
        **kwargs,
    )


def setup_ran(job: JobRun, extras: str) -> None:
    """The setup action's steps ran: its install step checked, offline, that modelreg
    (this checkout) with ``extras`` and the pinned constraints is installed."""
    setup = job.step(SETUP)
    assert not setup.skipped and setup.returncode == 0, setup.output
    assert "offline pip: install --disable-pip-version-check -c " in setup.output
    spec = shlex.quote(f"modelreg[{extras}]" if extras else "modelreg")
    assert f"{ROOT / 'constraints.txt'} {spec}\n" in setup.output
    assert "modelreg, version" in setup.output


def test_validate_reports_exports_and_keeps_one_comment(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    sandbox.git("checkout", "-q", "-b", "add-v2")
    register(sandbox, seed=1, accuracy=0.93)
    sandbox.git("push", "-q", "origin", "add-v2")
    number = github.add_pull(head="add-v2", title="digits v2")["number"]
    event = {"pull_request": {"number": number, "head": {"repo": {"full_name": "acme/models"}}}}
    local = runner(sandbox, github, tmp_path, event_name="pull_request", event=event)
    local.github["base_ref"] = "main"

    job = local.run("validate.yml", "validate")

    assert "ok: the change is valid" in job.step("Validate the change").output
    diff = job.step("Registry events").outputs
    assert (diff["changed"], diff["models"]) == ("true", '["digits"]')
    assert json.loads(diff["events"])[0]["ref"] == "digits/2"
    report = json.loads((sandbox.root / "exports" / "digits-2.json").read_text())
    assert report["parity"]["passed"] is True
    assert (sandbox.root / "exports" / "digits-2.onnx").stat().st_size > 1000
    assert (
        "no torch checkpoint" not in job.step("Export new versions to ONNX and check parity").output
    )
    assert job.summary.startswith(MARKER)
    assert "| registered | digits | v2 |" in job.summary
    assert "#### New version: v2" in job.summary
    assert job.uploaded == [sandbox.root / "report.md"]
    [comment] = github.comments
    assert comment["body"] == (sandbox.root / "report.md").read_text()
    # Written with the job's own GITHUB_TOKEN: GitHub Actions' bot, with what the job
    # (and validate.yml, which calls it) grants.
    assert (comment["user"]["login"], comment["user"]["type"]) == ("github-actions[bot]", "Bot")
    assert job.permissions == {"contents": "read", "pull-requests": "write"}
    assert github.tokens[job.token].login is None
    setup_ran(job, "export")

    # Run again unchanged: the comment is left alone. After a new push it is updated in
    # place, never repeated.
    local.run("validate.yml", "validate")
    assert github.paths("PATCH") == []
    manifest = sandbox.root / "registry" / "digits" / "versions" / "2.yaml"
    manifest.write_text(manifest.read_text() + "description: wider classifier head\n")
    sandbox.commit_all("describe v2")
    local.run("validate.yml", "validate")
    assert len(github.comments) == 1
    assert "wider classifier head" in github.comments[0]["body"]
    assert github.paths("PATCH") == [f"/repos/acme/models/issues/comments/{comment['id']}"]


def test_promote_by_hand_opens_the_pull_request(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    register(sandbox, seed=1, accuracy=0.93)
    sandbox.git("push", "-q", "origin", "main")
    inputs = {"model": "digits", "version": "2", "stage": "production", "reason": "better"}
    local = runner(
        sandbox, github, tmp_path, event_name="workflow_dispatch", event={}, inputs=inputs
    )

    job = local.run("promote.yml", "promote")

    assert job.step("Propose new versions for staging").skipped
    assert "opened pull request #" in job.step("Open the promotion pull request").output
    [pull] = github.pulls
    assert pull["head"]["ref"] == "modelreg/digits/production/promote-v2"
    assert "## Promote digits v2 to production" in pull["body"]
    # Opened with the PR token's identity: its pull request triggers the checks.
    assert pull["user"]["login"] == PR_USER
    assert job.permissions == {"contents": "read"}
    setup_ran(job, "")
    assert git(sandbox.origin, "branch", "--list", "modelreg/*").strip() == (
        "modelreg/digits/production/promote-v2"
    )
    # The token reached git through the job's environment, not the repository's config.
    assert "extraheader" not in (sandbox.root / ".git" / "config").read_text()


def test_a_push_that_registers_proposes_staging(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    before = sandbox.git("rev-parse", "HEAD").strip()
    register(sandbox, seed=1, accuracy=0.93)
    sandbox.git("push", "-q", "origin", "main")
    local = runner(sandbox, github, tmp_path, event_name="push", event={"before": before})

    job = local.run("promote.yml", "promote")

    assert job.step("Open the promotion pull request").skipped
    [pull] = github.pulls
    assert pull["head"]["ref"] == "modelreg/digits/staging/promote-v2"
    assert pull["user"]["login"] == PR_USER


def test_rollback_opens_the_revert_pull_request(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    from modelreg.api import promote

    register(sandbox, seed=1, accuracy=0.93)
    promote("digits", 1, "production", repo=sandbox.root)
    promote("digits", 2, "production", repo=sandbox.root)
    sandbox.git("push", "-q", "origin", "main")
    inputs = {"model": "digits", "stage": "production", "to": "", "reason": "latency"}
    local = runner(
        sandbox, github, tmp_path, event_name="workflow_dispatch", event={}, inputs=inputs
    )

    job = local.run("rollback.yml", "rollback")

    assert "opened pull request #" in job.step("Open the rollback pull request").output
    [pull] = github.pulls
    assert pull["head"]["ref"] == "modelreg/digits/production/rollback-to-v1"
    assert pull["user"]["login"] == PR_USER
    assert pull["title"] == "Roll back digits production to v1"


def test_on_merge_gives_deploy_jobs_the_events(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    from modelreg.api import promote

    promote("digits", 1, "production", repo=sandbox.root)
    before = sandbox.git("rev-parse", "HEAD").strip()
    register(sandbox, seed=1, accuracy=0.93)
    promote("digits", 2, "production", repo=sandbox.root, reason="better")
    local = runner(sandbox, github, tmp_path, event_name="push", event={"before": before})

    job = local.run("on-merge.yml", "events")

    assert job.outputs["changed"] == "true"
    assert json.loads(job.outputs["moves"]) == [
        {"model": "digits", "stage": "production", "version": 2, "previous": 1, "event": "promoted"}
    ]
    assert job.step("The range this push brought").outputs == {"base": before}
    assert "#### Promotion of production: v1 → v2" in job.summary
    assert "```mermaid\ntimeline" in job.summary

    # A first push (no 'before') falls back to the last commit.
    first = runner(
        sandbox, github, tmp_path / "first", event_name="push", event={"before": "0" * 40}
    )
    assert first.run("on-merge.yml", "events").outputs["moves"].startswith('[{"model":"digits"')


def test_on_merge_builds_the_dashboard_for_pages(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    from modelreg.api import promote

    promote("digits", 1, "production", repo=sandbox.root, reason="first")
    local = runner(sandbox, github, tmp_path, event_name="push", event={"before": "0" * 40})

    job = local.run("on-merge.yml", "dashboard")

    assert job.uploaded == [sandbox.root / "site"]
    page = (sandbox.root / "site" / "index.html").read_text()
    assert '<section id="m-digits">' in page and "first" in page
    assert (
        "wrote site/index.html (1 model, 1 version; valid)"
        in job.step("Build the dashboard").output
    )


def test_benchmark_plans_new_versions_and_skips_a_rollback(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    from modelreg.api import promote, rollback

    event = {"pull_request": {"number": 3, "head": {"repo": {"full_name": "acme/models"}}}}
    register(sandbox, seed=1, accuracy=0.93)
    promote("digits", 1, "production", repo=sandbox.root)
    promote("digits", 2, "production", repo=sandbox.root)
    sandbox.git("push", "-q", "origin", "main")

    # A pull request that registers v3 and promotes it: one candidate, gated on production.
    sandbox.git("checkout", "-q", "-b", "v3")
    register(sandbox, seed=2, accuracy=0.95)
    promote("digits", 3, "production", repo=sandbox.root)
    local = runner(sandbox, github, tmp_path / "a", event_name="pull_request", event=event)
    local.github["base_ref"] = "main"
    plan = local.run("benchmark.yml", "plan")
    assert json.loads(plan.outputs["candidates"]) == [
        {"ref": "digits/3", "model": "digits", "version": 3, "stage": "production"}
    ]

    # A rollback pull request: nothing to measure, so the GPU job does not start.
    sandbox.git("checkout", "-q", "main")
    sandbox.git("checkout", "-q", "-b", "roll-back")
    rollback("digits", "production", repo=sandbox.root)
    local = runner(sandbox, github, tmp_path / "b", event_name="pull_request", event=event)
    local.github["base_ref"] = "main"
    assert local.run("benchmark.yml", "plan").outputs["candidates"] == "[]"

    # A fork's pull request never gets as far as planning the GPU job.
    fork = {"pull_request": {"number": 4, "head": {"repo": {"full_name": "eve/models"}}}}
    local = runner(sandbox, github, tmp_path / "c", event_name="pull_request", event=fork)
    assert local.run("benchmark.yml", "plan").steps == []


def test_validate_skips_exporting_a_version_without_a_checkpoint(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    sandbox.git("checkout", "-q", "-b", "onnx-only")
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(builders.onnx_model_bytes(3))
    from click.testing import CliRunner

    from modelreg.cli import cli

    done = CliRunner().invoke(
        cli, ["--repo", str(sandbox.root), "register", "digits", "--weights", str(onnx), "--commit"]
    )
    assert done.exit_code == 0, done.output
    event = {"pull_request": {"number": 5, "head": {"repo": {"full_name": "elsewhere/fork"}}}}
    local = runner(sandbox, github, tmp_path, event_name="pull_request", event=event)
    local.github["base_ref"] = "main"

    job = local.run("validate.yml", "validate")

    export = job.step("Export new versions to ONNX and check parity").output
    assert "::notice::digits/2 has no torch checkpoint: nothing to export" in export
    assert not (sandbox.root / "exports" / "digits-2.onnx").exists()
    # A fork's pull request gets no comment: its report is the job summary.
    assert job.step("Sticky comment").skipped and github.comments == []
    assert "| registered | digits | v2 |" in job.summary


def mutated(tmp_path: Path, workflow: str, old: str, new: str) -> Path:
    """A copy of ``workflow`` with ``old`` replaced by ``new`` (the real file is untouched)."""
    text = (ROOT / ".github" / "workflows" / workflow).read_text()
    assert text.count(old) == 1, f"{old!r} is not in {workflow} once"
    copy = tmp_path / "mutated" / workflow
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text.replace(old, new))
    return copy


def test_a_promotion_with_the_workflow_token_is_refused(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    """Had reusable-promote.yml used github.token (contents: read) for GH_TOKEN, GitHub
    would refuse the pull request: the workflow tests catch that change."""
    register(sandbox, seed=1, accuracy=0.93)
    sandbox.git("push", "-q", "origin", "main")
    inputs = {
        "modelreg-version": "source",
        "extras": "",
        "model": "digits",
        "version": "2",
        "stage": "production",
        "reason": "better",
    }
    local = runner(
        sandbox, github, tmp_path, event_name="workflow_dispatch", event={}, inputs=inputs
    )
    wrong = mutated(
        tmp_path,
        "reusable-promote.yml",
        "GH_TOKEN: ${{ secrets.MODELREG_PR_TOKEN }}",
        "GH_TOKEN: ${{ github.token }}",
    )

    job = local.run(wrong, "promote", check=False)

    assert job.failed
    step = job.step("Open the promotion pull request")
    assert "403 Resource not accessible by integration" in step.output
    assert "the token needs 'pull-requests: read'" in step.output  # to list open ones
    assert github.pulls == []
    # The same run with the real file opens it.
    assert not local.run("reusable-promote.yml", "promote").failed
    assert [p["user"]["login"] for p in github.pulls] == [PR_USER]


def test_a_sticky_comment_without_pull_request_write_is_refused(
    sandbox: Workspace, github: FakeGitHub, tmp_path: Path
) -> None:
    """A validate job whose permissions dropped 'pull-requests: write' cannot comment,
    and a caller that grants less than the reusable job asks for fails to start."""
    sandbox.git("checkout", "-q", "-b", "add-v2")
    register(sandbox, seed=1, accuracy=0.93)
    sandbox.git("push", "-q", "origin", "add-v2")
    number = github.add_pull(head="add-v2", title="digits v2")["number"]
    event = {"pull_request": {"number": number, "head": {"repo": {"full_name": "acme/models"}}}}
    inputs = {"modelreg-version": "source", "extras": "export"}
    local = runner(sandbox, github, tmp_path, event_name="pull_request", event=event, inputs=inputs)
    local.github["base_ref"] = "main"
    read_only = mutated(
        tmp_path,
        "reusable-validate.yml",
        "      pull-requests: write # the sticky comment",
        "      pull-requests: read # the sticky comment",
    )

    job = local.run(read_only, "validate", check=False)

    assert job.failed and job.permissions == {"contents": "read", "pull-requests": "read"}
    step = job.step("Sticky comment")
    assert "403 Resource not accessible by integration" in step.output
    assert github.comments == []

    stingy = mutated(
        tmp_path / "caller",
        "validate.yml",
        "      pull-requests: write # the sticky comment",
        "      issues: write # not pull-requests: the sticky comment",
    )
    with pytest.raises(AssertionError, match="requesting 'pull-requests: write'"):
        local.run(stingy, "validate")
