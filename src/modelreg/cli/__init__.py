"""The ``modelreg`` command: a thin layer over :mod:`modelreg.api`.

Each command parses its arguments, calls one library function and renders the
result (a table for people, ``--json`` for programs). The group and the error
funnel are in :mod:`.app`; the commands, one module per part of the job, join
the group when imported here. Library modules are imported inside commands so
that ``modelreg --help`` stays fast.
"""

# Each command module adds its commands to the group when it is imported.
from modelreg.cli import (  # noqa: F401
    cards,
    checking,
    editing,
    importing,
    predicting,
    promotion,
    reading,
    registration,
    running,
    serving,
)
from modelreg.cli.app import cli, main

__all__ = ["cli", "main"]
