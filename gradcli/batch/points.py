"""Reading point files chunk by chunk: CSV, JSONL and NPZ.

A chunk keeps every record in input order. Good rows become arrays with one
leading axis (the points); a bad row (a cell that is not a number, a missing
column, a vector of the wrong length) stays in the chunk as an error with its
line number, so the output can hold one record per input record.

Reading is streamed: only one chunk of rows is in memory at a time. The
common all-numeric CSV chunk is parsed by numpy in one call; a chunk that
numpy refuses is parsed row by row, which is how its bad rows are found.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator, Sequence

import numpy as np

from gradcli.errors import PointFileError

_ELEMENT = re.compile(r"^(?P<name>[^\W\d]\w*)\[(?P<index>\d+(?:\s*,\s*\d+)*)\]$")


class Chunk:
    """Rows `lines[k]` in input order; `good[k]` says whether row k has values."""

    __slots__ = ("errors", "good", "lines", "values")

    def __init__(self, lines: list[int], good: list[bool], values: dict[str, np.ndarray],
                 errors: dict[int, str]):
        self.lines = lines
        self.good = good
        #: for the good rows only, in order: name -> array of shape (good rows, *point shape)
        self.values = values
        #: line number -> what is wrong with that row
        self.errors = errors


def file_format(path: str, given: str | None) -> str:
    if given:
        if given not in ("csv", "jsonl", "npz"):
            raise PointFileError(f"--points-format must be csv, jsonl or npz, not '{given}'")
        return given
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    formats = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "npz": "npz"}
    if extension not in formats:
        raise PointFileError(
            f"cannot tell the format of '{path}' from its extension",
            hint="name it .csv, .jsonl or .npz, or pass --points-format csv|jsonl|npz")
    return formats[extension]


def read_chunks(path: str, fmt: str, variables: Sequence[str], chunk_size: int
                ) -> tuple[list[str], Iterator[Chunk]]:
    """The variables the file provides (in `variables`' order), and its chunks."""
    if not os.path.exists(path):
        raise PointFileError(f"no such point file: {path}")
    if os.path.getsize(path) == 0:
        raise PointFileError(f"the point file {path} is empty",
                             hint="it needs a header line and one row per point")
    if fmt == "csv":
        return _csv(path, variables, chunk_size)
    if fmt == "jsonl":
        return _jsonl(path, variables, chunk_size)
    return _npz(path, variables, chunk_size)


# -- CSV ---------------------------------------------------------------------------------
class _Layout:
    """Which CSV columns make up which variable."""

    def __init__(self, header: list[str], variables: Sequence[str]):
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
                                     "columns", hint="keep one of the two forms")
            indices = sorted(i for i, _ in entries)
            shape = tuple(max(i[d] for i in indices) + 1 for d in range(len(indices[0])))
            if len(indices) != int(np.prod(shape)) or len({len(i) for i in indices}) != 1:
                raise PointFileError(f"the columns of '{name}' do not cover a full shape",
                                     hint=f"give {name}[0], {name}[1], ... with no gaps")
            self.shapes[name] = shape
            entries.sort()


def _csv(path: str, variables: Sequence[str], chunk_size: int
         ) -> tuple[list[str], Iterator[Chunk]]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader([f.readline()]), [])
    layout = _Layout(header, variables)
    if not layout.provided:
        raise PointFileError(
            f"the header of {path} has no column for any variable of the expression",
            hint=f"name columns after the variables ({', '.join(variables)}); vectors as "
                 "m[0], m[1], ...")
    return layout.provided, _csv_chunks(path, layout, len(header), chunk_size)


def _csv_chunks(path: str, layout: _Layout, width: int, chunk_size: int) -> Iterator[Chunk]:
    with open(path, newline="", encoding="utf-8") as f:
        f.readline()
        line = 1
        while True:
            # islice and map run in C: no Python bytecode per row on the common path
            lines = list(itertools.islice(f, chunk_size))
            if not lines:
                return
            first = line + 1
            line += len(lines)
            if any(map(str.isspace, lines)):  # blank lines are skipped, not rows
                kept = [(n, text) for n, text in enumerate(lines, first) if not text.isspace()]
                if not kept:
                    continue
                yield _csv_chunk([t for _, t in kept], [n for n, _ in kept], layout, width)
            else:
                yield _csv_chunk(lines, list(range(first, line + 1)), layout, width)


def _csv_chunk(rows: list[str], numbers: list[int], layout: _Layout, width: int) -> Chunk:
    text = "".join(rows)
    # quoted cells and JSON-array cells need the csv module; plain numbers go to numpy
    if '"' not in text and "[" not in text:
        try:
            table = np.loadtxt(rows, delimiter=",", ndmin=2, dtype=np.float64)
            if table.shape[1] == width:
                return Chunk(numbers, [True] * len(rows), _columns_to_values(table, layout),
                             {})
        except ValueError:
            pass  # some row is bad: find out which, row by row
    return _csv_rows(rows, numbers, layout, width)


def _columns_to_values(table: np.ndarray, layout: _Layout) -> dict[str, np.ndarray]:
    values = {name: table[:, column] for name, column in layout.scalar.items()}
    for name, entries in layout.elements.items():
        columns = [column for _, column in entries]
        values[name] = table[:, columns].reshape((table.shape[0], *layout.shapes[name]))
    return values


class _Rows:
    """A chunk being read row by row: good rows' values, and bad rows' reasons."""

    def __init__(self, names: Sequence[str]):
        self.numbers: list[int] = []
        self.good: list[bool] = []
        self.errors: dict[int, str] = {}
        self.parsed: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def add(self, line: int, row: dict[str, np.ndarray]) -> None:
        self.numbers.append(line)
        for name, value in row.items():
            self.parsed[name].append(value)
        self.good.append(True)

    def fail(self, line: int, problem: Exception) -> None:
        self.numbers.append(line)
        self.errors[line] = f"line {line}: {problem}"
        self.good.append(False)

    def chunk(self, shapes: dict[str, tuple[int, ...]]) -> Chunk:
        values = {name: np.array(items) if items else np.zeros((0, *shapes.get(name, ())))
                  for name, items in self.parsed.items()}
        return Chunk(self.numbers, self.good, values, self.errors)


def _csv_rows(rows: list[str], numbers: list[int], layout: _Layout, width: int) -> Chunk:
    """Row by row: the slow path that finds out which rows are bad and why."""
    import csv

    result = _Rows(layout.provided)
    shapes = dict(layout.shapes)
    for cells, line in zip(csv.reader(rows), numbers, strict=True):
        try:
            if len(cells) != width:
                problem = "missing" if len(cells) < width else "extra"
                raise ValueError(f"{abs(width - len(cells))} {problem} column(s): the header "
                                 f"has {width}, this row {len(cells)}")
            row: dict[str, np.ndarray] = {}
            for name, column in layout.scalar.items():
                row[name] = _cell(cells[column], name, shapes)
            for name, entries in layout.elements.items():
                row[name] = np.array([_number(cells[c], f"{name}{list(i)}") for i, c in entries]
                                     ).reshape(shapes[name])
            result.add(line, row)
        except ValueError as exc:
            result.fail(line, exc)
    return result.chunk(shapes)


def _number(cell: str, what: str) -> float:
    text = cell.strip()
    if not text:
        raise ValueError(f"{what} is empty")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} is {text!r}, not a number") from None


def _cell(cell: str, name: str, shapes: dict[str, tuple[int, ...]]) -> np.ndarray:
    text = cell.strip()
    if text.startswith("["):
        try:
            value = np.asarray(json.loads(text), dtype=np.float64)
        except (ValueError, TypeError):
            raise ValueError(f"{name} is {text!r}, not a number or a JSON array of numbers") \
                from None
    else:
        value = np.asarray(_number(text, name))
    return _check_shape(value, name, shapes)


def _check_shape(value: np.ndarray, name: str, shapes: dict[str, tuple[int, ...]]
                 ) -> np.ndarray:
    expected = shapes.setdefault(name, value.shape)
    if value.shape != expected:
        raise ValueError(f"{name} has shape {value.shape}, but earlier rows have {expected}")
    return value


# -- JSONL --------------------------------------------------------------------------------
def _jsonl(path: str, variables: Sequence[str], chunk_size: int
           ) -> tuple[list[str], Iterator[Chunk]]:
    with open(path, encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), "")
    try:
        record = json.loads(first)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise PointFileError(f"the first line of {path} is not a JSON object",
                             hint='write one object per line, e.g. {"x": 1.5, "m": [2, 3]}')
    provided = [v for v in variables if v in record]
    if not provided:
        raise PointFileError(f"the first record of {path} names no variable of the "
                             f"expression ({', '.join(variables)})")
    return provided, _jsonl_chunks(path, provided, chunk_size)


def _jsonl_chunks(path: str, provided: list[str], chunk_size: int) -> Iterator[Chunk]:
    shapes: dict[str, tuple[int, ...]] = {}
    with open(path, encoding="utf-8") as f:
        line = 0
        while True:
            rows = _Rows(provided)
            for text in f:
                line += 1
                if not text.strip():
                    continue
                try:
                    rows.add(line, _json_row(text, provided, shapes))
                except ValueError as exc:
                    rows.fail(line, exc)
                if len(rows.numbers) == chunk_size:
                    break
            if not rows.numbers:
                return
            yield rows.chunk(shapes)


def _json_row(text: str, provided: list[str], shapes: dict[str, tuple[int, ...]]
              ) -> dict[str, np.ndarray]:
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    row = {}
    for name in provided:
        if name not in record:
            raise ValueError(f"no value for {name}")
        try:
            value = np.asarray(record[name], dtype=np.float64)
        except (ValueError, TypeError):
            raise ValueError(f"{name} is {record[name]!r}, not a number or an array of "
                             "numbers") from None
        row[name] = _check_shape(value, name, shapes)
    return row


# -- NPZ ----------------------------------------------------------------------------------
def _npz(path: str, variables: Sequence[str], chunk_size: int
         ) -> tuple[list[str], Iterator[Chunk]]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise PointFileError(f"cannot read {path} as NPZ: {exc}") from None
    provided = [v for v in variables if v in archive.files]
    if not provided:
        raise PointFileError(f"{path} has no array named after a variable of the expression",
                             hint=f"save one array per variable ({', '.join(variables)}), "
                                  "points on the first axis")
    try:
        arrays = {name: archive[name] for name in provided}
    except (ValueError, OSError) as exc:  # object arrays: never unpickled
        raise PointFileError(f"cannot read {path}: {exc}",
                             hint="save plain numeric arrays (no Python objects)") from None
    counts = {name: a.shape[0] if a.ndim else 1 for name, a in arrays.items()}
    if len(set(counts.values())) != 1:
        raise PointFileError(f"the arrays in {path} hold different numbers of points: "
                             f"{counts}")
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise PointFileError(f"array {name} in {path} is not numeric ({a.dtype})")
    total = next(iter(counts.values()))

    def chunks() -> Iterator[Chunk]:
        for start in range(0, total, chunk_size):
            stop = min(start + chunk_size, total)
            values = {n: np.asarray(a[start:stop], dtype=np.float64) for n, a in arrays.items()}
            yield Chunk(list(range(start + 1, stop + 1)), [True] * (stop - start), values, {})

    return provided, chunks()
