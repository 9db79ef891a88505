"""Run a workflow job's steps locally, in order, the way a GitHub runner would.

Only what the project's workflows use: ``run:`` steps under ``bash -eo pipefail``,
``${{ }}`` expressions over the github / inputs / secrets / steps / env contexts
(dotted names, string literals, ``==``, ``!=``, ``||``), step ``if:`` conditions,
``GITHUB_OUTPUT``, ``GITHUB_ENV`` and ``GITHUB_STEP_SUMMARY`` files, and job
outputs. ``uses:`` steps are the ones a sandbox already stands for: the checkout
(the sandbox is one), the setup action (modelreg is on PATH) and artifact uploads
(the paths are recorded and must exist), including the Pages upload.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
_TEMPLATE = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_HEREDOC = re.compile(r"([\w-]+)<<(\S+)\Z")


@dataclass
class StepRun:
    name: str
    skipped: bool
    returncode: int = 0
    output: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    steps: list[StepRun]
    summary: str
    outputs: dict[str, str]
    uploaded: list[Path]
    failed: bool = False

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)


def load_workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    if True in document:  # YAML 1.1 reads the key 'on' as True
        document["on"] = document.pop(True)
    return document


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    expression = expression.strip()
    if expression.startswith("(") and expression.endswith(")"):
        return evaluate(expression[1:-1], context)
    if "&&" in expression:
        value = True
        for part in expression.split("&&"):
            value = evaluate(part, context)
            if not value:
                return value
        return value
    if "||" in expression:
        for part in expression.split("||"):
            value = evaluate(part, context)
            if value:
                return value
        return value
    for operator in ("==", "!="):
        if operator in expression:
            left, right = (evaluate(p, context) for p in expression.split(operator, 1))
            equal = str(left).lower() == str(right).lower()
            return equal if operator == "==" else not equal
    if expression.startswith("!") and not expression.startswith("!="):
        return not evaluate(expression[1:], context)
    status = context.get("job_status", "success")
    functions = {
        "always()": True,
        "success()": status == "success",
        "failure()": status == "failure",
        "cancelled()": False,
    }
    if expression in functions:
        return functions[expression]
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1].replace("''", "'")
    if not re.fullmatch(r"[\w.-]+", expression):
        raise ValueError(f"the local runner cannot evaluate {expression!r}")
    value: Any = context
    for key in expression.split("."):
        value = value.get(key, "") if isinstance(value, dict) else ""
    return value


def substitute(text: str, context: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        result = evaluate(match.group(1), context)
        if isinstance(result, bool):
            return "true" if result else "false"
        return "" if result is None else str(result)

    return _TEMPLATE.sub(value, text)


def condition(text: str | bool | None, context: dict[str, Any]) -> bool:
    """A step's ``if:``; as on GitHub, one without a status function also needs the
    steps before it to have succeeded (an implicit ``success() &&``)."""
    if text is None:
        text = "success()"
    if isinstance(text, bool):
        return text and context.get("job_status", "success") == "success"
    match = _TEMPLATE.fullmatch(text.strip())
    expression = match.group(1) if match else text
    if not re.search(r"\b(always|success|failure|cancelled)\(\)", expression):
        expression = f"success() && ({expression})"
    return bool(evaluate(expression, context))


def read_outputs(path: Path) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as GitHub reads them."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        heredoc = _HEREDOC.match(line)
        if heredoc:
            end = lines.index(heredoc.group(2), index + 1)
            outputs[heredoc.group(1)] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        if "=" in line:
            key, _, value = line.partition("=")
            outputs[key] = value
        index += 1
    return outputs


class Runner:
    """One job of one workflow, run in ``repo`` with a scratch ``home``."""

    def __init__(
        self,
        repo: Path,
        scratch: Path,
        *,
        event_name: str,
        event: dict[str, Any],
        inputs: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        github_env: dict[str, str] | None = None,
        base_ref: str = "",
        machine_env: dict[str, str] | None = None,
        needs: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.repo = repo
        self.scratch = scratch
        self.github = {
            "event_name": event_name,
            "event": event,
            "repository": "acme/models",
            "base_ref": base_ref,
            "token": "workflow-token",
            "sha": "",
        }
        self.inputs = inputs or {}
        self.secrets = secrets or {}
        self.github_env = github_env or {}
        # What differs on the test machine from the runner the job asks for (a CPU for
        # a GPU runner's DEVICE): applied over the job's env.
        self.machine_env = machine_env or {}
        self.needs = needs or {}

    def run(self, workflow: str, job: str, *, check: bool = True) -> JobRun:
        """Run the job's steps; a failed step fails the job, and the steps after it run
        only if their ``if:`` asks for it (``always()``, ``failure()``). With ``check``,
        a failed job raises with the failed step's output."""
        spec = load_workflow(workflow)["jobs"][job]
        folder = self.scratch / f"{workflow}-{job}"
        folder.mkdir(parents=True, exist_ok=True)
        home = folder / "home"
        home.mkdir(exist_ok=True)
        summary = folder / "summary.md"
        summary.write_text("")
        env_file = folder / "env"
        env_file.write_text("")
        self.github["sha"] = self._git("rev-parse", "HEAD")
        context: dict[str, Any] = {
            "github": self.github,
            "inputs": self.inputs,
            "secrets": self.secrets,
            "steps": {},
            "env": {},
            "needs": {job: {"outputs": outputs} for job, outputs in self.needs.items()},
        }
        if not condition(spec.get("if"), context):
            return JobRun([], "", {}, [])
        base_env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_SHA": self.github["sha"],
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_ENV": str(env_file),
            **self.github_env,
        }
        job_env = {k: substitute(str(v), context) for k, v in spec.get("env", {}).items()}
        job_env.update(self.machine_env)
        context["env"] = job_env
        runs: list[StepRun] = []
        uploaded: list[Path] = []
        for number, step in enumerate(spec["steps"]):
            name = step.get("name") or step.get("uses") or f"step {number}"
            if not condition(step.get("if"), context):
                runs.append(StepRun(name, skipped=True))
                continue
            uses = step.get("uses", "")
            if uses:
                if "upload-artifact" in uses or "upload-pages-artifact" in uses:
                    path = self.repo / substitute(step["with"]["path"], context)
                    assert path.exists(), f"{name}: nothing to upload at {path}"
                    uploaded.append(path)
                else:
                    assert "actions/checkout@" in uses or uses.startswith("./.github/actions/")
                runs.append(StepRun(name, skipped=False))
                continue
            output_file = folder / f"output-{number}"
            output_file.write_text("")
            step_env = {k: substitute(str(v), context) for k, v in step.get("env", {}).items()}
            env = {
                **base_env,
                **read_outputs(env_file),
                **job_env,
                **step_env,
                "GITHUB_OUTPUT": str(output_file),
            }
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            outputs = read_outputs(output_file)
            run = StepRun(name, False, done.returncode, done.stdout + done.stderr, outputs)
            runs.append(run)
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": outputs}
            if done.returncode != 0:
                if check:
                    raise AssertionError(f"{workflow} {job}: step {name!r} failed:\n{run.output}")
                context["job_status"] = "failure"
        job_outputs = {k: substitute(str(v), context) for k, v in spec.get("outputs", {}).items()}
        failed = context.get("job_status") == "failure"
        return JobRun(runs, summary.read_text(), job_outputs, uploaded, failed)

    def _git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.repo, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()
