"""Splitting the inputs into work units, on the client, before anything runs.

A unit is the input of one task and of one part file. Three kinds:

- `file`: the whole file (small files, NPZ and Arrow files, and any CSV with a
  newline inside quotes, whose records cannot be found without parsing it all);
- `bytes`: a byte range `[start, stop)` of a CSV or JSONL file that begins and
  ends on a record boundary, with the file line number of its first line;
- `row_groups`: consecutive row groups of a Parquet file, read from its footer,
  with the record number of its first row.

Line numbers are exact because the planner counts every newline before a cut
(numpy over 16 MB blocks, so planning a few GB costs about as much as reading
them once). Units are listed in input order, which is the order of the parts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_UNIT_BYTES = 96 * 1024 * 1024
"""About 64–128 MB of input per unit: big enough that a task's fixed cost (a
round trip, building the kernel) is small against its work, small enough that a
cluster has several units per worker for balance."""

_BLOCK = 16 * 1024 * 1024
_NEWLINE, _QUOTE = 10, 34


@dataclass(frozen=True)
class Unit:
    """One task's input: where it is, and which file lines (or records) it covers."""

    index: int
    path: str
    file_index: int
    format: str
    kind: str  # "file", "bytes" or "row_groups"
    first_line: int  # file line (CSV, JSONL) or record number (Parquet) of the first row
    last_line: int | None = None  # known for bytes and row_groups units
    start: int = 0  # bytes units: the range [start, stop)
    stop: int = 0
    row_groups: tuple[int, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """For messages: the unit and the file lines (or rows) it covers."""
        what = "rows" if self.format == "parquet" else "lines"
        if self.last_line is None:
            where = "the whole file"
        elif self.last_line < self.first_line:
            where = f"no {what}"
        else:
            where = f"{what} {self.first_line}-{self.last_line}"
        return f"unit {self.index} ({self.path}, {where})"


def plan_units(paths: Sequence[str], fmt: str, unit_bytes: int = DEFAULT_UNIT_BYTES
               ) -> list[Unit]:
    """The work units over `paths`, in order; `fmt` is the input format of every path."""
    units: list[Unit] = []
    for file_index, path in enumerate(paths):
        if fmt in ("csv", "jsonl"):
            pieces = list(_text_pieces(path, fmt, unit_bytes))
        elif fmt == "parquet":
            pieces = list(_parquet_pieces(path, unit_bytes))
        else:
            pieces = []
        if len(pieces) <= 1:
            units.append(Unit(len(units), path, file_index, fmt, "file",
                              first_line=2 if fmt == "csv" else 1))
            continue
        for piece in pieces:
            units.append(Unit(len(units), path, file_index, fmt, piece.kind, piece.first_line,
                              piece.last_line, piece.start, piece.stop, piece.row_groups))
    return units


@dataclass(frozen=True)
class _Piece:
    kind: str
    first_line: int
    last_line: int
    start: int = 0
    stop: int = 0
    row_groups: tuple[int, ...] = ()


def _text_pieces(path: str, fmt: str, unit_bytes: int) -> Iterator[_Piece]:
    """Byte ranges of about `unit_bytes`, each ending just after a newline.

    Nothing is yielded for a file that fits in one unit, or for a CSV file with a
    newline inside quotes (found by quote parity: a newline after an odd number of
    quotes is inside a cell; doubled quotes inside cells keep the parity right)."""
    size = os.path.getsize(path)
    if size <= unit_bytes:
        return
    cuts: list[tuple[int, int]] = []  # (byte offset after a newline, newlines before it)
    newlines = quotes = 0
    data_start = None  # CSV: just after the header line
    next_cut = unit_bytes
    ends_with_newline = False
    with open(path, "rb") as f:
        offset = 0
        while block := f.read(_BLOCK):
            ends_with_newline = block.endswith(b"\n")
            buffer = np.frombuffer(block, dtype=np.uint8)
            at = np.flatnonzero(buffer == _NEWLINE)
            if fmt == "csv":
                quoted = np.flatnonzero(buffer == _QUOTE)
                if quoted.size:
                    before = quotes + np.searchsorted(quoted, at)
                    if (before % 2).any():
                        return  # a quoted newline: the file stays one unit
                    quotes += quoted.size
                if data_start is None and at.size:
                    data_start = offset + int(at[0]) + 1
            # the first newline at or after each target offset ends a unit
            while True:
                k = int(np.searchsorted(at, next_cut - offset))
                if k >= at.size:
                    break
                cut = offset + int(at[k]) + 1
                cuts.append((cut, newlines + k + 1))
                next_cut = cut + unit_bytes
            newlines += at.size
            offset += len(block)
    start, lines_before = (0, 0) if fmt == "jsonl" else (data_start or size, 1)
    total_lines = newlines + (0 if ends_with_newline else 1)
    bounds = [(c, n) for c, n in cuts if start < c < size] + [(size, total_lines)]
    for stop, lines_through in bounds:
        yield _Piece("bytes", lines_before + 1, lines_through, start=start, stop=stop)
        start, lines_before = stop, lines_through


def _parquet_pieces(path: str, unit_bytes: int) -> Iterator[_Piece]:
    """Runs of consecutive row groups of about `unit_bytes` (uncompressed), from the footer."""
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    group: list[int] = []
    group_bytes = 0
    first = 1
    rows = 0
    for k in range(metadata.num_row_groups):
        row_group = metadata.row_group(k)
        group.append(k)
        group_bytes += row_group.total_byte_size
        rows += row_group.num_rows
        if group_bytes >= unit_bytes or k == metadata.num_row_groups - 1:
            yield _Piece("row_groups", first, rows, row_groups=tuple(group))
            first = rows + 1
            group, group_bytes = [], 0
