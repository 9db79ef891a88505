"""Findings as GitHub Actions sees them: annotations on the files, and the job summary.

A runner reads every line a step prints that starts with ``::`` as a workflow
command, so text from a pull request must never start one: values are escaped the
way the runner unescapes them (``%``, ``\\r``, ``\\n``; and ``:`` and ``,`` in
properties), and :func:`command_pause` brackets output that quotes registry text
so that nothing in it is read as a command at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from modelreg.core.escape import markdown_cell

if TYPE_CHECKING:
    from modelreg.core.findings import Finding

__all__ = ["annotation", "command_pause", "findings_summary"]


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    """``::error file=F,line=L,title=T::message``, one line whatever the finding holds."""
    level = "error" if finding.severity == "error" else "warning"
    properties = [f"file={_property(finding.path)}"]
    if finding.line:
        properties.append(f"line={finding.line}")
    title = f"{finding.code}: {finding.field}" if finding.field else finding.code
    properties.append(f"title={_property(title)}")
    return f"::{level} {','.join(properties)}::{_data(finding.message)}"


def command_pause() -> tuple[str, str]:
    """The two lines that bracket output in which the runner must read no command.

    ``::stop-commands::TOKEN`` turns processing off until a line ``::TOKEN::``; the
    token is random per call, so text printed in between cannot guess it and turn
    processing back on early.
    """
    token = secrets.token_hex(16)
    return f"::stop-commands::{token}", f"::{token}::"


def findings_summary(findings: Iterable[Finding], summary_line: str) -> str:
    """The job summary's section: one table row per finding, every cell escaped."""
    rows = [
        f"| {markdown_cell(f.severity)} | {markdown_cell(f.path)} | "
        f"{f.line or ''} | {markdown_cell(f.field)} | {markdown_cell(f.message)} |"
        for f in findings
    ]
    lines = ["### modelreg validate", "", markdown_cell(summary_line), ""]
    if rows:
        lines += ["| severity | file | line | field | problem |", "|---|---|---|---|---|", *rows]
    return "\n".join(lines) + "\n"
