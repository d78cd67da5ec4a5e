"""Showing an error where it happened: the source line and a caret under the span.

What the user typed is shown so that it can always be read and pointed at:

* control and format characters (tab, CR, BEL, a right-to-left override) are
  shown escaped (`\\t`, `\\r`, `\\x07`, `\\u202e`), and bytes that were not
  UTF-8 as `\\xff`; the caret is placed by the width of what is shown, so it
  stays under the right character, as it does after wide (CJK) characters;
* a huge input (a million-character expression or name) is elided, keeping its
  start, the place the error points at, and its end, so a message stays a few
  lines long.

`elide` and `shown` are also used for table titles.
"""

from __future__ import annotations

import re
import unicodedata

from gradcli.errors import GradcliError

#: longest source line shown whole; longer lines keep their ends and the error's place
LINE_MAX = 120
#: characters kept on each side of an elision
KEEP = 30
#: longest word (a name, a file path, a sub-expression) shown whole inside a message
WORD_MAX = 300
#: longest message or hint shown whole
MESSAGE_MAX = 1000

_ESCAPES = {"\t": "\\t", "\r": "\\r", "\n": "\\n", "\x07": "\\a", "\x08": "\\b",
            "\x0b": "\\v", "\x0c": "\\f", "\x1b": "\\e"}
_LONG_WORD = re.compile(rf"\S{{{WORD_MAX + 1},}}")


def escape_char(c: str) -> str:
    """How one character is shown: itself, or an escape if it is invisible or unsafe."""
    if c in _ESCAPES:
        return _ESCAPES[c]
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if c.isprintable() or c == " ":
        return c
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown(text: str) -> str:
    """`text` with every invisible or unsafe character escaped."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(escape_char(c) for c in text)


def _width(shown_text: str) -> int:
    """Terminal columns: wide characters take two, combining marks none."""
    if shown_text.isascii():
        return len(shown_text)
    total = 0
    for c in shown_text:
        if unicodedata.combining(c):
            continue
        total += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return total


def elide(text: str, limit: int = LINE_MAX, keep: int = KEEP) -> str:
    """A long text as its start, '…' and its end; short texts unchanged."""
    if len(text) <= limit:
        return text
    return text[:keep] + "…" + text[-keep:]


def elide_words(text: str) -> str:
    """A message with every over-long word elided, and the whole capped."""
    if len(text) > WORD_MAX:
        text = _LONG_WORD.sub(lambda m: elide(m.group(), WORD_MAX, WORD_MAX // 5), text)
    return shown(elide(text, MESSAGE_MAX, MESSAGE_MAX // 2 - 1))


def _pieces(length: int, start: int, end: int) -> list[tuple[int, int]]:
    """The ranges of a long line worth showing: its ends, and the span's ends with context."""
    if length <= LINE_MAX:
        return [(0, length)]
    wanted = [(0, KEEP), (start - KEEP // 2, min(end, start + KEEP)),
              (max(start, end - KEEP), end + KEEP // 2), (length - KEEP, length)]
    merged: list[tuple[int, int]] = []
    for a, b in sorted((max(0, a), min(length, b)) for a, b in wanted):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def source_with_caret(line: str, start: int, end: int) -> tuple[str, str]:
    """The line as shown, and the caret line under [start, end) of it."""
    shown_parts: list[str] = []
    caret_parts: list[str] = []
    previous_end: int | None = None
    for a, b in _pieces(len(line), start, end):
        if previous_end is not None:
            shown_parts.append("…")
            inside = start < a and previous_end < end
            caret_parts.append("^" if inside else " ")
        for i in range(a, b):
            piece = escape_char(line[i])
            shown_parts.append(piece)
            caret_parts.append(("^" if start <= i < end else " ") * _width(piece))
        previous_end = b
    if end > len(line) or start >= len(line):  # the span is the end of the line
        caret_parts.append("^")
    return "".join(shown_parts), "".join(caret_parts).rstrip()


def render_error(error: GradcliError, text: str | None) -> str:
    """Message, then the offending line with carets under the span, then the hint."""
    lines = [f"error: {elide_words(error.message)}"]
    span = error.span
    if text is not None and span is not None:
        start = max(0, min(span.start, len(text)))
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        line = text[line_start:line_end]
        end = max(start + 1, min(span.end, line_end if line_end > start else start + 1))
        number = text.count("\n", 0, start) + 1
        prefix = f"  {number} | " if "\n" in text else "  "
        source, carets = source_with_caret(line, start - line_start, end - line_start)
        lines.append(f"{prefix}{source}")
        lines.append(" " * len(prefix) + carets)
    if error.hint:
        lines.append(f"hint: {elide_words(error.hint)}")
    return "\n".join(lines)
