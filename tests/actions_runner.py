"""Run a workflow job's steps locally, in order, the way a GitHub runner would.

Only what the project's workflows use: ``run:`` steps under ``bash -eo pipefail``,
``${{ }}`` expressions over the github / inputs / secrets / steps / env contexts
(dotted names, string literals, ``==``, ``!=``, ``||``), step ``if:`` conditions,
``GITHUB_OUTPUT``, ``GITHUB_ENV`` and ``GITHUB_STEP_SUMMARY`` files, and job
outputs. ``uses:`` steps are either run or stood for. A local composite action
(``uses: ./.github/actions/NAME``, read from this checkout) runs its ``runs.steps``
in order, with its ``inputs`` (``with:`` over the declared defaults, the machine's
``machine_inputs`` over both) and ``GITHUB_ACTION_PATH``; its ``run:`` steps go
through an offline ``python``: ``pip install`` is checked with ``--dry-run
--no-index`` to ask for nothing that is not installed already (``.``, modelreg's
own checkout, is the modelreg installed from this one; its constraint files are
this checkout's), and ``pip uninstall`` only checks the package is there. The
other actions are ones a sandbox already stands for: the checkout (the sandbox is
one), ``setup-python`` and the pip cache (the machine's), and artifact uploads
(the paths are recorded and must exist), including the Pages upload.

Each job gets its own ``github.token``: ``github_token(permissions)`` makes it
from the permissions the job is granted (its ``permissions:``, else the
workflow's, else GitHub's restricted default; a reusable workflow's job gets no
more than its caller's job grants, and asking for more fails, as on GitHub; a
fork's pull request gets read-only ones). Tests pass
``FakeGitHub.installation_token``, so a step that uses ``github.token`` where
another token is needed meets GitHub's 403.

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
from collections.abc import Callable, Mapping
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
)
_LOCAL_ACTION = "./.github/actions/"
# What a job's GITHUB_TOKEN may do when nothing says (GitHub's restricted default).
DEFAULT_PERMISSIONS = {"contents": "read", "packages": "read"}
_ALL_SCOPES = (
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
)
_LEVELS = {"none": 0, "read": 1, "write": 2}
# The offline ``python`` of composite actions' run: steps (see the module docstring):
# anything but ``-m pip install|uninstall`` goes to the next python on PATH.
_OFFLINE_PYTHON = """\
import os, re, shlex, shutil, subprocess, sys

ROOT = {root!r}
here = os.path.dirname(os.path.abspath(__file__))
path = os.pathsep.join(
    p for p in os.environ["PATH"].split(os.pathsep) if p and os.path.abspath(p) != here
)
real = shutil.which("python", path=path) or shutil.which("python3", path=path)
args = sys.argv[1:]
if args[:2] != ["-m", "pip"] or args[2:3] not in (["install"], ["uninstall"]):
    os.execv(real, [real, *args])
command, rest = args[2], args[3:]
if command == "uninstall":
    names = [a for a in rest if not a.startswith("-")]
    for name in names:
        if subprocess.run([real, "-m", "pip", "show", "-q", name]).returncode:
            sys.exit(f"offline pip: {{name}} is not installed: nothing to uninstall")
    print("offline pip: would uninstall " + " ".join(names))
    sys.exit(0)
checked, index = [], 0
while index < len(rest):
    arg = rest[index]
    if arg in ("-c", "--constraint", "-r", "--requirement"):
        given = rest[index + 1]
        if not os.path.isabs(given) and not os.path.exists(given):
            given = os.path.join(ROOT, given)  # modelreg's checkout's own file
        checked += [arg, given]
        index += 2
        continue
    if arg in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
        index += 2  # offline: no index
        continue
    local = re.fullmatch(r"\\.(\\[[^]]*\\])?", arg)
    if local:  # this checkout: modelreg, installed from ROOT
        where = subprocess.run(
            [real, "-c", "import modelreg; print(modelreg.__file__)"],
            capture_output=True, text=True,
        ).stdout.strip()
        if not where.startswith(os.path.join(ROOT, "src")):
            sys.exit(f"offline pip: modelreg is not installed from {{ROOT}} (it is {{where!r}})")
        arg = "modelreg" + (local.group(1) or "")
    checked.append(arg)
    index += 1
print("offline pip: install " + shlex.join(checked))
done = subprocess.run(
    [real, "-m", "pip", "install", "--dry-run", "--no-index", *checked],
    capture_output=True, text=True,
)
output = done.stdout + done.stderr
missing = [
    line for line in output.splitlines()
    if line.startswith("Would install") or "does not provide the extra" in line
]
if done.returncode or missing:
    sys.stderr.write(output)
    sys.exit("offline pip: asks for what is not installed here: " + "; ".join(missing))
"""
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
    permissions: dict[str, str] = field(default_factory=dict)
    token: str = ""

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)


def _granted(declared: Any) -> dict[str, str]:
    """The permissions a ``permissions:`` value grants (``None``: GitHub's default),
    without those it sets to ``none``."""
    if declared is None:
        return dict(DEFAULT_PERMISSIONS)
    if declared in ("read-all", "write-all"):
        return {scope: declared.removesuffix("-all") for scope in _ALL_SCOPES}
    assert isinstance(declared, Mapping), f"permissions: {declared!r} is not a mapping"
    for scope, level in declared.items():
        assert scope in _ALL_SCOPES and level in _LEVELS, f"permissions: {scope}: {level}"
    return {scope: level for scope, level in declared.items() if level != "none"}


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
        github_token: Callable[[dict[str, str]], str] | None = None,
        machine_inputs: dict[str, str] | None = None,
        actions_root: Path = ROOT,
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
        # Makes each job's github.token from the permissions it is granted.
        self.github_token = github_token
        # What differs on the test machine for a composite action's inputs (the CPU
        # build for a GPU runner's): applied over what the workflow passes.
        self.machine_inputs = machine_inputs or {}
        # Where ./.github/actions/... are read from: this checkout, or a changed copy.
        self.actions_root = actions_root

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
        permissions = self._permissions(document, job, caller, spec)
        token = self.github_token(permissions) if self.github_token else "workflow-token"
        self.github["token"] = token
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
            if uses.startswith(_LOCAL_ACTION):
                step_env = {k: substitute(str(v), context) for k, v in step.get("env", {}).items()}
                env = {**base_env, **read_outputs(env_file), **job_env, **step_env}
                run = self._composite(step, name, context, env, folder / f"action-{number}")
                runs.append(run)
                if "id" in step:
                    context["steps"][step["id"]] = {"outputs": run.outputs}
                if run.returncode != 0:
                    if check:
                        raise AssertionError(
                            f"{workflow} {job}: step {name!r} failed:\n{run.output}"
                        )
                    context["job_status"] = "failure"
                continue
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
        return JobRun(runs, summary.read_text(), job_outputs, uploaded, failed, permissions, token)

    def _permissions(
        self,
        document: dict[str, Any],
        job: str,
        caller: dict[str, Any] | None,
        spec: dict[str, Any],
    ) -> dict[str, str]:
        """What the job's GITHUB_TOKEN may do, as GitHub grants it."""
        if caller is None:
            granted = _granted(spec.get("permissions", document.get("permissions")))
        else:
            allowed = _granted(caller.get("permissions", document.get("permissions")))
            called = load_workflow(called_workflow(caller["uses"]))
            asked = spec.get("permissions", called.get("permissions"))
            granted = allowed if asked is None else _granted(asked)
            for scope, level in granted.items():
                assert _LEVELS[level] <= _LEVELS[allowed.get(scope, "none")], (
                    f"the nested job {job!r} is requesting '{scope}: {level}', but is only "
                    f"allowed '{scope}: {allowed.get(scope, 'none')}'"
                )
        head = self.github["event"].get("pull_request", {}).get("head", {})
        if head and head.get("repo", {}).get("full_name") != self.github["repository"]:
            # A fork's pull request: GitHub makes the token read-only.
            granted = {scope: "read" for scope in granted if scope != "id-token"}
        return granted

    def _composite(
        self,
        step: dict[str, Any],
        name: str,
        context: dict[str, Any],
        env: dict[str, str],
        folder: Path,
    ) -> StepRun:
        """Run a local composite action's steps, as a runner does (see the module
        docstring), in the job's environment ``env``."""
        directory = self.actions_root / step["uses"].removeprefix("./")
        action = yaml.safe_load((directory / "action.yml").read_text())
        assert action["runs"]["using"] == "composite", f"{name}: not a composite action"
        declared = action.get("inputs") or {}
        given = step.get("with") or {}
        unknown = (set(given) | set(self.machine_inputs)) - set(declared)
        assert not unknown, f"{name}: the action takes no inputs {sorted(unknown)}"
        inputs: dict[str, str] = {}
        for key, spec in declared.items():
            if key in given:
                inputs[key] = substitute(str(given[key]), context)
            else:
                assert "default" in spec or not spec.get("required"), f"{name}: no {key} given"
                inputs[key] = str(spec.get("default", ""))
        inputs.update(self.machine_inputs)
        inner: dict[str, Any] = {**context, "inputs": inputs, "steps": {}}
        folder.mkdir(parents=True, exist_ok=True)
        shim = folder / "bin" / "python"
        shim.parent.mkdir(exist_ok=True)
        shim.write_text(f"#!{sys.executable}\n" + _OFFLINE_PYTHON.format(root=str(ROOT)))
        shim.chmod(0o755)
        outputs: list[str] = []
        returncode = 0
        for number, part in enumerate(action["runs"]["steps"]):
            label = part.get("name") or part.get("uses") or f"step {number}"
            if not condition(part.get("if"), inner):
                continue
            if "uses" in part:
                assert part["uses"].startswith(_STOOD_FOR), f"{label}: cannot run {part['uses']}"
                continue
            assert part.get("shell") == "bash", f"{label}: a composite run: step needs shell: bash"
            output_file = folder / f"output-{number}"
            output_file.write_text("")
            part_env = {k: substitute(str(v), inner) for k, v in part.get("env", {}).items()}
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", part["run"]],
                cwd=self.repo,
                env={
                    **env,
                    **part_env,
                    "PATH": f"{shim.parent}{os.pathsep}{env['PATH']}",
                    "GITHUB_ACTION_PATH": str(directory),
                    "GITHUB_OUTPUT": str(output_file),
                },
                capture_output=True,
                text=True,
                timeout=600,
            )
            outputs.append(f"{label}:\n{done.stdout}{done.stderr}")
            if "id" in part:
                inner["steps"][part["id"]] = {"outputs": read_outputs(output_file)}
            if done.returncode != 0:
                returncode = done.returncode
                break
        declared_outputs = action.get("outputs") or {}
        values = {k: substitute(str(v["value"]), inner) for k, v in declared_outputs.items()}
        return StepRun(name, False, returncode, "".join(outputs), values)

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
