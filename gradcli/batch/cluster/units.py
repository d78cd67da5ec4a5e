"""Splitting the inputs into work units, on the client, before anything runs.

A unit (`gradcli.pointfiles.units.Unit`, what the batch loop reads) is the input of
one task and of one part file:

- a whole file (small files, NPZ and Arrow files, URLs, and any CSV with a
  newline inside quotes, whose records cannot be found without parsing it all);
- a byte range `[start, stop)` of a local CSV or JSONL file that begins and
  ends on a record boundary, with the file line number of its first line;
- consecutive row groups of a local Parquet file, read from its footer, with
  the record number of its first row.

Line numbers are exact because the planner counts every newline before a cut
(numpy over 16 MB blocks, so planning a few GB costs about as much as reading
them once). Units are listed in input order, which is the order of the parts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from gradcli.pointfiles.sources import Source
from gradcli.pointfiles.units import Unit

DEFAULT_UNIT_BYTES = 96 * 1024 * 1024
"""About 64–128 MB of input per unit: big enough that a task's fixed cost (a
round trip, building the kernel) is small against its work, small enough that a
cluster has several units per worker for balance."""

_BLOCK = 16 * 1024 * 1024
_NEWLINE, _QUOTE = 10, 34


@dataclass(frozen=True)
class PlannedUnit:
    """One task's input: which unit of which input, and the file lines it covers."""

    index: int
    file_index: int
    unit: Unit
    #: the file line (CSV, JSONL) or record number (Parquet) of the unit's last line, where
    #: the unit is a part of a file (the planner counted it); None for a whole file
    last_line: int | None = None

    def describe(self) -> str:
        """For messages: the unit and the file lines (or rows) it covers."""
        what = "rows" if self.unit.format == "parquet" else "lines"
        where = "the whole file" if self.last_line is None else \
            f"{what} {self.unit.first_line}-{self.last_line}"
        return f"unit {self.index} ({self.unit.source}, {where})"


def plan_units(sources: Sequence[Source], unit_bytes: int = DEFAULT_UNIT_BYTES
               ) -> list[PlannedUnit]:
    """The work units over `sources`, in input order (local files are split; URLs not)."""
    units: list[PlannedUnit] = []
    for file_index, source in enumerate(sources):
        pieces: list[tuple[Unit, int]] = []
        if source.kind == "file" and source.format in ("csv", "jsonl"):
            pieces = list(_text_pieces(source, unit_bytes))
        elif source.kind == "file" and source.format == "parquet":
            pieces = list(_parquet_pieces(source, unit_bytes))
        if len(pieces) <= 1:
            units.append(PlannedUnit(len(units), file_index, Unit(source.name, source.format)))
            continue
        for unit, last_line in pieces:
            units.append(PlannedUnit(len(units), file_index, unit, last_line))
    return units


def _text_pieces(source: Source, unit_bytes: int) -> Iterator[tuple[Unit, int]]:
    """Byte ranges of about `unit_bytes`, each ending just after a newline.

    Nothing is yielded for a file that fits in one unit, or for a CSV file with a
    newline inside quotes (found by quote parity: a newline after an odd number of
    quotes is inside a cell; doubled quotes inside cells keep the parity right)."""
    path, fmt = source.name, source.format
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
        yield Unit(path, fmt, start=start, stop=stop, first_line=lines_before + 1), lines_through
        start, lines_before = stop, lines_through


def _parquet_pieces(source: Source, unit_bytes: int) -> Iterator[tuple[Unit, int]]:
    """Runs of consecutive row groups of about `unit_bytes` (uncompressed), from the footer."""
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(source.name).metadata
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
            yield Unit(source.name, "parquet", first_line=first, row_groups=tuple(group)), rows
            first = rows + 1
            group, group_bytes = [], 0
