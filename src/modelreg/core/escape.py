"""Registry text made safe for each place it is shown: one function per output kind.

Descriptions, tags, reasons, author names, metric and parameter names come from
pull requests, so they are untrusted (DESIGN invariant 8). Each output kind has
exactly one escaping function here, and every writer of that kind uses it:

=====================  ======================  =========================================
output                 function                what it guarantees
=====================  ======================  =========================================
Markdown text          :func:`markdown_text`   literal text: no HTML, link, image,
                                               emphasis, autolink, @-mention or #ref
Markdown table cell    :func:`markdown_cell`   the same, on one line, ``|`` kept in the cell
Markdown code span     :func:`markdown_code`   a span the content cannot close
Markdown code fence    :func:`code_fence`      a fence the content cannot close
terminal               :func:`terminal_text`   no control character or escape sequence
terminal, JSON text    :func:`terminal_json`   the same for ``json.dumps`` output
HTML text / attribute  :func:`html_text`       no markup, quotes escaped
=====================  ======================  =========================================

Control characters are replaced by something visible in every kind (C0 by its
Unicode "control picture", ``\\r`` as ``␍``; C1, bidirectional overrides and lone
surrogates as ``�``), so a hidden ``\\r<!--`` or ``\\e[2J`` shows up instead of acting.
"""

from __future__ import annotations

import html
import re

__all__ = [
    "code_fence",
    "control_characters",
    "html_text",
    "markdown_cell",
    "markdown_code",
    "markdown_text",
    "plain_text_problem",
    "terminal_json",
    "terminal_text",
]

_REPLACEMENT = "\ufffd"
# U+2060 WORD JOINER: invisible and zero-width, but it breaks the patterns GitHub
# links after rendering (an entity or a backslash would not: GitHub finds @-mentions,
# #references and bare URLs in the rendered text, where both have been undone).
_JOINER = "\u2060"

# Code points that change how a terminal or a renderer treats the text that follows:
# C0 and DEL (escape sequences start with ESC), C1 (0x9b is a one-byte CSI), the
# bidirectional embeddings, overrides and isolates ("Trojan source"), the Unicode line
# and paragraph separators, and lone surrogates (undecodable bytes from git).
_UNSAFE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
_UNSAFE[0x7F] = "\u2421"
_UNSAFE.update(dict.fromkeys(range(0x80, 0xA0), _REPLACEMENT))
_UNSAFE.update(dict.fromkeys((*range(0x202A, 0x202F), *range(0x2066, 0x206A)), _REPLACEMENT))
_UNSAFE.update(dict.fromkeys((0x2028, 0x2029), _REPLACEMENT))
# What json.dumps(ensure_ascii=False) leaves raw (it escapes C0 itself, and the
# newlines of its indentation are not in a string).
_JSON_UNSAFE = re.compile(
    "["
    + "".join(re.escape(chr(code)) for code in sorted(_UNSAFE) if code >= 0x20)
    + "\ud800-\udfff]"
)

_ONE_LINE = {**_UNSAFE, ord("\n"): " ", ord("\t"): " "}
_LINES = {**_ONE_LINE, ord("\n"): "\n"}
_CODE = {**_LINES, ord("\t"): "\t"}

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# The ASCII punctuation that means something inline in CommonMark or on GitHub:
# emphasis, code, links and images (with "[" escaped, "!", "(" and "^" are inert),
# HTML and autolinks (with "<" escaped, ">" is), entities, table pipes,
# strikethrough, math. The rest stays, so "accuracy >= 0.95 (+1.2%)" reads plainly.
_MEANINGFUL = re.compile(r"[\\`*_\[\]<|~$&]")
# At the start of a line "-", "+", "=", "#" and ">" open a block (a list, a thematic
# break, a setext or ATX heading, a quote), as do digits with "." or ")" (a list).
_BLOCK_START = frozenset("-+=#>")
_LIST_NUMBER = re.compile(r"([0-9]{1,9})[.)]")
_AUTOLINK = re.compile(r"(?i)(?<=@)|(?<=#)|(?<=:)(?=//)|(?<=www)(?=\.)")
_BACKTICKS = re.compile("`+")
_INFO = re.compile(r"[A-Za-z0-9_+-]*")


def control_characters(text: str) -> list[str]:
    """The control characters in ``text`` a registry file may not hold (all of C0
    but tab and newline, DEL, C1), each as ``U+XXXX``; empty when it has none."""
    return [f"U+{ord(c):04X}" for c in dict.fromkeys(_CONTROL.findall(text))]


def plain_text_problem(text: str, *, one_line: bool = False) -> str | None:
    """Why ``text`` may not be written into the registry as given, or None if it may.

    The one rule for text that commands take (descriptions, tags, reasons), so the
    CLI's usage check and the library's say the same words: no control character
    (they would act in every terminal and page that shows the text), and, for a
    ``one_line`` value such as a reason, no line break. The answer completes a
    sentence that starts with the option's name.
    """
    found = control_characters(text)  # a carriage return among them
    if found:
        return f"contains control characters ({', '.join(found)}); write plain text"
    if one_line and "\n" in text:
        return "must be one line"
    return None


def _visible(text: str, table: dict[int, str]) -> str:
    return _SURROGATE.sub(_REPLACEMENT, text.translate(table))


def terminal_text(text: object, *, newlines: bool = False) -> str:
    """``text`` for a terminal: every control character and escape sequence made
    visible and inert. Newlines stay only with ``newlines=True`` (else a space)."""
    return _visible(str(text), _LINES if newlines else _ONE_LINE)


def terminal_json(text: str) -> str:
    """JSON text from ``json.dumps(..., ensure_ascii=False)`` for a terminal.

    ``json.dumps`` escapes C0 but writes C1, DEL, bidirectional overrides and lone
    surrogates as they are; they become ``\\uXXXX`` escapes, so the document reads
    back equal and the terminal interprets nothing.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def markdown_text(text: object) -> str:
    """``text`` as literal Markdown inline text, on one line.

    Every ASCII punctuation character with a meaning here is backslash-escaped
    (CommonMark: nothing after it has meaning), so no HTML, link, image, emphasis,
    code span or table pipe survives, and the text cannot start a block when it
    starts a line; a word joiner after ``@`` and ``#`` and inside ``://`` and
    ``www.`` keeps GitHub from mentioning people, referencing issues or linking.
    """
    # Leading spaces would indent a code block; a paragraph drops them anyway.
    escaped = _inline(text).lstrip(" ")
    number = _LIST_NUMBER.match(escaped)
    if number:  # "1. x" or "1) x" would open an ordered list
        return f"{number.group(1)}\\{escaped[number.end(1) :]}"
    if escaped[:1] in _BLOCK_START:  # "- x", "+ x", "---", "===" (a setext underline)
        return f"\\{escaped}"
    return escaped


def markdown_cell(text: object) -> str:
    """``text`` for one cell of a Markdown table: as :func:`markdown_text` (one line,
    ``|`` escaped), less the guard against opening a block, which a cell cannot."""
    return _inline(text)


def _inline(text: object) -> str:
    plain = _AUTOLINK.sub(_JOINER, _visible(str(text), _ONE_LINE))
    return _MEANINGFUL.sub(r"\\\g<0>", plain)


def markdown_code(text: object) -> str:
    """``text`` as a Markdown code span on one line, for names people copy (a
    revision, a command): GitHub neither links nor mentions inside it. The span's
    backtick string is longer than any run of backticks in the text."""
    body = _visible(str(text), _ONE_LINE) or " "  # "``" would be no span at all
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    ticks = "`" * (longest + 1)
    # CommonMark strips one space from each end of a span, so padding keeps a
    # backtick at either end from joining the delimiter.
    ends = body[:1] + body[-1:]
    pad = " " if "`" in ends or (ends == "  " and body.strip(" ")) else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def code_fence(content: str, info: str = "") -> str:
    """``content`` in a fenced code block it cannot close or escape from.

    The fence is one backtick longer than the longest run of backticks in the
    content (at least three), so no line of it closes the block; ``\\r`` (a line
    ending to CommonMark) and other control characters are made visible.
    ``info`` (a language name) must be letters, digits, ``_``, ``+`` or ``-``.
    """
    if not _INFO.fullmatch(info):
        raise ValueError(f"not a code fence language: {info!r}")
    body = _visible(content, _CODE)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    if body and not body.endswith("\n"):
        body += "\n"
    return f"{fence}{info}\n{body}{fence}\n"


def html_text(text: object) -> str:
    """``text`` for HTML element content or a quoted attribute value."""
    return html.escape(_visible(str(text), _LINES), quote=True)
