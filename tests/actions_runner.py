"""Run a workflow job's steps locally, in order, the way a GitHub runner would.

Only what the project's workflows use: ``run:`` steps under ``bash -eo pipefail``,
``${{ }}`` expressions over the github / inputs / secrets / steps / env contexts
(dotted names, string literals, ``==``, ``!=``, ``||``), step ``if:`` conditions,
``GITHUB_OUTPUT``, ``GITHUB_ENV`` and ``GITHUB_STEP_SUMMARY`` files, and job
outputs. ``uses:`` steps are the ones a sandbox already stands for: the checkout
(the sandbox is one), the setup actions (modelreg is on PATH; ``setup-python`` and
the pip cache are the machine's) and artifact uploads (the paths are recorded and
must exist), including the Pages upload.

A job that calls a reusable workflow (``jobs.<id>.uses``) runs the called
workflow's job of the asked name with the caller's ``with:`` as its inputs (the
called workflow's defaults filling the rest) and the caller's ``secrets:``, as
GitHub does; the caller job's ``if:`` applies. modelreg's reusable workflows are
read from this checkout, for ``./.github/workflows/...`` and for
``modelreg/modelreg/.github/workflows/...@COMMIT`` (a pinned release) alike.
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
# Actions a sandbox stands for (see the module docstring).
_STOOD_FOR = (
    "actions/checkout@",
    "actions/setup-python@",
    "actions/cache@",
    "./.github/actions/",
)
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


def load_workflow(name: str | Path) -> dict[str, Any]:
    """A workflow of this repository by file name, or any workflow file by path."""
    path = name if isinstance(name, Path) else ROOT / ".github" / "workflows" / name
    document = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key 'on' as True
        document["on"] = document.pop(True)
    return document


_RELEASED = re.compile(r"modelreg/modelreg/\.github/workflows/([\w.-]+\.yml)@([0-9a-f]{40})\Z")


def called_workflow(uses: str) -> str:
    """The file name, in this checkout, of the reusable workflow a job ``uses``."""
    if uses.startswith("./.github/workflows/"):
        return uses.removeprefix("./.github/workflows/")
    released = _RELEASED.match(uses)
    assert released, f"a reusable workflow this sandbox cannot stand for: {uses}"
    return released.group(1)


def _top_level(expression: str, operator: str) -> list[str]:
    """``expression`` split at each ``operator`` outside parentheses and quotes."""
    parts, depth, quoted, start, index = [], 0, False, 0, 0
    while index < len(expression):
        char = expression[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and expression.startswith(operator, index):
            parts.append(expression[start:index])
            start = index = index + len(operator)
            continue
        index += 1
    return [*parts, expression[start:]]


def _wrapped(expression: str) -> bool:
    """Whether one pair of parentheses encloses all of ``expression``."""
    if not (expression.startswith("(") and expression.endswith(")")):
        return False
    depth, quoted = 0, False
    for index, char in enumerate(expression):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                return index == len(expression) - 1
    return False


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    expression = expression.strip()
    if _wrapped(expression):
        return evaluate(expression[1:-1], context)
    if len(_top_level(expression, "&&")) > 1:
        value = True
        for part in _top_level(expression, "&&"):
            value = evaluate(part, context)
            if not value:
                return value
        return value
    if len(_top_level(expression, "||")) > 1:
        for part in _top_level(expression, "||"):
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

    def run(self, workflow: str | Path, job: str, *, check: bool = True) -> JobRun:
        """Run the job's steps; a failed step fails the job, and the steps after it run
        only if their ``if:`` asks for it (``always()``, ``failure()``). With ``check``,
        a failed job raises with the failed step's output."""
        document = load_workflow(workflow)
        caller = self._caller(document, job)
        spec = (
            load_workflow(called_workflow(caller["uses"]))["jobs"][job]
            if caller
            else document["jobs"][job]
        )
        label = workflow if isinstance(workflow, str) else workflow.name
        folder = self.scratch / f"{label}-{job}"
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
        if caller:
            if not condition(caller.get("if"), context):
                return JobRun([], "", {}, [])
            context["inputs"], context["secrets"] = self._call(caller, context)
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
                    assert uses.startswith(_STOOD_FOR), f"{name}: the sandbox cannot run {uses}"
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

    @staticmethod
    def _caller(document: dict[str, Any], job: str) -> dict[str, Any] | None:
        """The job of ``document`` whose reusable workflow holds ``job``, if ``job`` is
        not one of its own."""
        if job in document["jobs"] and "uses" not in document["jobs"][job]:
            return None
        for spec in document["jobs"].values():
            if "uses" in spec and job in load_workflow(called_workflow(spec["uses"]))["jobs"]:
                return dict(spec)
        raise KeyError(f"no job {job!r}, nor a reusable workflow holding one")

    def _call(
        self, caller: dict[str, Any], context: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The called workflow's inputs and secrets, as GitHub passes them."""
        called = load_workflow(called_workflow(caller["uses"]))["on"]["workflow_call"]
        inputs: dict[str, Any] = {}
        for key, declared in (called.get("inputs") or {}).items():
            given = caller.get("with", {}).get(key)
            if given is None:
                assert not declared.get("required"), f"the caller does not pass {key}"
                inputs[key] = declared.get("default", "")
            else:
                inputs[key] = substitute(str(given), context)
        unknown = set(caller.get("with", {})) - set(called.get("inputs") or {})
        assert not unknown, f"the caller passes inputs the workflow does not take: {unknown}"
        secrets = {
            key: substitute(str(value), context)
            for key, value in (caller.get("secrets") or {}).items()
        }
        for key, declared in (called.get("secrets") or {}).items():
            assert key in secrets or not declared.get("required"), f"no secret {key} passed"
        return inputs, secrets

    def _git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.repo, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()
