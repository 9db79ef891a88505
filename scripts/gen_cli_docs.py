"""Write docs/cli.md from the CLI's own --help texts (make docs; a test checks it is current)."""

from __future__ import annotations

import sys

import click

from modelreg.cli import cli

HEADER = """\
# modelreg command reference

Generated from `modelreg --help` by `make docs`; a test fails when this file and
the CLI disagree. Exit codes: 0 ok, 1 a modelreg error (one line on stderr naming
the file, the field and the fix), 2 a usage error.

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
