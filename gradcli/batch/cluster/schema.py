"""What a written part holds, read back from the part itself, for the manifest.

The schema: Parquet parts carry it in the footer; CSV parts name their columns
in the header, JSONL parts in their records' keys (text parts hold numbers as
text; the types given are the ones a reader will find). The first line: the
`line` of the part's first record, which is exact whatever the unit was (a
whole file may begin with blank lines or a header spanning several lines).
"""

from __future__ import annotations

import csv
import io
import json
from typing import IO

Schema = tuple[tuple[str, str], ...]

_TEXT_TYPES = {"line": "int64", "file": "int32", "error": "string"}


def describe_part(path: str | IO[bytes], fmt: str) -> tuple[Schema, int | None]:
    """The part's columns (name, type) and its first record's line (None: no records).

    `path` is a local path or a binary file object (an object store's part)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        part = pq.ParquetFile(path)
        schema = tuple((f.name, str(f.type)) for f in part.schema_arrow)
        if part.metadata.num_rows == 0:
            return schema, None
        first = part.read_row_group(0, columns=["line"]).column("line")
        return schema, int(first[0].as_py()) if len(first) else None
    binary = open(path, "rb") if isinstance(path, str) else path  # noqa: SIM115
    with io.TextIOWrapper(binary, encoding="utf-8", newline="") as f:
        if fmt == "csv":
            rows = csv.reader(f)
            names = next(rows, [])
            record = next(rows, None)
            line = int(record[names.index("line")]) if record else None
        else:
            text = f.readline()
            record = json.loads(text) if text.strip() else None
            names = [*record] if record else []
            line = int(record["line"]) if record else None
    return tuple((name, _TEXT_TYPES.get(name, "float64")) for name in names), line


def widest(schemas: list[Schema]) -> Schema:
    """The schema of the output: the widest of its parts' (a part of bad rows only may
    lack result columns in JSONL, where a bad row's record has only `line` and `error`)."""
    return max(schemas, key=len, default=())
