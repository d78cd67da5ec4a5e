"""Numbers in strict JSON (RFC 8259 has no NaN or infinity, so they become strings),
and numbers for people: the one formatting the tables, warnings and pictures share."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_number(x: float) -> float | str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


# -- numbers for people: tables, warnings, pictures --------------------------------------
def fmt(x: float, precision: int | None) -> str:
    """One number as the tables show it: `precision` significant digits (None: as many
    as it takes to tell the double apart from every other, `1.0000001`), nan/inf/-inf,
    and no "-0"."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if precision is None:
        text = repr(float(x))
        text = text[:-2] if text.endswith(".0") else text
    else:
        text = f"{x:.{precision}g}"
    return "0" if text == "-0" else text


def fmt_array(value: Any, precision: int | None) -> str:
    """A value as the tables show it, on one line: `2`, `[1, -2, 3]`, `[[1, 2], [3, 4]]`."""
    if np.asarray(value).dtype.kind == "U":  # a text option, as in norm(A, ord='nuc')
        return repr(str(value))
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return fmt(float(array), precision)
    return "[" + ", ".join(fmt_array(v, precision) for v in array) + "]"


#: an array with more elements is shown in brief (its ends along each axis)
BRIEF_ELEMENTS = 8
#: elements kept at each end of a long axis, in brief
BRIEF_EDGE = 3


def fmt_brief(value: Any, precision: int | None = 6) -> str:
    """A value inside a message (a warning, a picture's label): the tables' one-line
    form, with a long axis shown as its ends, `[1, 2, 3, …, 8, 9, 10]`; an array of more
    than two dimensions and many elements is named by its shape and its ends. Warnings
    give precision None: a point just outside a domain (1.0000001) must not read as 1."""
    array = np.asarray(value)
    if array.dtype.kind == "U" or array.size <= BRIEF_ELEMENTS:
        return fmt_array(array, precision)
    array = np.asarray(array, dtype=np.float64)
    if array.ndim > 2:
        flat = array.reshape(-1)
        shape = "x".join(map(str, array.shape))
        return (f"[{fmt(float(flat[0]), precision)}, …, {fmt(float(flat[-1]), precision)}]"
                f" (shape {shape})")

    def axis(part: np.ndarray) -> str:
        if part.ndim == 0:
            return fmt(float(part), precision)
        items = [axis(p) for p in part] if len(part) <= 2 * BRIEF_EDGE else \
            [*map(axis, part[:BRIEF_EDGE]), "…", *map(axis, part[-BRIEF_EDGE:])]
        return "[" + ", ".join(items) + "]"

    return axis(array)
