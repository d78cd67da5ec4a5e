"""Constant values written in the language: the right side of `x=2`, `m=[2,3]`, `t=pi/4`."""

from __future__ import annotations

import numpy as np

from gradcli.errors import ArgumentError, GradcliError, Span
from gradcli.language.program import parse


def parse_value(text: str) -> np.ndarray:
    """Evaluate a constant expression (no variables) to a float64 array."""
    program = parse(text)
    if program.free_variables:
        # a bad value (kind argument), not an unbound variable: no binding can give it one
        names = ", ".join(program.free_variables)
        plural = "s" if len(program.free_variables) > 1 else ""
        raise ArgumentError(
            f"a value may only use numbers and constants (pi, e, inf, nan), not the "
            f"name{plural} {names}",
            span=program._first_use[program.free_variables[0]],
            hint="write the number itself, e.g. x=2 or m=[2, 3] or t=pi/4")
    return np.asarray(program.evaluate({}).data, dtype=np.float64)


def parse_binding(text: str) -> tuple[str, np.ndarray]:
    """'name=value' -> (name, array). Errors point into the whole 'name=value' text."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ArgumentError(f"'{text}' is not a binding", span=Span(0, max(len(text), 1)),
                            hint="write NAME=VALUE, e.g. x=2 or m=[2,3]")
    if not (name.isidentifier()):
        raise ArgumentError(f"'{name}' is not a variable name", span=Span(0, len(name)),
                            hint="names are letters, digits and _, not starting with a digit")
    offset = len(text) - len(value)
    try:
        return name, parse_value(value)
    except GradcliError as exc:
        if exc.span is not None:
            exc.span = Span(exc.span.start + offset, exc.span.end + offset)
        raise
