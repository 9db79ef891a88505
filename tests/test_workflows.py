"""The GitHub Actions workflows: linted, audited, safe by construction, and every
``modelreg`` command line in them parses against the real CLI."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from modelreg.cli import cli

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}\Z")

# What the shell variables in run: steps stand for, to parse their command lines.
SAMPLE = {
    "BASE_REF": "main",
    "BASE": "HEAD~1",
    "MODEL": "digits",
    "model": "digits",
    "VERSION": "3",
    "version": "3",
    "STAGE": "production",
    "REASON": "better recall",
    "PR": "7",
    "ref": "digits/3",
    "name": "digits-3",
    "base": "HEAD~1",
    "GITHUB_SHA": "0123456789abcdef",
    "DEVICE": "cuda",
}
ARRAYS = {"baseline": ["--baseline", "digits@production"], "to": ["--to", "2"]}


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key 'on' as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def _steps(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "runs" in document:
        yield from document["runs"].get("steps", [])
    for job in document.get("jobs", {}).values():
        yield from job.get("steps", [])


def _expand(line: str) -> str:
    for array, values in ARRAYS.items():
        line = line.replace(f'"${{{array}[@]}}"', shlex.join(values))
    line = re.sub(  # ${var//pattern/replacement}, as bash does it
        r"\$\{(\w+)//((?:\\.|[^/}])*)/([^}]*)\}",
        lambda m: SAMPLE[m.group(1)].replace(m.group(2).replace("\\", ""), m.group(3)),
        line,
    )
    line = re.sub(r"\$\{(\w+)::?\d+\}", lambda m: SAMPLE[m.group(1)][:12], line)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: SAMPLE.get(m.group(1), m.group(0)), line)


def modelreg_commands(script: str) -> list[list[str]]:
    """The argument lists of every ``modelreg`` command in a shell script."""
    script = script.replace("\\\n", " ")
    found = []
    for line in script.splitlines():
        if "modelreg" not in line or line.strip().startswith("#"):
            continue
        lexer = shlex.shlex(_expand(line), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        separators = {"|", "||", "&&", ";", "(", ")", ">", ">>", "<", "<<<", "2>&1", "&"}
        for i, token in enumerate(tokens):
            before = tokens[i - 1] if i else ""
            at_start = not before or before in separators - {">", ">>", "<", "<<<"}
            at_start = at_start or before in {"if", "then", "else", "do", "while", "!"}
            if token == "modelreg" and at_start:
                args = []
                for arg in tokens[i + 1 :]:
                    if arg in separators or arg.startswith(("2>", ">")):
                        break
                    args.append(arg)
                found.append(args)
    return found


def parse(args: list[str]) -> str:
    """Parse ``modelreg ARGS`` as the real CLI would, running nothing; the command name.
    (The workflows give no group options but --version.)"""
    if args == ["--version"]:
        with pytest.raises(click.exceptions.Exit) as done:
            cli.make_context("modelreg", list(args))
        assert done.value.exit_code == 0
        return args[0]
    ctx = click.Context(cli, info_name="modelreg")
    command = cli.get_command(ctx, args[0])
    if command is None:
        raise click.UsageError(f"No such command {args[0]!r}")
    with command.make_context(args[0], args[1:], parent=ctx):
        pass
    return args[0]


def all_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in [*WORKFLOWS, *ACTIONS]:
        for step in _steps(_load(path)):
            for args in modelreg_commands(step.get("run", "")):
                found.append((f"{path.name}: {step.get('name', '')}", args))
    return found


CALLERS = ["benchmark", "on-merge", "promote", "rollback", "validate"]


def test_the_workflows_are_there_and_each_calls_its_reusable_one() -> None:
    assert [p.stem for p in WORKFLOWS] == sorted([*CALLERS, *(f"reusable-{n}" for n in CALLERS)])
    for stem in CALLERS:
        [job] = _load(GITHUB / "workflows" / f"{stem}.yml")["jobs"].values()
        assert job["uses"] == f"./.github/workflows/reusable-{stem}.yml"
        assert job["with"]["modelreg-version"] == "source"
        called = _load(GITHUB / "workflows" / f"reusable-{stem}.yml")
        assert list(called["on"]) == ["workflow_call"], f"reusable-{stem}.yml is only called"


def test_actionlint_passes() -> None:
    done = subprocess.run(
        [str(BIN / "actionlint"), "-no-color"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_at_medium_or_above() -> None:
    done = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", ".github"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    findings = json.loads(done.stdout)
    serious = [
        f"{f['ident']}: {f['desc']} ({f['locations'][0]['symbolic']['key']})"
        for f in findings
        if f["determinations"]["severity"] in ("Medium", "High")
    ]
    assert serious == []


def test_every_modelreg_command_line_parses_against_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("report.md", "benchmark.md"):  # files --file opens while parsing
        (tmp_path / name).write_text("x")
    commands = all_commands()
    parsed = {parse(args) for _, args in commands}
    # The extraction finds what the workflows run (so this test cannot pass vacuously).
    assert parsed >= {
        "--version",
        "validate",
        "diff",
        "pull",
        "export",
        "report",
        "comment",
        "dashboard",
        "resolve",
        "benchmark",
        "promote",
        "rollback",
    }
    assert len(commands) >= 15


def test_a_wrong_command_line_is_caught() -> None:
    [args] = modelreg_commands('modelreg diff "origin/$BASE_REF" HEAD --githb-output | cat')
    assert args == ["diff", "origin/main", "HEAD", "--githb-output"]
    with pytest.raises(click.UsageError, match="No such option '--githb-output'"):
        parse(args)
    with pytest.raises(click.UsageError, match="No such command 'promot'"):
        parse(["promot", "m", "1", "--to", "production"])


def test_least_privilege_pinning_and_no_untrusted_expansion() -> None:
    for path in WORKFLOWS:
        document = _load(path)
        assert document["permissions"] == {}, f"{path.name}: permissions: {{}} at the top"
        assert "pull_request_target" not in document["on"], path.name
        assert "workflow_run" not in document["on"], path.name
        for name, job in document["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} declares its permissions"
            # A job that calls a reusable workflow takes the called jobs' timeouts.
            assert "timeout-minutes" in job or "uses" in job, f"{path.name}: {name} has a timeout"
    for path in [*WORKFLOWS, *ACTIONS]:
        for step in _steps(_load(path)):
            uses = step.get("uses", "")
            assert not uses or uses.startswith("./") or PINNED.match(uses), (path.name, uses)
            # Inputs reach scripts through env:, never spliced into the script text.
            assert "${{" not in step.get("run", ""), (path.name, step.get("name"))
            if "actions/checkout@" in uses:
                assert step["with"]["persist-credentials"] is False, path.name


def test_promotions_are_never_cancelled_and_gpu_runs_only_same_repo_code() -> None:
    for stem in ("promote", "rollback"):
        job = next(iter(_load(GITHUB / "workflows" / f"reusable-{stem}.yml")["jobs"].values()))
        assert job["concurrency"]["cancel-in-progress"] is False
        assert job["concurrency"]["group"].startswith("promote-")
    called = _load(GITHUB / "workflows" / "reusable-benchmark.yml")
    jobs = called["jobs"]
    assert jobs["benchmark"]["runs-on"] == "${{ fromJSON(inputs.runner) }}"
    gpu = ["self-hosted", "linux", "x64", "gpu"]
    assert json.loads(called["on"]["workflow_call"]["inputs"]["runner"]["default"]) == gpu
    [caller] = _load(GITHUB / "workflows" / "benchmark.yml")["jobs"].values()
    assert json.loads(caller["with"]["runner"]) == gpu
    # The GPU job runs only after the plan, which only same-repository pull requests pass.
    assert jobs["benchmark"]["needs"] == "plan"
    assert (
        jobs["plan"]["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    )
    assert jobs["plan"]["runs-on"] == "ubuntu-latest"
    labels = yaml.safe_load((GITHUB / "actionlint.yaml").read_text())
    assert labels["self-hosted-runner"]["labels"] == ["gpu"]
    owners = (GITHUB / "CODEOWNERS").read_text()
    assert "/registry/*/stages/production.yaml @" in owners
