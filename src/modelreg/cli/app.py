"""The ``modelreg`` group, its shared options and renderers, and :func:`main`.

:func:`main` is the one place errors become exit codes: 0 ok, 1 a modelreg error
(one line on stderr), 2 a usage error, 130 an interrupt.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from modelreg import __version__
from modelreg.core.escape import terminal_json, terminal_text

if TYPE_CHECKING:
    from modelreg.api import (
        Registry,
        VersionStatus,
    )

__all__ = ["Options", "cli", "main", "pass_options"]


class Options:
    def __init__(self, repo: Path | None) -> None:
        self.repo = repo

    def registry(self) -> Registry:
        from modelreg.api import Registry

        return Registry.open(self.repo)


pass_options = click.make_pass_decorator(Options)


def emit_json(document: Any) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    click.echo(terminal_json(text))


_quiet = False  # -q: nothing on stdout but what --json asks for


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """Print for people. Everything this module prints goes through here (JSON through
    :func:`emit_json`): registry text comes from pull requests, so an escape sequence
    in it must show as text, not clear the screen or retitle the window. With -q only
    stderr (errors, warnings) is written."""
    if _quiet and not err:
        return
    click.echo(terminal_text(message, newlines=True), err=err, nl=nl)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns, no trailing spaces; on a terminal the last column is cut to fit.
    Each cell is one line of plain text: a newline or control character in a value
    cannot break the table or reach the terminal."""
    shown = [[terminal_text(cell) for cell in row] for row in [columns, *rows]]
    widths = [max(len(r[i]) for r in shown) for i in range(len(columns))]
    limit = shutil.get_terminal_size((10_000, 24)).columns if sys.stdout.isatty() else 10_000
    lines = [title] if title else []
    for row in shown:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        line = "  ".join(cells).rstrip()
        if len(line) > limit:
            line = line[: limit - 1] + "…"
        lines.append(line)
    echo("\n".join(lines))


def terminal_progress() -> bool:
    """Whether progress may be drawn: stderr is a terminal, not CI, not -q."""
    return sys.stderr.isatty() and not os.environ.get("CI") and not _quiet


@contextlib.contextmanager
def progress_bar(*, transfer: bool = False) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback ``(what, done, total)`` drawn on stderr when it is a terminal
    (never in CI or a pipe, where it would only be noise); None elsewhere. With
    ``transfer``, each ``what`` gets its own bar in bytes with the speed; otherwise one
    bar whose label follows ``what``. The bars are cleared when the block ends."""
    if not terminal_progress():
        yield None
        return
    from rich.progress import DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (
        (TextColumn("{task.description}"), DownloadColumn(), TransferSpeedColumn())
        if transfer
        else Progress.get_default_columns()
    )
    with Progress(*columns, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def advance(what: str, done: int, total: int) -> None:
            key = what if transfer else ""
            label = terminal_text(what)
            if key not in tasks:
                tasks[key] = bar.add_task(label, total=total)
            bar.update(tasks[key], description=label, completed=done, total=total)

        yield advance


def date_text(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def first_line(text: str, width: int = 60) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def status_text(status: VersionStatus | None, deprecated: bool) -> str:
    parts: list[str] = []
    if status is not None:
        parts += list(status.stages)
        parts += [f"canary in {s}" for s in status.canary_in]
        parts += [f"@{a}" for a in status.aliases]
        if status.archived:
            parts.append("archived")
    if deprecated:
        parts.append("deprecated")
    return ", ".join(parts) or "-"


def flat(mapping: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested parameters as dotted names: {"train": {"lr": 1}} -> [("train.lr", 1)]."""
    items: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            items += flat(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def metric_text(value: float) -> str:
    return f"{value:.4g}"


def plain_text(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse text for the registry that holds control characters (tab and newline
    aside): a carriage return or an escape in a description or tag would act in
    every terminal, table and pull request that later shows it. The library checks
    the same rule with the same words; here a bad value is a usage error (exit 2)."""
    return _check_text(value, one_line=False)


def one_line_text(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """:func:`plain_text` for a value that must also be one line (a reason)."""
    return _check_text(value, one_line=True)


def _check_text(value: Any, *, one_line: bool) -> Any:
    from modelreg.core.escape import plain_text_problem

    for text in value if isinstance(value, tuple) else (value,):
        problem = plain_text_problem(text or "", one_line=one_line)
        if problem is not None:
            raise click.BadParameter(problem)
    return value


def _completer(kind: str) -> Callable[[click.Context, click.Parameter, str], list[str]]:
    """A shell completer for ``kind`` (models, refs, stages) in the registry that the
    command line names with --repo, or the one enclosing the current folder."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        from modelreg.core import completion
        from modelreg.core.errors import ModelregError
        from modelreg.core.source import find_repo_root

        repo = ctx.find_root().params.get("repo")
        try:
            root = find_repo_root(Path(repo) if repo else Path.cwd())
        except ModelregError:
            return []
        found: list[str] = getattr(completion, f"complete_{kind}")(root, incomplete)
        return found

    return complete


complete_model = _completer("models")
complete_ref = _completer("refs")
complete_stage = _completer("stages")


@click.group(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
        # Every option can come from the environment: MODELREG_REPO for --repo,
        # MODELREG_<COMMAND>_<OPTION> for a command's (MODELREG_SERVE_PORT=9000).
        "auto_envvar_prefix": "MODELREG",
    }
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The registry's git repository (default: the one enclosing the current folder).",
)
@click.option("--traceback", is_flag=True, help="On an error, show the full traceback too.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Show each git and DVC operation on stderr as it ends."
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Print nothing but errors (and what --json asks for)."
)
@click.version_option(__version__, prog_name="modelreg")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, traceback: bool, verbose: bool, quiet: bool) -> None:
    """A GitOps model registry: versions and stages are reviewed YAML in Git, weights live in DVC.

    References name versions as MLflow and GTO users write them: NAME, NAME/3,
    NAME/latest, NAME@production (a stage or alias), NAME/Production, NAME@v1.2.3 (a
    semantic version), each with or without the models:/ prefix.
    """
    if verbose and quiet:
        raise click.UsageError("give -v or -q, not both")
    global _quiet
    _quiet = quiet
    from modelreg.core.trace import set_hook

    # Set (or cleared) on every run: in-process callers run the group more than once.
    set_hook((lambda line: click.echo(f"· {terminal_text(line)}", err=True)) if verbose else None)
    ctx.obj = Options(repo)


# --- entry point -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of raising SystemExit."""
    from modelreg.core.errors import ModelregError

    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in args
    try:
        # Outside standalone mode click *returns* the code of ctx.exit(N) instead of
        # raising it: that value is the command's exit code and must not be dropped.
        code = cli.main(args=args, prog_name="modelreg", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        return int(exit_.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort as abort:
        # click turns Ctrl-C into Abort; the shell convention for SIGINT is 128 + 2.
        if isinstance(abort.__cause__, KeyboardInterrupt):
            echo("interrupted", err=True)
            return 130
        echo("aborted", err=True)
        return 1
    except ModelregError as exc:
        if show_traceback:
            import traceback

            traceback.print_exc()
        echo(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # The file system refused (a folder that is a file, no space, no permission):
        # the user's environment, not a bug; say what and where in one line.
        if show_traceback:
            import traceback

            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        echo(f"error: {exc.strerror or exc}{where}", err=True)
        return 1
    except Exception as exc:  # a bug, not bad input
        if show_traceback:
            import traceback

            traceback.print_exc()
        echo(
            f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
            "(this is a bug in modelreg; rerun with --traceback and report it)",
            err=True,
        )
        return 1
    return code if isinstance(code, int) else 0
