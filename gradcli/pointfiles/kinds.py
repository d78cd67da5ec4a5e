"""What a value in a point file is: one rule for CSV, JSON lines, Parquet, Arrow and NPZ.

Every reader asks this module, so a value means the same whatever file it came in:

* **number**: what the format stores as a number: a JSON number; an integer, float or
  decimal column, list or array. CSV stores only text, so there a cell whose text reads
  as a number (Python's float syntax, after trimming blanks) is one. NaN and ±infinity are
  numbers everywhere (CSV `nan`/`inf`, JSON's common `NaN`/`Infinity` extension, a float
  NaN); `--strict` flags the rows they make non-finite. A number beyond the range of a
  double (`1e309`, a 400-digit integer) is not one: it would silently become infinity.
* **boolean**: never a number (JSON `true`, a bool column, a bool NPZ array): a bad row.
* **text**: never a number where the format has types (a JSON string, a string column,
  a string NPZ array): a bad row. (In CSV, see number.)
* **null**: a missing value (JSON `null` or a missing key, a null in a column or inside
  a list, an empty CSV cell): a bad row.
* **vector**: a JSON array, a list column, element columns (`m[0]`, `m[1]`) or an NPZ
  array's later axes, rectangular and of numbers, at most 64 levels deep. A variable has
  one shape for the whole file: the one the file declares where it declares one (element
  columns, a fixed-size list, an NPZ array), else the shape most rows of the first block
  have (ties: the earliest); a row of another shape is bad. So one odd first row no
  longer makes every correct row bad.
* In JSON lines, a key given twice in one object makes the row bad (as a duplicate CSV
  header is exit 2): neither value is silently preferred.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np

#: what counts as a number in a CSV cell (after trimming blanks), as Python's float()
NUMBER_TEXT = r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$"
#: how deep a vector may nest (numpy's limit on the number of axes)
MAX_DEPTH = 64


class TooLarge:
    """A JSON number beyond the range of a double, kept as its text for the message."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers the keys it was given twice (and both values)."""

    duplicates: dict[str, tuple[Any, Any]]


def _number(text: str) -> float | TooLarge:
    value = float(text)  # correctly rounded, for integers too (no digit limit)
    return TooLarge(text) if math.isinf(value) else value


def _object(pairs: list[tuple[str, Any]]) -> JsonObject:
    record = JsonObject()
    record.duplicates = {}
    for key, value in pairs:
        if key in record:
            record.duplicates.setdefault(key, (record[key], value))
        record[key] = value
    return record


def parse_json(text: str | bytes) -> Any:
    """JSON text as this rule reads it; ValueError (with `.msg`) for text that is not JSON
    or is nested too deeply to read."""
    try:
        return json.loads(text, parse_float=_number, parse_int=_number,
                          object_pairs_hook=_object)
    except RecursionError:
        error = ValueError("nested too deeply")
        error.msg = f"nested more than {MAX_DEPTH} deep"  # type: ignore[attr-defined]
        raise error from None


def shown(value: Any) -> str:
    """A value as a message quotes it: JSON's spelling, cut short."""
    if isinstance(value, TooLarge):
        return value.text[:40] + ("..." if len(value.text) > 40 else "")
    if isinstance(value, float | int | bool | str) or value is None:
        text = json.dumps(value)
    elif isinstance(value, dict):
        text = "an object"
    else:
        text = "an array"
    return text if len(text) <= 40 else text[:37] + "..."


def problem_of(name: str, value: Any) -> str | None:
    """Why a scalar value is not a number, or None if it is one."""
    if isinstance(value, bool | np.bool_):
        return f"{name} is {'true' if value else 'false'} (a boolean), not a number"
    if value is None:
        return f"{name} is null"
    if isinstance(value, TooLarge):
        return f"{name} is {shown(value)}, beyond the range of a double"
    if isinstance(value, str | bytes | np.str_):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        return f"{name} is the text {shown(text)}, not a number"
    if isinstance(value, dict):
        return f"{name} is {json.dumps(value)[:40]}, not a number or an array of numbers"
    if isinstance(value, int | float | Decimal | np.integer | np.floating):
        return None
    return f"{name} is {shown(value)}, not a number"


def value_of(name: str, value: Any) -> np.ndarray | str:
    """A parsed value (JSON, or a Parquet/Arrow cell as Python) as float64: a number, or a
    rectangular nested list of numbers; else the message saying why it is not one."""
    if not isinstance(value, list | tuple):
        problem = problem_of(name, value)
        return problem if problem is not None else np.asarray(float(value))
    stack: list[tuple[Sequence[Any], int]] = [(value, 1)]
    while stack:  # no recursion: a list may nest deeply
        items, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{name} is nested more than {MAX_DEPTH} deep"
        for item in items:
            if isinstance(item, list | tuple):
                stack.append((item, depth + 1))
                continue
            problem = problem_of(name, item)
            if problem is not None:
                return f"{name} holds {_inner(problem, name)}"
    try:
        return np.asarray(value, dtype=np.float64)
    except ValueError:
        return f"{name} is a ragged array (its rows differ in length)"


def _inner(problem: str, name: str) -> str:
    """`x is null` as an element's problem: `x holds null`, `x holds true (a boolean)`."""
    text = problem[len(name) + len(" is "):]
    return text.split(", not a number")[0]


def settle_shape(name: str, parsed: Sequence[np.ndarray | str],
                 shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The point shape of `name`: already known (declared by the file, or settled by an
    earlier block), else the most common shape among this block's values."""
    if name not in shapes:
        counts = Counter(v.shape for v in parsed if not isinstance(v, str))
        if counts:
            shapes[name] = counts.most_common(1)[0][0]  # ties: the first seen
    return shapes.get(name, ())


def shape_problem(name: str, shape: tuple[int, ...], expected: tuple[int, ...]) -> str:
    return f"{name} has shape {shape}, but the file's rows have shape {expected}"


__all__ = ["MAX_DEPTH", "NUMBER_TEXT", "JsonObject", "TooLarge", "parse_json", "problem_of",
           "settle_shape", "shape_problem", "shown", "value_of"]
