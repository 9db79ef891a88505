"""Write docs/cli.md from the CLI's own --help texts (make docs; a test checks it is current)."""

from __future__ import annotations

import sys

import click

from modelreg.cli import cli

HEADER = """\
# modelreg command reference

Generated from `modelreg --help` by `make docs`; a test fails when this file and
the CLI disagree.

## Exit codes

Every command keeps this contract, through the installed `modelreg` command and
`python -m modelreg` alike, so that a CI step or a script can rely on it
(tests/test_exit_codes.py runs the real executable on a failure path of each):

| code | meaning |
|---|---|
| 0 | success: the command did what it says, the check passed |
| 1 | any error or failed check (see below); one line on stderr, `error: ...`, names the \
file, the field and the fix; never a traceback (`--traceback` adds one) |
| 2 | usage: an unknown command or option, a missing or malformed argument |
| 130 | interrupted (Ctrl-C, SIGINT) |

Exit 1 covers `validate` findings, a failed gate (`promote --check`), a refused or
failed promotion, rollback or write, a failed import (any model), a server that
cannot start (a busy port, a version it cannot load), and a file system refusal.

"""


def render() -> str:
    parts = [HEADER]
    settings = {**cli.context_settings, "terminal_width": 100}
    with click.Context(cli, info_name="modelreg", **settings) as context:
        parts.append(f"## modelreg\n\n```\n{cli.get_help(context)}\n```\n")
        for name in cli.list_commands(context):
            command = cli.get_command(context, name)
            assert command is not None
            with click.Context(command, info_name=name, parent=context, **settings) as sub:
                parts.append(f"\n## modelreg {name}\n\n```\n{command.get_help(sub)}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
