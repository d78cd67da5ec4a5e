"""Showing an error where it happened: the source line and a caret under the span."""

from __future__ import annotations

from gradcli.errors import GradcliError


def render_error(error: GradcliError, text: str | None) -> str:
    """Message, then the offending line with carets under the span, then the hint."""
    lines = [f"error: {error.message}"]
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
        lines.append(f"{prefix}{line}")
        column = start - line_start
        width = max(1, end - start)
        lines.append(" " * (len(prefix) + _display_width(line[:column])) + "^" * width)
    if error.hint:
        lines.append(f"hint: {error.hint}")
    return "\n".join(lines)


def _display_width(text: str) -> int:
    # tabs are shown as they are; everything else counts one column
    return len(text)
