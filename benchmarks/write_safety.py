"""Kill -9 and race trials of the registry's writers, as whole processes.

Shared by ``benchmarks/crash_check.py``, ``benchmarks/concurrent_promote.py`` and
``tests/test_write_safety.py``, so the test suite's small sample and the 50-trial
runs judge with the same code. Everything goes through the installed ``modelreg``
command (and, for the MLflow plugin, a python process using ``MlflowClient``): the
promises checked are the ones a user meets, not those of the library's internals.

A :class:`Sandbox` is one folder holding a registry clone (``repo``), its bare
``origin``, a local DVC remote and a home with its own git config. The template is
built once at the trial path and copied aside; every trial copies it back
(``cp -a``), so the DVC remote's absolute path stays right and each trial starts
from the same commit.

A kill trial starts a writer in its own session, SIGKILLs the whole process group
(git and DVC children too) at a given moment, then checks, in this order: HEAD holds
nothing new or the complete change, the tree is clean (right after the kill, else
after the next modelreg command, ``validate``), ``validate`` passes, and the next
command (the same one again, or its inverse when the change had landed) works and
leaves a clean tree without ``*.tmp`` files. A race trial starts two promotions of
one stage behind a barrier (the second released at once or a little later, where the
stale read lies) and checks that every promotion commit records the version
the stage really held before it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MODEL = "digits"
STAGE = "production"
POINTER = f"registry/{MODEL}/stages/{STAGE}.yaml"
ALIAS = "champion"
TIMEOUT_S = 120.0

# The plugin write, as user code would make it. It prints "ready" once mlflow is
# imported and the client has read the registry, and "done" after the write: kills
# land in the write, not in the seconds of `import mlflow` or of MLflow's exit.
PLUGIN_SCRIPT = """\
import sys, warnings
warnings.simplefilter("ignore")
import mlflow
root, alias, version = sys.argv[1:4]
client = mlflow.MlflowClient(registry_uri="modelreg://" + root)
client.get_registered_model("digits")
print("ready", flush=True)
client.set_registered_model_alias("digits", alias, version)
print("done", flush=True)
"""

# Waits for the go file, then becomes the command (same pid): both racers start their
# real work within a fraction of a millisecond of each other.
BARRIER_SCRIPT = """\
import os, sys, time
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.0002)
time.sleep(float(sys.argv[3]))
os.execv(sys.argv[4], sys.argv[4:])
"""


def modelreg_exe() -> str:
    """The installed console script beside this interpreter."""
    exe = Path(sys.executable).parent / "modelreg"
    if not exe.is_file():
        raise SystemExit("the modelreg console script is not installed: pip install -e .")
    return str(exe)


@dataclass(frozen=True)
class Sandbox:
    """One scratch folder: clone, bare origin, DVC remote, inputs and an isolated home."""

    base: Path

    @property
    def repo(self) -> Path:
        return self.base / "repo"

    @property
    def origin(self) -> Path:
        return self.base / "origin.git"

    @property
    def remote(self) -> Path:
        return self.base / "dvc-remote"

    @property
    def weights(self) -> Path:
        return self.base / "inputs" / "model.pt"

    def env(self) -> dict[str, str]:
        """The caller's environment with git, DVC and MLflow pointed into the sandbox."""
        home = self.base / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            {
                "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
                "GIT_CONFIG_NOSYSTEM": "1",
                "DVC_NO_ANALYTICS": "1",
                "DVC_SITE_CACHE_DIR": str(self.base / "dvc-site-cache"),
                "MLFLOW_TRACKING_URI": f"sqlite:///{self.base / 'mlflow.db'}",
                "NO_COLOR": "1",
            }
        )
        return env

    def run(self, argv: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=cwd or self.repo,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )

    def git(self, *args: str) -> str:
        done = self.run(["git", *args])
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def modelreg(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([modelreg_exe(), *args])

    def must(self, *args: str) -> str:
        done = self.modelreg(*args)
        if done.returncode != 0:
            raise RuntimeError(f"modelreg {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def show(self, rev: str, path: str) -> str | None:
        """``path`` at ``rev``, or None where it does not exist there."""
        done = self.run(["git", "show", f"{rev}:{path}"])
        return done.stdout if done.returncode == 0 else None

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def status(self) -> list[str]:
        return self.git("status", "--porcelain", "--untracked-files=all").splitlines()

    def temp_files(self) -> list[str]:
        """``*.tmp`` files in the work tree outside .git (DVC's own, under .dvc/, apart)."""
        return sorted(
            str(p.relative_to(self.repo))
            for p in self.repo.rglob("*.tmp")
            if p.relative_to(self.repo).parts[0] != ".git"
        )


def build_template(work: Path, promotions: Sequence[int]) -> Sandbox:
    """A registry with versions 1-3 of ``digits`` and ``promotions`` to production, built
    at ``work/trial`` with modelreg itself, pushed to origin and copied to
    ``work/template``. Returns the trial sandbox (reset it before each trial)."""
    sandbox = Sandbox(work / "trial")
    shutil.rmtree(work, ignore_errors=True)
    for folder in (sandbox.repo, sandbox.remote, sandbox.weights.parent, sandbox.base / "home"):
        folder.mkdir(parents=True)
    (sandbox.base / "home" / ".gitconfig").write_text(
        "[user]\n\tname = Test Author\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    sandbox.run(["git", "init", "-q", "--bare", str(sandbox.origin)], cwd=sandbox.base)
    sandbox.git("init", "-q")
    sandbox.git("commit", "-q", "--allow-empty", "-m", "start")
    sandbox.git("remote", "add", "origin", str(sandbox.origin))
    sandbox.must("init", "--remote", str(sandbox.remote), "--commit")
    for number in (1, 2, 3):
        sandbox.weights.write_bytes(f"weights of version {number}\n".encode() * 256)
        sandbox.must("register", MODEL, *register_args(sandbox))
    sandbox.weights.write_bytes(b"weights of the next version\n" * 256)
    for number in promotions:
        sandbox.must("promote", MODEL, str(number), "--to", STAGE)
    sandbox.git("push", "-q", "-u", "origin", "main")
    subprocess.run(["cp", "-a", str(sandbox.base), str(work / "template")], check=True)
    return sandbox


def register_args(sandbox: Sandbox) -> list[str]:
    return ["--weights", str(sandbox.weights), "--metrics", '{"accuracy": 0.95}', "--commit"]


def reset(sandbox: Sandbox) -> str:
    """Put the trial folder back to the template (a fresh ``cp -a``); returns HEAD."""
    shutil.rmtree(sandbox.base)
    subprocess.run(
        ["cp", "-a", str(sandbox.base.parent / "template"), str(sandbox.base)], check=True
    )
    return sandbox.head()


# --- the writers -------------------------------------------------------------------


def version_numbers(sandbox: Sandbox) -> list[int]:
    listing = sandbox.git("ls-tree", "--name-only", "HEAD", f"registry/{MODEL}/versions/")
    return sorted(int(Path(line).stem) for line in listing.splitlines())


def field_at(sandbox: Sandbox, path: str, key: str, rev: str = "HEAD") -> str | None:
    """One top-level scalar of a YAML file at ``rev`` (plain text: the files are
    modelreg's own and the check must not share modelreg's parser)."""
    text = sandbox.show(rev, path)
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    return None


def trailer(sandbox: Sandbox, rev: str, key: str) -> str | None:
    out = sandbox.git("log", "-1", f"--format=%(trailers:key={key},valueonly)", rev).strip()
    return out or None


def plugin_argv(sandbox: Sandbox, version: int) -> list[str]:
    return [sys.executable, "-c", PLUGIN_SCRIPT, str(sandbox.repo), ALIAS, str(version)]


@dataclass(frozen=True)
class Writer:
    """A command that changes the registry, how to tell that HEAD holds its change, and
    the natural next command once it has landed (with the state that one must leave)."""

    name: str
    argv: Callable[[Sandbox], list[str]]
    done: Callable[[Sandbox], bool]
    then_argv: Callable[[Sandbox], list[str]]
    then_done: Callable[[Sandbox], bool]
    prints_ready: bool = False


def _pointer(sandbox: Sandbox) -> tuple[str | None, str | None]:
    return field_at(sandbox, POINTER, "version"), field_at(sandbox, POINTER, "previous")


def _deprecated(sandbox: Sandbox) -> bool:
    text = sandbox.show("HEAD", f"registry/{MODEL}/versions/3.yaml") or ""
    return "\ndeprecation:" in text


WRITERS: dict[str, Writer] = {
    # Template: versions 1-3, production went 1 then 2.
    "register": Writer(
        "register",
        lambda s: [modelreg_exe(), "register", MODEL, *register_args(s)],
        lambda s: version_numbers(s) == [1, 2, 3, 4],
        lambda s: [modelreg_exe(), "register", MODEL, *register_args(s)],
        lambda s: version_numbers(s) == [1, 2, 3, 4, 5],
    ),
    "promote": Writer(
        "promote",
        lambda s: [modelreg_exe(), "promote", MODEL, "3", "--to", STAGE],
        lambda s: _pointer(s) == ("3", "2") and trailer(s, "HEAD", "Modelreg-Previous") == "2",
        lambda s: [modelreg_exe(), "rollback", MODEL, "--stage", STAGE],
        lambda s: _pointer(s)[0] == "2",
    ),
    "rollback": Writer(
        "rollback",
        lambda s: [modelreg_exe(), "rollback", MODEL, "--stage", STAGE],
        lambda s: _pointer(s)[0] == "1" and trailer(s, "HEAD", "Modelreg-Event") == "rollback",
        lambda s: [modelreg_exe(), "promote", MODEL, "2", "--to", STAGE],
        lambda s: _pointer(s) == ("2", "1"),
    ),
    "deprecate": Writer(
        "deprecate",
        lambda s: [modelreg_exe(), "deprecate", MODEL, "3", "--reason", "bad", "--commit"],
        _deprecated,
        lambda s: [modelreg_exe(), "deprecate", MODEL, "3", "--undo", "--commit"],
        lambda s: not _deprecated(s),
    ),
    "plugin-alias": Writer(
        "plugin-alias",
        lambda s: plugin_argv(s, 3),
        lambda s: field_at(s, f"registry/{MODEL}/aliases/{ALIAS}.yaml", "version") == "3",
        lambda s: plugin_argv(s, 1),
        lambda s: field_at(s, f"registry/{MODEL}/aliases/{ALIAS}.yaml", "version") == "1",
        prints_ready=True,
    ),
}


# --- kill trials -------------------------------------------------------------------


def start(sandbox: Sandbox, writer: Writer) -> tuple[subprocess.Popen[str], float]:
    """Start ``writer`` in its own session; returns it and the moment its window opens
    (start, or its "ready" line for the plugin)."""
    process = subprocess.Popen(
        writer.argv(sandbox),
        cwd=sandbox.repo if not writer.prints_ready else sandbox.base,
        env=sandbox.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    if writer.prints_ready and process.stdout is not None:
        process.stdout.readline()
    return process, time.monotonic()


def duration(sandbox: Sandbox, writer: Writer) -> float:
    """Seconds ``writer`` takes from its window's start to exit (the plugin: to its
    "done" line), on a fresh copy; it must succeed and leave its change in HEAD."""
    reset(sandbox)
    process, opened = start(sandbox, writer)
    if writer.prints_ready and process.stdout is not None:
        process.stdout.readline()
    else:
        process.wait(timeout=TIMEOUT_S)
    seconds = time.monotonic() - opened
    _, err = process.communicate(timeout=TIMEOUT_S)
    if process.returncode != 0 or not writer.done(sandbox):
        raise RuntimeError(f"{writer.name} does not work uninterrupted: {err.strip()}")
    if seconds <= 0.0:
        raise RuntimeError(f"{writer.name} took no measurable time: the timing is wrong")
    return seconds


@dataclass
class KillTrial:
    """What one SIGKILL left behind, and whether the next commands coped."""

    writer: str
    kill_at_s: float
    exited_before_kill: bool = False
    head_after_kill: str = ""  # "before", "after" (the complete change) or "partial"
    status_after_kill: list[str] = field(default_factory=list)
    temp_after_kill: list[str] = field(default_factory=list)
    validate_rc: int = -1
    validate_says: str = ""
    status_after_validate: list[str] = field(default_factory=list)
    next_argv: str = ""
    next_rc: int = -1
    next_says: str = ""
    next_result_ok: bool = False
    status_after_next: list[str] = field(default_factory=list)
    temp_after_next: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clean_after_kill(self) -> bool:
        return not self.status_after_kill

    @property
    def clean_after_validate(self) -> bool:
        return not self.status_after_validate

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": not self.problems}


def head_state(sandbox: Sandbox, before: str, writer: Writer) -> str:
    new = sandbox.git("rev-list", f"{before}..HEAD").split()
    if not new:
        return "before"
    return "after" if len(new) == 1 and writer.done(sandbox) else "partial"


def kill_trial(sandbox: Sandbox, writer: Writer, kill_at_s: float) -> KillTrial:
    """Reset, run ``writer``, SIGKILL its process group ``kill_at_s`` into its window,
    then check what it left behind and that the next commands need no cleanup."""
    trial = KillTrial(writer.name, round(kill_at_s, 4))
    before = reset(sandbox)
    process, opened = start(sandbox, writer)
    time.sleep(max(0.0, opened + kill_at_s - time.monotonic()))
    trial.exited_before_kill = process.poll() is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=TIMEOUT_S)

    trial.head_after_kill = head_state(sandbox, before, writer)
    trial.status_after_kill = sandbox.status()
    trial.temp_after_kill = sandbox.temp_files()
    validated = sandbox.modelreg("validate")
    trial.validate_rc = validated.returncode
    trial.validate_says = first_line(validated.stdout + validated.stderr)
    trial.status_after_validate = sandbox.status()

    landed = trial.head_after_kill == "after"
    argv = writer.then_argv(sandbox) if landed else writer.argv(sandbox)
    following = sandbox.run(argv, cwd=sandbox.base if writer.prints_ready else sandbox.repo)
    trial.next_argv = describe(argv)
    trial.next_rc = following.returncode
    trial.next_says = first_line(following.stderr) or first_line(following.stdout)
    new = len(sandbox.git("rev-list", f"{before}..HEAD").split())
    trial.next_result_ok = (writer.then_done if landed else writer.done)(sandbox) and new == (
        2 if landed else 1
    )
    trial.status_after_next = sandbox.status()
    trial.temp_after_next = sandbox.temp_files()
    trial.problems = kill_problems(trial)
    return trial


def describe(argv: Sequence[str]) -> str:
    """A command line for the report: the program's name, scripts elided."""
    return " ".join([Path(argv[0]).name, *("<script>" if "\n" in a else a for a in argv[1:])])


def first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def kill_problems(trial: KillTrial) -> list[str]:
    """The acceptance rules broken by one trial, one phrase each (empty: it passed)."""
    problems = []
    if trial.head_after_kill == "partial":
        problems.append("HEAD holds a partial change")
    if trial.status_after_validate:
        problems.append(f"tree dirty after kill and validate: {trial.status_after_validate[:4]}")
    if trial.validate_rc != 0:
        problems.append(f"validate exited {trial.validate_rc}: {trial.validate_says}")
    if trial.next_rc != 0:
        problems.append(f"next command exited {trial.next_rc}: {trial.next_says}")
    elif not trial.next_result_ok:
        problems.append("next command's result is wrong (version/pointer/commit count)")
    if trial.status_after_next:
        problems.append(f"tree dirty after the next command: {trial.status_after_next[:4]}")
    stray = [p for p in trial.temp_after_next if not p.startswith(".dvc/")]
    if stray:
        problems.append(f"*.tmp left after the next command: {stray[:4]}")
    return problems


def outcome(trial: KillTrial) -> str:
    """A short label to count trials by."""
    if not trial.problems:
        return "ok"
    return trial.problems[0].split(":")[0]


# --- race trials -------------------------------------------------------------------


@dataclass
class PromoteCommit:
    """One commit that moved the pointer, with what it claims and what was there."""

    commit: str
    event: str | None
    version: str | None
    previous_in_file: str | None
    previous_trailer: str | None
    held_before: str | None


@dataclass
class RaceTrial:
    """Two promotions of one stage started together, and what they left."""

    stagger_s: float = 0.0
    exit_codes: list[int] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    commits: list[PromoteCommit] = field(default_factory=list)
    final_version: str | None = None
    validate_rc: int = -1
    status_after: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def winners(self) -> int:
        return self.exit_codes.count(0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": not self.problems, "winners": self.winners}


def previous_trailer(sandbox: Sandbox, commit: str) -> str | None:
    """``Modelreg-Previous``; the first promotion of a stage writes ``none`` there."""
    value = trailer(sandbox, commit, "Modelreg-Previous")
    return None if value in (None, "none") else value


def pointer_log(sandbox: Sandbox) -> list[PromoteCommit]:
    """Every first-parent commit that touched the pointer, oldest first."""
    commits = sandbox.git("rev-list", "--first-parent", "--reverse", "HEAD", "--", POINTER)
    found = []
    for commit in commits.split():
        found.append(
            PromoteCommit(
                commit=commit[:12],
                event=trailer(sandbox, commit, "Modelreg-Event"),
                version=field_at(sandbox, POINTER, "version", commit),
                previous_in_file=field_at(sandbox, POINTER, "previous", commit),
                previous_trailer=previous_trailer(sandbox, commit),
                held_before=field_at(sandbox, POINTER, "version", f"{commit}^"),
            )
        )
    return found


def race_duration(sandbox: Sandbox) -> float:
    """Seconds one uninterrupted promotion takes in the race template: the scale of
    the staggers, since the stale read happens when the second process reads after
    the first has read but before it commits."""
    reset(sandbox)
    started = time.monotonic()
    sandbox.must("promote", MODEL, "2", "--to", STAGE)
    return time.monotonic() - started


def race_trial(
    sandbox: Sandbox, versions: Sequence[int] = (2, 3), stagger_s: float = 0.0
) -> RaceTrial:
    """Reset, start ``promote`` of each of ``versions`` behind one barrier (the second
    ``stagger_s`` later), and check the outcome and the pointer's first-parent history."""
    trial = RaceTrial(stagger_s=round(stagger_s, 4))
    before = reset(sandbox)
    go = sandbox.base / "go"
    racers = []
    for index, number in enumerate(versions):
        ready = sandbox.base / f"ready-{number}"
        delay = str(stagger_s if index else 0.0)
        argv = [modelreg_exe(), "promote", MODEL, str(number), "--to", STAGE]
        racers.append(
            subprocess.Popen(
                [sys.executable, "-c", BARRIER_SCRIPT, str(go), str(ready), delay, *argv],
                cwd=sandbox.repo,
                env=sandbox.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + TIMEOUT_S
    while not all((sandbox.base / f"ready-{n}").exists() for n in versions):
        if time.monotonic() > deadline:
            raise RuntimeError("the racers never reached the barrier")
        time.sleep(0.001)
    go.touch()
    for racer in racers:
        _, err = racer.communicate(timeout=TIMEOUT_S)
        trial.exit_codes.append(racer.returncode)
        trial.stderr.append(err.strip())
    trial.commits = pointer_log(sandbox)
    trial.final_version = field_at(sandbox, POINTER, "version")
    trial.validate_rc = sandbox.modelreg("validate").returncode
    trial.status_after = sandbox.status()
    new = len(sandbox.git("rev-list", f"{before}..HEAD").split())
    trial.problems = race_problems(trial, new)
    return trial


def race_problems(trial: RaceTrial, new_commits: int) -> list[str]:
    problems = []
    if any(code not in (0, 1) for code in trial.exit_codes):
        problems.append(f"exit codes {trial.exit_codes} (only 0 and 1 are allowed)")
    if trial.winners == 0:
        problems.append("neither promotion won")
    if new_commits != trial.winners:
        problems.append(f"{trial.winners} exited 0 but {new_commits} commits landed")
    for code, err in zip(trial.exit_codes, trial.stderr, strict=True):
        if code == 1 and len(err.splitlines()) != 1:
            problems.append(f"the loser's stderr is {len(err.splitlines())} lines, not one")
    for c in trial.commits:
        if c.event != "promote":
            continue
        if c.previous_in_file != c.held_before or c.previous_trailer != c.held_before:
            problems.append(
                f"stale previous in {c.commit}: file {c.previous_in_file}, trailer "
                f"{c.previous_trailer}, but the stage held {c.held_before}"
            )
    if trial.commits and trial.final_version != trial.commits[-1].version:
        problems.append("the pointer is not what the last commit wrote")
    if trial.validate_rc != 0:
        problems.append(f"validate exited {trial.validate_rc}")
    if trial.status_after:
        problems.append(f"tree dirty after the race: {trial.status_after[:4]}")
    return problems
