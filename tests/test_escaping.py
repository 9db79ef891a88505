"""Registry text is untrusted: every output shows it as literal text.

Descriptions, tags, reasons, deprecation reasons, author names and commit subjects
come from pull requests. Each renderer is fed hostile strings and its output is read
the way its audience reads it: Markdown rendered by a CommonMark parser (and checked
for what GitHub would link or mention), HTML parsed, terminal output scanned for
control characters, through the real renderers and the installed command.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import unicodedata
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from modelreg.api import Registry, promote, validate
from modelreg.cli import cli
from modelreg.core.errors import ModelregError
from modelreg.core.escape import control_characters, plain_text_problem
from modelreg.core.model import StagePointer
from modelreg.core.policy import Gate, gate_table
from modelreg.ops.promote import pull_body
from modelreg.ops.rollback import _pull_body as rollback_body
from modelreg.reporting.compare import Comparison, Row
from modelreg.reporting.compare import render_markdown as render_comparison
from modelreg.reporting.dashboard import _stage_card, _timeline
from modelreg.reporting.diff import RegistryDiff, RegistryEvent
from modelreg.reporting.diff import render_markdown as render_events
from modelreg.reporting.history import StageChange
from modelreg.reporting.report import timeline_chart
from tests import builders
from tests.conftest import RegistryFactory, Workspace

# Pieces an attacker would reach for, mixed with arbitrary characters.
ATTACKS = [
    "`", "``", "```", "|", "\\", "<", ">", "!", "[", "]", "(", ")", "@", "#", "*", "_",
    "~", "$", "&", ":", "/", ".", "-", "=", "+", " ", "\r", "\n", "\t", "\x00", "\x07",
    "\x1b", "\x7f", "\x85", "\x9b", "\x9d", "\u202e", "\u2066", "\u2028", "\ud83d",
    "<img src=https://evil.example/p.png>", "![x](https://evil.example/p.png)",
    "[click](javascript:alert(1))", "<script>alert(1)</script>", "<!--", "-->",
    "@org/team", "@alice", "https://evil.example", "www.evil.example", "me@evil.example",
    "#123", "&#64;", "&amp;", "\x1b[2J", "\x1b]0;pwned\x07", "\x1b]8;;http://e\x1b\\link",
    "\x1bP1$r\x1b\\", "retrained\r<!--", "1. ", "- ", "# ", "> ", "===", "---", "    ",
    "**b**", "_i_", "~~s~~", "$x$", "[^1]", "<https://evil.example>",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(ATTACKS), st.characters()), max_size=12).map("".join)
PROPERTY = settings(max_examples=200, deadline=None)
MARK = "\ue000"  # a private-use character that brackets a value in a page

markdown = MarkdownIt("commonmark").enable("table")
_INVISIBLE = re.compile("[\u2060\ufffd\u2400-\u2421]")
_CONTROL_CATEGORIES = {"Cc", "Cs"}
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)}
# What GitHub turns into a mention, a link or an issue reference in rendered text.
_GITHUB_LINKS = [
    re.compile(r"(?<![\w`])@[A-Za-z0-9]"),
    re.compile(r"(?i)\b(?:https?|ftp)://"),
    re.compile(r"(?i)\bwww\."),
    re.compile(r"[\w.+-]@[A-Za-z0-9-]+\.[A-Za-z]"),
    re.compile(r"#[0-9]"),
]


def printable(text: str) -> str:
    """The part of ``text`` a reader must see: no control or bidirectional characters,
    whitespace runs as one space (renderers may trim or fold them)."""
    kept = "".join(
        c
        for c in text.replace("\t", " ").replace("\n", " ")
        if unicodedata.category(c) not in _CONTROL_CATEGORIES and c not in _BIDI
    )
    return " ".join(_INVISIBLE.sub("", kept).split())


def shown(rendered: str) -> str:
    """Visible text of rendered text, compared the same way as :func:`printable`."""
    return " ".join(_INVISIBLE.sub("", rendered).split())


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []
        self.comments: list[str] = []
        self.cells: list[list[str]] = []
        self.outside_code: list[str] = []  # GitHub links and mentions nothing in code
        self._cell: list[str] | None = None
        self._code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(name for name, _ in attrs))))
        if tag == "tr":
            self.cells.append([])
        if tag in ("td", "th"):
            self._cell = []
        self._code += tag == "code"

    def handle_endtag(self, tag: str) -> None:
        self._code -= tag == "code"
        if tag in ("td", "th") and self._cell is not None:
            self.cells[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if not self._code:
            self.outside_code.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def parse_html(text: str) -> _Html:
    parser = _Html()
    parser.feed(text)
    parser.close()
    return parser


MARKDOWN_TAGS = {"table", "thead", "tbody", "tr", "th", "td", "p", "strong", "em", "code", "pre"}
MARKDOWN_TAGS |= {"h2", "h3", "h4", "blockquote"}


def read_markdown(text: str, *, allowed: set[str] = MARKDOWN_TAGS) -> _Html:
    """Render ``text`` as CommonMark (with tables) and check that it holds nothing
    a reader did not write: only the template's tags, no attributes but a code
    block's language, no comment, nothing GitHub would link or mention."""
    page = parse_html(markdown.render(text))
    assert {tag for tag, _ in page.tags} <= allowed, page.tags
    # Attributes only where the template puts them: a column's alignment, a code
    # block's language.
    allowed_attrs = {"th": ("style",), "td": ("style",), "code": ("class",)}
    assert all(a in ((), allowed_attrs.get(tag)) for tag, a in page.tags), page.tags
    assert all(c.startswith(" modelreg:") for c in page.comments), page.comments
    visible = html.unescape("".join(page.outside_code))
    for pattern in _GITHUB_LINKS:
        assert not pattern.search(visible), (pattern.pattern, visible)
    return page


def assert_terminal_safe(output: str) -> None:
    bad = [
        c
        for c in output
        if (unicodedata.category(c) in _CONTROL_CATEGORIES and c != "\n") or c in _BIDI
    ]
    assert not bad, bad


# --- Markdown: tables, pull request bodies, code fences -------------------------------


def _comparison(text: str) -> Comparison:
    return Comparison(
        model="digits",
        refs=("digits/1", "digits/2"),
        rows=(
            Row("version", "author", (f"{text} <a@example.com>", "Test Author")),
            Row("version", "description", (text, "plain")),
            Row("metrics", "accuracy", (0.9, 0.95), "higher"),
            Row("params", text or "empty", (text, 1)),
        ),
        same_params=0,
    )


@PROPERTY
@given(hostile)
def test_description_author_and_params_stay_in_their_compare_cells(text: str) -> None:
    page = read_markdown(render_comparison(_comparison(text)))
    rows = page.cells
    assert [len(row) for row in rows] == [4] * 5  # the header and every row, 4 columns
    assert shown(rows[1][2]) == printable(text)  # the author's name, all of it
    assert shown(rows[2][2]) == printable(text)
    assert shown(rows[4][2]) == printable(text)


@PROPERTY
@given(hostile, hostile)
def test_gate_details_and_deprecation_reasons_stay_in_the_gate_table(
    name: str, reason: str
) -> None:
    gates = [
        Gate("not deprecated", False, f"v2 is deprecated: {reason}", False),
        Gate(name, True, "0.95"),
    ]
    page = read_markdown(gate_table(gates))
    assert [len(row) for row in page.cells] == [3, 3, 3]
    assert shown(page.cells[1][2]) == printable(f"v2 is deprecated: {reason}")
    assert shown(page.cells[2][0]) == printable(name)


@PROPERTY
@given(hostile, hostile)
def test_reasons_and_tags_stay_in_the_events_table(reason: str, revision: str) -> None:
    found = RegistryDiff(
        base=revision,
        head="HEAD",
        base_commit="a" * 40,
        head_commit="b" * 40,
        events=(
            RegistryEvent("promoted", "digits", "p", version=2, stage="production",
                          previous=1, detail=reason),
            RegistryEvent("changed", "digits", "v", version=2, fields=(reason, "tags")),
        ),
    )  # fmt: skip
    page = read_markdown(render_events(found), allowed=MARKDOWN_TAGS)
    assert [len(row) for row in page.cells] == [5, 5, 5]
    assert shown(page.cells[1][4]) == printable(reason)
    assert page.tags[0] == ("h3", ())  # the heading, with the revision in a code span
    assert printable(revision) in shown("".join(page.text))


def _pointer(reason: str = "") -> StagePointer:
    return StagePointer("digits", "production", 1, since=datetime(2026, 1, 1, tzinfo=UTC),
                        reason=reason)  # fmt: skip


@PROPERTY
@given(hostile)
def test_a_rollback_pull_request_body_shows_the_reason_as_text(reason: str) -> None:
    body = rollback_body("digits", "production", 1, _pointer(), [], reason, "")
    page = read_markdown(body)
    tags = [tag for tag, _ in page.tags]
    assert tags == ["h2", "p", "p", "strong", "h3"] if reason else ["h2", "p", "h3"]
    if reason:
        assert f"Reason: {printable(reason)}".strip() in shown("".join(page.text))


@pytest.fixture
def two_versions(make_registry: RegistryFactory) -> Workspace:
    policies = {"production": {"require": {"accuracy": {"min": 0.9}}}}
    ws = make_registry({"digits": 2}, policies=policies, message="two versions")
    promote("digits", 1, "production", repo=ws.root)
    return ws


def test_a_promotion_pull_request_body_shows_the_reason_as_text(two_versions: Workspace) -> None:
    with Registry.open(two_versions.root) as registry:
        version = registry.version("digits", 2)
        current = registry.pointer("digits", "production")
        failing = [Gate("accuracy >= 0.99", False, "0.902")]

        @PROPERTY
        @given(hostile)
        def check(reason: str) -> None:
            body = pull_body(registry, version, "production", current, reason, failing, True)
            page = read_markdown(body)
            # Two tables (gates, comparison), the forced note quoting the reason.
            assert sum(tag == "table" for tag, _ in page.tags) == 2
            text = shown("".join(page.text))
            assert text.count(f"Reason: {printable(reason)}".strip()) == 1 + bool(reason)

        check()


@PROPERTY
@given(hostile)
def test_nothing_closes_a_code_fence(content: str) -> None:
    from modelreg.core.escape import code_fence

    page = read_markdown(code_fence(content) + "after\n")
    assert [tag for tag, _ in page.tags] == ["pre", "code", "p"]
    assert "".join(page.text).endswith("after\n")


@PROPERTY
@given(hostile)
def test_a_code_span_holds_its_text(text: str) -> None:
    from modelreg.core.escape import markdown_code

    page = read_markdown(f"x {markdown_code(text)} y")
    assert [tag for tag, _ in page.tags] == ["p", "code"]


@PROPERTY
@given(hostile)
def test_markdown_text_is_literal_even_at_the_start_of_a_line(text: str) -> None:
    from modelreg.core.escape import markdown_text

    page = read_markdown(markdown_text(text) + "\n\nend\n")
    assert [tag for tag, _ in page.tags] in (["p", "p"], ["p"])
    assert shown("".join(page.text)).startswith(printable(text))


@PROPERTY
@given(hostile)
def test_the_author_in_the_timeline_chart_cannot_leave_it(author: str) -> None:
    change = StageChange("digits", "production", False, "c" * 40, f"{author} <e@x>",
                         datetime(2026, 1, 1, tzinfo=UTC), 1, 2, "promoted", author, 7,
                         author, False)  # fmt: skip
    page = read_markdown(timeline_chart("digits", [change]) + "\n\nafter\n")
    assert [tag for tag, _ in page.tags] == ["pre", "code", "p"]


@pytest.mark.parametrize(
    "attack",
    [
        "<img src=https://evil.example/pixel.png>",
        "![pixel](https://evil.example/pixel.png)",
        "cc @org/team and @alice",
        "```\nescaped the fence",
        "retrained\r<!-- hidden",
        "see https://evil.example or www.evil.example",
    ],
)
def test_each_attack_from_the_issue_is_shown_not_acted_on(attack: str) -> None:
    # The compare table of a PR body, a reason in the events table and in a PR body.
    read_markdown(render_comparison(_comparison(attack)))
    diff = RegistryDiff("main", "HEAD", "a" * 40, "b" * 40, (
        RegistryEvent("promoted", "digits", "p", version=2, stage="production", detail=attack),
    ))  # fmt: skip
    page = read_markdown(render_events(diff))
    assert len(page.cells) == 2 and shown(page.cells[1][4]) == printable(attack)
    read_markdown(rollback_body("digits", "production", 1, _pointer(), [], attack, ""))


# --- HTML: the dashboard --------------------------------------------------------------


@PROPERTY
@given(hostile)
def test_dashboard_timeline_and_cards_hold_text_only(text: str) -> None:
    def page(value: str) -> str:
        change = StageChange("digits", "production", False, "c" * 40, f"{value} <e@x>",
                             datetime(2026, 1, 1, tzinfo=UTC), 1, 2, "promoted", value, 7,
                             value, False)  # fmt: skip
        pulls = "https://github.com/o/r/pull/"
        return _timeline([change], pulls) + _stage_card("production", _pointer(value))

    assume(MARK not in text)
    got, expected = parse_html(page(MARK + text + MARK)), parse_html(page("x"))
    assert got.tags == expected.tags  # the same elements and attributes, no more
    assert not got.comments
    quoted = re.findall(f"{MARK}(.*?){MARK}", "".join(got.text), re.DOTALL)
    assert [shown(q) for q in quoted] == [printable(text)] * 3  # author, two reasons


def test_html_text_escapes_quotes_for_attributes() -> None:
    from modelreg.core.escape import html_text

    attribute = f'<a title="{html_text(chr(34) + " onmouseover=alert(1) x=" + chr(39))}">'
    [(tag, names)] = parse_html(attribute).tags
    assert (tag, names) == ("a", ("title",))


# --- terminal -------------------------------------------------------------------------


@PROPERTY
@given(hostile)
def test_terminal_text_has_no_control_sequence(text: str) -> None:
    from modelreg.core.escape import terminal_text

    assert_terminal_safe(terminal_text(text))
    assert_terminal_safe(terminal_text(text, newlines=True))
    assert printable(terminal_text(text)) == printable(text)


@PROPERTY
@given(hostile)
def test_json_for_the_terminal_reads_back_equal(text: str) -> None:
    from modelreg.core.escape import terminal_json

    document = {"reason": text, text: [text]}
    printed = terminal_json(json.dumps(document, ensure_ascii=False, indent=2))
    assert_terminal_safe(printed)
    assert json.loads(printed) == document


@PROPERTY
@given(hostile)
def test_every_markdown_function_makes_control_characters_visible(text: str) -> None:
    from modelreg.core.escape import (
        code_fence,
        html_text,
        markdown_cell,
        markdown_code,
        markdown_text,
    )

    for escaped in (markdown_text(text), markdown_cell(text), markdown_code(text)):
        assert_terminal_safe(escaped)
        assert "\n" not in escaped
    assert_terminal_safe(code_fence(text).replace("\t", " "))  # a tab is code's own
    assert_terminal_safe(html_text(text))


AUTHOR = "Eve\x1b]0;pwned title\x07\x1b[2J"
SUBJECT = "promote\x1b[2J \x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m\u202eevil"


@pytest.fixture
def hostile_history(make_registry: RegistryFactory) -> Workspace:
    """A promotion committed by an author whose git user.name and subject carry escape
    sequences: a screen clear, a window title (OSC 0) and a hyperlink (OSC 8)."""
    ws = make_registry({"digits": 1}, message="register digits 1")
    builders.write_pointer(ws.root, "digits", "production", 1)
    ws.git("add", "-A")
    ws.git("-c", f"user.name={AUTHOR}", "commit", "-q", "-m", SUBJECT)
    return ws


def test_history_piped_shows_escape_sequences_as_text(
    hostile_history: Workspace, modelreg_exe: str
) -> None:
    done = subprocess.run(
        [modelreg_exe, "--repo", str(hostile_history.root), "history", "digits"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x9b" not in done.stdout
    assert_terminal_safe(done.stdout)
    assert "promote␛[2J" in done.stdout and "Eve␛]0;pwned title" in done.stdout
    as_json = subprocess.run(
        [modelreg_exe, "--repo", str(hostile_history.root), "history", "digits", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert_terminal_safe(as_json.stdout)
    [change] = json.loads(as_json.stdout)["changes"]
    assert change["author"].startswith("Eve\x1b]0;pwned title")  # the data is intact


def test_the_report_and_dashboard_show_a_hostile_git_author_as_text(
    hostile_history: Workspace, tmp_path: Path
) -> None:
    runner = CliRunner()
    root = str(hostile_history.root)
    report = runner.invoke(cli, ["--repo", root, "report", "--base", "HEAD~1"])
    assert report.exit_code == 0, report.output
    assert_terminal_safe(report.output)
    # The promoted version's model card: a collapsed block holding a list.
    card = {"details", "summary", "ul", "li"}
    read_markdown(report.output, allowed=MARKDOWN_TAGS | {"h2", "h3", "h4"} | card)
    done = runner.invoke(cli, ["--repo", root, "dashboard", "--out", str(tmp_path / "site")])
    assert done.exit_code == 0, done.output
    page = parse_html((tmp_path / "site" / "index.html").read_text(encoding="utf-8"))
    assert "Eve␛]0;pwned title" in "".join(page.text)
    assert not any(c in "".join(page.text) for c in "\x1b\x9b\u202e")


# --- refused at input -----------------------------------------------------------------


def test_validate_refuses_a_carriage_return_in_a_reason(offline_registry: Workspace) -> None:
    ws = offline_registry
    builders.write_version(ws.root, "digits", 1)
    builders.write_pointer(ws.root, "digits", "production", 1, reason="retrained\r<!--")
    report = validate(ws.root, offline=True)
    assert not report.ok
    [finding] = report.errors
    assert "registry/digits/stages/production.yaml" in finding.render()
    assert "control character" in finding.render()


@pytest.mark.parametrize("field", ["description", "tags.note", "deprecation.reason", "author"])
def test_validate_refuses_an_escape_in_any_text_field(
    offline_registry: Workspace, field: str
) -> None:
    ws = offline_registry
    value = "ok\x1b[2J"
    fields: dict[str, Any] = {
        "description": {"description": value},
        "tags.note": {"tags": {"note": value}},
        "deprecation.reason": {"deprecation": {"date": builders.CREATED, "reason": value}},
        "author": {"author": value},
    }[field]
    builders.write_version(ws.root, "digits", 1, **fields)
    report = validate(ws.root, offline=True)
    assert [f"{field}: " in f.render() and "control character" in f.render()
            for f in report.errors] == [True]  # fmt: skip


def test_a_newline_and_a_tab_in_a_description_are_still_text(
    offline_registry: Workspace,
) -> None:
    builders.write_version(offline_registry.root, "digits", 1, description="one\n\ttwo")
    assert validate(offline_registry.root, offline=True).ok


@pytest.mark.parametrize(
    "args",
    [
        ["deprecate", "digits", "1", "--reason", "old\x1b[2J"],
        ["promote", "digits", "1", "--to", "production", "--reason", "retrained\r<!--"],
        ["rollback", "digits", "--stage", "production", "--reason", "\x9b31m"],
        ["register", "digits", "--weights", "w.pt", "--description", "x\x1b]0;t\x07"],
        ["register", "digits", "--weights", "w.pt", "--tag", "note=\x1b[2J"],
    ],
)
def test_text_options_refuse_control_characters(
    offline_registry: Workspace, modelreg_exe: str, args: list[str]
) -> None:
    builders.write_version(offline_registry.root, "digits", 1)
    offline_registry.commit_all("v1")
    (offline_registry.root / "w.pt").write_bytes(b"weights")
    before = offline_registry.git("rev-parse", "HEAD")
    done = subprocess.run(
        [modelreg_exe, "--repo", str(offline_registry.root), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=offline_registry.root,
    )
    assert done.returncode == 2, done.stderr
    assert "control characters (U+" in done.stderr
    assert "Traceback" not in done.stderr
    assert_terminal_safe(done.stderr)
    assert offline_registry.git("rev-parse", "HEAD") == before


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (["promote", "digits", "1", "--to", "production"], "retrained\nsee <!--"),
        (["rollback", "digits", "--stage", "production"], "bad\x1b[2J"),
        (["deprecate", "digits", "1"], "leaked\nlabels"),
    ],
)
def test_a_bad_reason_reads_the_same_from_the_command_and_the_library(
    offline_registry: Workspace, modelreg_exe: str, command: list[str], reason: str
) -> None:
    """One rule, one wording: the command refuses it as a usage error (exit 2, a line
    break included), the library with an InputError, both from plain_text_problem."""
    from modelreg.api import deprecate, rollback

    builders.write_version(offline_registry.root, "digits", 1)
    builders.write_pointer(offline_registry.root, "digits", "production", 1)
    offline_registry.commit_all("v1 in production")
    before = offline_registry.git("rev-parse", "HEAD")
    problem = plain_text_problem(reason, one_line=True)
    assert problem is not None

    done = subprocess.run(
        [modelreg_exe, "--repo", str(offline_registry.root), *command, "--reason", reason],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"Invalid value for '--reason': {problem}" in done.stderr
    assert "Traceback" not in done.stderr

    verb = {"promote": promote, "rollback": rollback, "deprecate": deprecate}[command[0]]
    arguments = {
        "promote": ("digits", 1, "production"),
        "rollback": ("digits", "production"),
        "deprecate": ("digits", 1),
    }[command[0]]
    with pytest.raises(ModelregError) as refused:
        verb(*arguments, repo=offline_registry.root, reason=reason)  # type: ignore[operator]
    assert str(refused.value) == f"--reason {problem}"
    assert offline_registry.git("rev-parse", "HEAD") == before


# --- benchmark.yml: what goes into the pull request comment ---------------------------


def test_promote_check_markdown_keeps_a_hostile_deprecation_reason_in_its_cell(
    two_versions: Workspace, modelreg_exe: str
) -> None:
    reason = "old\n```\n<img src=https://evil.example/p.png>\n@org/team ![x](https://e.example/x)"
    path = two_versions.root / "registry/digits/versions/2.yaml"
    document = yaml.safe_load(path.read_text())
    document["deprecation"] = {"date": builders.CREATED, "reason": reason}
    builders.write_version(two_versions.root, "digits", 2, **document)
    two_versions.commit_all("deprecate v2")
    done = subprocess.run(
        [modelreg_exe, "--repo", str(two_versions.root), "promote", "digits", "2",
         "--to", "production", "--check", "--markdown"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the version is deprecated: the gate fails
    page = read_markdown(done.stdout)
    assert [len(row) for row in page.cells] == [3, 3, 3]
    assert shown(page.cells[1][2]) == printable(f"v2 is deprecated: {reason}")


def test_benchmark_workflow_writes_only_markdown_modelreg_escaped() -> None:
    workflow = Path(__file__).parent.parent / ".github" / "workflows" / "reusable-benchmark.yml"
    steps = yaml.safe_load(workflow.read_text())["jobs"]["benchmark"]["steps"]
    [script] = [s["run"] for s in steps if s.get("id") == "bench"]
    # No fence opened by the shell around raw command output: a line of that output
    # could close it. The commands write their own escaped Markdown.
    assert "```" not in script
    writes = re.compile(r"modelreg (benchmark|promote)")
    commands = [line for line in script.splitlines() if writes.search(line)]
    assert len(commands) == 2 and all("--markdown" in line for line in commands)


def test_the_library_refuses_a_reason_with_an_escape(two_versions: Workspace) -> None:
    from modelreg.api import rollback
    from modelreg.core.errors import InputError

    head = two_versions.git("rev-parse", "HEAD")
    with pytest.raises(InputError, match=r"control characters \(U\+001B\)"):
        promote("digits", 2, "production", repo=two_versions.root, reason="ok\x1b[2J")
    with pytest.raises(InputError, match=r"control characters \(U\+009B\)"):
        rollback("digits", "production", repo=two_versions.root, reason="\x9b31m")
    assert two_versions.git("rev-parse", "HEAD") == head


# --- every manifest text field, through the commands that show it ---------------------


def _write_v2(root: Path, description: str, tag: str, reason: str, author: str) -> None:
    builders.write_version(
        root,
        "digits",
        2,
        description=description,
        tags={"note": tag},
        deprecation={"date": builders.CREATED, "reason": reason},
        author=author,
    )


def _dashboard_tags(root: Path) -> list[tuple[str, tuple[str, ...]]]:
    site = root.parent / "site"
    done = CliRunner().invoke(cli, ["--repo", str(root), "dashboard", "--out", str(site)])
    assert done.exit_code == 0, done.output
    page = parse_html((site / "index.html").read_text(encoding="utf-8"))
    assert not page.comments
    return page.tags


@pytest.fixture(scope="module")
def field_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[tuple[str, tuple[str, ...]]]]:
    """digits v1 in a registry whose v2 each example rewrites, and the dashboard's
    elements when v2's text is plain."""
    root = tmp_path_factory.mktemp("fields") / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    builders.write_config(root)
    builders.write_version(root, "digits", 1)
    _write_v2(root, "plain", "plain", "plain", "plain")
    return root, _dashboard_tags(root)


FIELDS = ("description", "tag", "deprecation reason", "author")
FIELD_MARKS = ("\ue001", "\ue002", "\ue003", "\ue004")  # one private-use bracket per field


# What a manifest can hold (the schema refuses control characters, and UTF-8 has no
# lone surrogates): everything else an attacker would write, unrefused, so each of the
# 200 examples reaches the renderers.
storable = st.lists(
    st.one_of(
        st.sampled_from([a for a in ATTACKS if not control_characters(a) and "\ud83d" not in a]),
        st.characters(exclude_categories=("Cc", "Cs")),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.tuples(storable, storable, storable, storable))
def test_any_text_in_any_manifest_field_shows_as_text(
    field_registry: Path, values: tuple[str, str, str, str]
) -> None:
    """200 hostile strings in each text field of a version: a value with a control
    character is refused in one line naming the file; any other shows as literal text
    in the terminal (show), in Markdown (compare --markdown, read as CommonMark) and
    in HTML (the dashboard)."""
    root, plain_tags = field_registry
    marks = FIELD_MARKS
    assume(not any(m in v for v in values for m in marks))
    _write_v2(root, *(m + v + m for m, v in zip(marks, values, strict=True)))
    runner = CliRunner()
    show = runner.invoke(cli, ["--repo", str(root), "show", "digits/2"])
    surrogates = any("\ud800" <= c <= "\udfff" for v in values for c in v)
    if surrogates or any(control_characters(v) for v in values):
        # Refused as the file is read; main() prints this message as one line. (A lone
        # surrogate cannot be written as UTF-8 at all: the YAML holds an escape.)
        assert isinstance(show.exception, ModelregError), show.output
        message = str(show.exception)
        assert "\n" not in message and message.startswith("registry/digits/versions/2.yaml:")
        assert surrogates or "control character" in message
        return
    assert show.exit_code == 0, show.output
    assert_terminal_safe(show.output)

    def quoted(text: str) -> dict[str, set[str]]:
        return {
            name: {shown(q) for q in re.findall(f"{mark}(.*?){mark}", text, re.DOTALL)}
            for name, mark in zip(FIELDS, marks, strict=True)
        }

    expected = {name: {printable(v)} for name, v in zip(FIELDS, values, strict=True)}
    # show prints the tag and the author in full (the description's first line only).
    seen = quoted(show.output)
    assert (seen["tag"], seen["author"]) == (expected["tag"], expected["author"])

    compare = runner.invoke(cli, ["--repo", str(root), "compare", "digits", "1", "2", "--markdown"])
    assert compare.exit_code == 0, compare.output
    page = read_markdown(compare.output)
    assert len({len(row) for row in page.cells}) == 1  # every row keeps its columns
    in_cells = quoted("\n".join(cell for row in page.cells for cell in row))
    assert all(in_cells[name] <= expected[name] for name in FIELDS), in_cells
    assert in_cells["author"] == expected["author"]

    assert _dashboard_tags(root) == plain_tags  # the same elements, no more
    text = parse_html((root.parent / "site" / "index.html").read_text(encoding="utf-8")).text
    in_page = quoted("".join(text))
    assert all(in_page[name] <= expected[name] for name in FIELDS), in_page
