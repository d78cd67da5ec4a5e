"""A unit of input: the piece of one point file that one read → compute → write covers.

A whole file; a byte range of a CSV or JSONL file that starts and ends on record
boundaries, with the file line its first record starts on (the reader takes the
CSV header from the start of the file); or a set of Parquet row groups.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    #: a local path or a URL
    source: str
    #: csv, jsonl, parquet, arrow or npz
    format: str
    #: CSV/JSONL: the byte offset of the unit's first record (0: the whole file from its
    #: start, header included)
    start: int = 0
    #: CSV/JSONL: the byte offset just past the unit's last record; None: the end of file
    stop: int | None = None
    #: CSV/JSONL: the file line on which the record at `start` begins (1-based)
    first_line: int = 1
    #: Parquet: the row groups to read, in order; None: all of them
    row_groups: tuple[int, ...] | None = None

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop is None and self.row_groups is None
