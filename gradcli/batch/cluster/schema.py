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
import itertools
import json
from typing import IO

from gradcli import columns as names

Schema = tuple[tuple[str, str], ...]

_JSONL_SCAN = 1000  # records looked at for a good row


def describe_part(path: str | IO[bytes], fmt: str) -> tuple[Schema, int | None]:
    """The part's columns (name, type) and its first record's line (None: no records).

    `path` is a local path or a binary file object (an object store's part)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        part = pq.ParquetFile(path)
        schema = tuple((f.name, str(f.type)) for f in part.schema_arrow)
        if part.metadata.num_rows == 0:
            return schema, None
        first = part.read_row_group(0, columns=[names.LINE]).column(names.LINE)
        return schema, int(first[0].as_py()) if len(first) else None
    binary = open(path, "rb") if isinstance(path, str) else path  # noqa: SIM115
    with io.TextIOWrapper(binary, encoding="utf-8", newline="") as f:
        if fmt == "csv":
            rows = csv.reader(f)
            header = next(rows, [])
            record = next(rows, None)
            return (_typed(header, names.FILE in header),
                    int(record[header.index(names.LINE)]) if record else None)
        records = [json.loads(text) for text in itertools.islice(f, _JSONL_SCAN)
                   if text.strip()]
    if not records:
        return (), None
    # a good row's record has no `error`, a bad row's only `line` and `error`: the columns
    # are the record keys of a good row, laid out as every record is
    good = next((r for r in records if names.result_names(list(r))), records[0])
    return _typed(list(good), names.FILE in good), int(records[0][names.LINE])


def _typed(keys: list[str], with_file: bool) -> Schema:
    """The record layout of the result columns among `keys`."""
    return tuple(names.record_layout(names.result_names(keys), with_file))


def widest(schemas: list[Schema]) -> Schema:
    """The schema of the output: the widest of its parts' (a JSONL part whose first
    records are all bad rows shows only `line` and `error`)."""
    return max(schemas, key=len, default=())
