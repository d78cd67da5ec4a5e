"""Points as chunks: what every reader yields, and how text cells become numbers.

A chunk keeps every record of its stretch of input in order. Good rows' values
are arrays with one leading axis (the points); a bad row (a cell that is not a
number, a missing column, a vector of the wrong length, bytes that are not
UTF-8) stays in the chunk with its message, so the output holds one record per
input record. Which file formats exist and how each is read live in the
`read_*` modules; `gradcli.pointfiles.readers.open_reader` picks one (a module of its
own, so the readers can import this one without an import cycle).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from gradcli.pointfiles.formats import PointFileError
from gradcli.pointfiles.kinds import (
    NUMBER_TEXT,
    parse_json,
    settle_shape,
    shape_problem,
    value_of,
)

if TYPE_CHECKING:
    import pyarrow as pa


__all__ = ["Chunk", "Layout", "PointFileError", "PointReader"]

_ELEMENT = re.compile(r"^(?P<name>[^\W\d]\w*)\[(?P<index>\d+(?:\s*,\s*\d+)*)\]$")


class Chunk:
    """Records in input order. `good[k]` says whether record k has values."""

    __slots__ = ("errors", "good", "lines", "values")

    def __init__(self, lines: np.ndarray, good: np.ndarray, values: dict[str, np.ndarray],
                 errors: dict[int, str]):
        #: the file line each record starts on (the record number for columnar formats)
        self.lines = lines
        self.good = good
        #: for the good rows only, in order: name -> array (good rows, *point shape)
        self.values = values
        #: position in the chunk -> what is wrong with that record
        self.errors = errors

    def __len__(self) -> int:
        return len(self.lines)


class PointReader(Protocol):
    #: the expression's variables that this input gives values for, in the expression's order
    provided: list[str]
    #: per-point shapes known before any row is read (vector element columns, list types)
    shapes: dict[str, tuple[int, ...]]

    def chunks(self) -> Iterator[Chunk]: ...

    def close(self) -> None: ...


# -- column layout ---------------------------------------------------------------------
class Layout:
    """Which columns make up which variable: `x`, or element columns `m[0]`, `m[1]`."""

    def __init__(self, header: Sequence[str], variables: Sequence[str], where: str):
        _check_names(header, where)
        self.scalar: dict[str, int] = {}
        self.elements: dict[str, list[tuple[tuple[int, ...], int]]] = {}
        used = set()
        for column, raw in enumerate(header):
            name = raw.strip()
            match = _ELEMENT.match(name)
            if match and match["name"] in variables:
                index = tuple(int(i) for i in match["index"].split(","))
                self.elements.setdefault(match["name"], []).append((index, column))
                used.add(match["name"])
            elif name in variables:
                self.scalar[name] = column
                used.add(name)
        self.provided = [v for v in variables if v in used]
        self.shapes: dict[str, tuple[int, ...]] = {}
        for name, entries in self.elements.items():
            if name in self.scalar:
                raise PointFileError(f"'{name}' has both a column of its own and element "
                                     f"columns in {where}", hint="keep one of the two forms")
            indices = sorted(i for i, _ in entries)
            if len({len(i) for i in indices}) != 1:
                raise PointFileError(f"the columns of '{name}' in {where} mix index depths")
            shape = tuple(max(i[d] for i in indices) + 1 for d in range(len(indices[0])))
            if len(indices) != int(np.prod(shape)):
                raise PointFileError(f"the columns of '{name}' in {where} do not cover a "
                                     "full shape",
                                     hint=f"give {name}[0], {name}[1], ... with no gaps")
            self.shapes[name] = shape
            entries.sort()

    def columns(self) -> list[int]:
        """Every column the variables use, in file order."""
        used = list(self.scalar.values())
        used += [c for entries in self.elements.values() for _, c in entries]
        return sorted(used)

    def require_some(self, where: str, variables: Sequence[str]) -> None:
        if not self.provided:
            raise PointFileError(
                f"{where} has no column for any variable of the expression",
                hint=f"name columns after the variables ({', '.join(variables)}); vectors "
                     "as m[0], m[1], ...")


def _check_names(header: Sequence[str], where: str) -> None:
    seen: dict[str, int] = {}
    for k, raw in enumerate(header):
        name = raw.strip()
        if not name:
            raise PointFileError(f"column {k + 1} of {where} has an empty name",
                                 hint="give every column a name in the header")
        if name in seen:
            raise PointFileError(f"the column name '{name}' appears twice in {where} "
                                 f"(columns {seen[name] + 1} and {k + 1})",
                                 hint="give every column its own name")
        seen[name] = k


# -- cells to numbers --------------------------------------------------------------------
class RowProblems:
    """Bad rows of a chunk as they are found: the first problem of each row is kept."""

    def __init__(self, size: int, lines: np.ndarray):
        self.bad = np.zeros(size, dtype=bool)
        self.lines = lines
        self.messages: dict[int, str] = {}

    def add(self, position: int, problem: str) -> None:
        if position not in self.messages:
            self.messages[position] = f"line {int(self.lines[position])}: {problem}"
            self.bad[position] = True


def numbers_from_text(cells: pa.Array, what: str, problems: RowProblems) -> np.ndarray:
    """CSV text cells as float64, vectorised; a cell that is not a number (see
    `pointfiles.kinds`) marks its row bad."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(cells)
    try:
        if trimmed.null_count == 0:
            numbers = np.asarray(pc.cast(trimmed, pa.float64()).to_numpy(zero_copy_only=False))
            return _without_overflow(numbers, trimmed, what, problems)
    except pa.ArrowInvalid:
        pass
    ok = pc.fill_null(pc.match_substring_regex(trimmed, NUMBER_TEXT, ignore_case=True), False)
    try:
        values = pc.cast(pc.if_else(ok, trimmed, "nan"), pa.float64())
        numbers = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    except pa.ArrowInvalid:  # a form the pattern lets through but Arrow does not read
        numbers = np.array([_python_float(t) for t in trimmed.to_pylist()])
        ok = pa.array(~np.isnan(numbers) | np.array(
            [t is not None and t.lower() == "nan" for t in trimmed.to_pylist()]))
    good = np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    for k in np.flatnonzero(~good).tolist():
        text = trimmed[k].as_py()
        problems.add(k, f"{what} is empty" if text is None or text == ""
                     else f"{what} is {text!r}, not a number")
    return _without_overflow(numbers, trimmed, what, problems)


def _without_overflow(numbers: np.ndarray, texts: Any, what: str,
                      problems: RowProblems) -> np.ndarray:
    """A decimal number beyond a double's range reads as infinity: that row is bad (the
    cell did not say inf)."""
    infinite = np.flatnonzero(np.isinf(numbers))
    for k in infinite.tolist():
        text = str(texts[k].as_py()).strip().lstrip("+-").lower()
        if text not in ("inf", "infinity"):
            problems.add(k, f"{what} is {text[:40]!r}, beyond the range of a double")
    return numbers


def _python_float(text: str | None) -> float:
    try:
        return float(text) if text is not None else float("nan")
    except ValueError:
        return float("nan")


def arrays_from_json_cells(cells: pa.Array, name: str, problems: RowProblems,
                           shapes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """Cells holding a number or a JSON array of numbers (a vector in one CSV cell)."""
    parsed: list[np.ndarray | str] = []
    for cell in cells.to_pylist():
        text = (cell or "").strip()
        try:
            if text.startswith("["):
                parsed.append(value_of(name, parse_json(text)))
            elif not text:
                parsed.append(f"{name} is empty")
            elif math.isinf(number := float(text)) and \
                    text.lstrip("+-").lower() not in ("inf", "infinity"):
                parsed.append(f"{name} is {text[:40]!r}, beyond the range of a double")
            else:
                parsed.append(np.asarray(number))
        except ValueError as exc:
            reason = str(getattr(exc, "msg", ""))
            parsed.append(f"{name} is {reason}" if reason.startswith("nested") else
                          f"{name} is {text[:40]!r}, not a number or a JSON array of numbers")
    return stack_rows(parsed, name, problems, shapes)


def stack_rows(parsed: Sequence[np.ndarray | str], name: str, problems: RowProblems,
               shapes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """Per-row arrays (or a row's problem) as one array; a row whose shape differs from
    the file's (`kinds.settle_shape`) is bad. Bad rows hold NaN."""
    expected = settle_shape(name, parsed, shapes)
    values: list[np.ndarray | None] = []
    for k, value in enumerate(parsed):
        if isinstance(value, str):
            problems.add(k, value)
            values.append(None)
            continue
        if value.shape != expected:
            problems.add(k, shape_problem(name, value.shape, expected))
            values.append(None)
            continue
        values.append(value)
    shape = expected
    blank = np.full(shape, np.nan)
    return np.array([blank if v is None else v for v in values],
                    dtype=np.float64).reshape(len(values), *shape)


def finish_chunk(lines: np.ndarray, problems: RowProblems,
                 columns: dict[str, np.ndarray]) -> Chunk:
    """Keep the good rows' values; every bad row keeps its place and its message."""
    good = ~problems.bad
    if problems.bad.any():
        columns = {name: values[good] for name, values in columns.items()}
    return Chunk(lines, good, columns, problems.messages)


def shape_of(value: Any) -> tuple[int, ...]:
    return tuple(np.shape(value))
