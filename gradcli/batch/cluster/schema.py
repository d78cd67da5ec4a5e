"""The columns of a written part, read back from the part itself, for the manifest.

Parquet parts carry their schema in the footer. CSV parts name their columns in
the header; JSONL parts in their records' keys (a bad row's record has only
`line` and `error`, so the widest of the first records is taken). Text parts
hold numbers as text; the types given are the ones the reader will find.
"""

from __future__ import annotations

import csv
import itertools
import json

Schema = tuple[tuple[str, str], ...]

_TEXT_TYPES = {"line": "int64", "file": "int64", "error": "string"}


def part_schema(path: str, fmt: str) -> Schema:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return tuple((f.name, str(f.type)) for f in pq.read_schema(path))
    with open(path, newline="", encoding="utf-8") as f:
        if fmt == "csv":
            names = next(csv.reader([f.readline()]), [])
        else:
            names = max(([*json.loads(line)] for line in itertools.islice(f, 1000)
                         if line.strip()), key=len, default=[])
    return tuple((name, _TEXT_TYPES.get(name, "float64")) for name in names)


def widest(schemas: list[Schema]) -> Schema:
    """The schema of the output: the widest of its parts' (a part with no good row has
    no result columns)."""
    return max(schemas, key=len, default=())
