"""Interim read → compute → write over one unit, until the batch pipeline's own lands.

The batch pipeline (points.py, output.py, run.py) is getting one function that
runs one unit into one file; `task.run_unit` switches to it then and this module
goes. Until then this reuses the current readers' pieces on a unit's rows and a
small Parquet reader and writer.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from gradcli.batch.cluster.units import Unit
from gradcli.batch.output import Record, Writer, make_writer
from gradcli.batch.points import (
    Chunk,
    PointFileError,
    _csv_chunk,
    _json_row,
    _Layout,
    _Rows,
    read_chunks,
)


def read_compute_write(job: Any, unit: Unit, path: str, kernel: Any) -> tuple[int, int, int]:
    from gradcli.batch.run import Summary, _stream

    program = kernel.program
    variables = program.free_variables
    chunks = _unit_chunks(unit, variables, job.chunk_size)
    writer = ParquetWriter(path, None) if job.out_format == "parquet" \
        else make_writer(job.out_format, path, None)
    summary = Summary()
    try:
        _stream(job.command, program, job.constants, chunks, writer, summary, False,
                job.strict, list(job.wrt) if job.wrt is not None else None, job.mode, None)
        if writer.names is None:
            writer.start([])
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    return summary.read, summary.computed, summary.failed


def _unit_chunks(unit: Unit, variables: Sequence[str], chunk_size: int) -> Iterator[Chunk]:
    if unit.format == "parquet":
        return _parquet_chunks(unit, variables, chunk_size)
    if unit.kind == "file":
        return read_chunks(unit.path, unit.format, variables, chunk_size)[1]
    with open(unit.path, "rb") as f:
        f.seek(unit.start)
        text = f.read(unit.stop - unit.start).decode("utf-8")
    rows = text.splitlines(keepends=True)
    if unit.format == "csv":
        import csv

        with open(unit.path, newline="", encoding="utf-8") as f:
            header = next(csv.reader([f.readline()]), [])
        layout = _Layout(header, variables)
        return _csv_range(rows, unit.first_line, layout, len(header), chunk_size)
    with open(unit.path, encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), "")
    try:
        provided = [v for v in variables if v in json.loads(first)]
    except (ValueError, TypeError):
        raise PointFileError(f"the first line of {unit.path} is not a JSON object") from None
    return _jsonl_range(rows, unit.first_line, provided, chunk_size)


def _csv_range(rows: list[str], first: int, layout: _Layout, width: int, chunk_size: int
               ) -> Iterator[Chunk]:
    numbered = [(n, t) for n, t in enumerate(rows, first) if not t.isspace()]
    for start in range(0, len(numbered), chunk_size):
        part = numbered[start:start + chunk_size]
        yield _csv_chunk([t for _, t in part], [n for n, _ in part], layout, width)


def _jsonl_range(rows: list[str], first: int, provided: list[str], chunk_size: int
                 ) -> Iterator[Chunk]:
    shapes: dict[str, tuple[int, ...]] = {}
    numbered = iter([(n, t) for n, t in enumerate(rows, first) if t.strip()])
    while batch := list(itertools.islice(numbered, chunk_size)):
        result = _Rows(provided)
        for line, text in batch:
            try:
                result.add(line, _json_row(text, provided, shapes))
            except ValueError as exc:
                result.fail(line, exc)
        yield result.chunk(shapes)


def _parquet_chunks(unit: Unit, variables: Sequence[str], chunk_size: int
                    ) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    source = pq.ParquetFile(unit.path)
    layout = _Layout(source.schema_arrow.names, variables)
    groups = list(unit.row_groups) or list(range(source.metadata.num_row_groups))
    line = unit.first_line
    names = source.schema_arrow.names
    for batch in source.iter_batches(batch_size=chunk_size, row_groups=groups):
        table = np.column_stack([batch.column(k).to_numpy(zero_copy_only=False)
                                 .astype(np.float64) for k in range(len(names))])
        count = batch.num_rows
        values = {name: table[:, column] for name, column in layout.scalar.items()}
        for name, entries in layout.elements.items():
            columns = [column for _, column in entries]
            values[name] = table[:, columns].reshape((count, *layout.shapes[name]))
        yield Chunk(list(range(line, line + count)), [True] * count, values, {})
        line += count


class ParquetWriter(Writer):
    """line (int64), the result columns (float64, null on a bad row), error (string)."""

    def start(self, names: list[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.names = names
        self.schema = pa.schema([("line", pa.int64()), *((n, pa.float64()) for n in names),
                                 ("error", pa.string())])
        assert self.path is not None
        self.sink = pq.ParquetWriter(self.path, self.schema)

    def write(self, record: Record) -> None:
        import pyarrow as pa

        assert self.names is not None
        good = np.asarray(record.good, dtype=bool)
        arrays: list[Any] = [pa.array(np.asarray(record.lines, dtype=np.int64))]
        for _, values in record.columns:
            full = np.zeros(len(record.lines))
            full[good] = np.asarray(values, dtype=np.float64)
            arrays.append(pa.array(full, mask=~good))
        errors = [record.errors.get(line) for line in record.lines]
        arrays.append(pa.array(errors, type=pa.string()))
        self.sink.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def _close(self) -> None:
        sink = getattr(self, "sink", None)
        if sink is not None:
            sink.close()
            self.sink = None


_EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "npz": "npz",
               "parquet": "parquet"}


def expand_inputs(points: str | Sequence[str], given: str | None) -> tuple[list[str], str]:
    """The input files, in sorted order, and their one format."""
    import glob
    import os

    if isinstance(points, str):
        if os.path.isdir(points):
            paths = sorted(os.path.join(points, name) for name in os.listdir(points)
                           if os.path.splitext(name)[1].lower().lstrip(".") in _EXTENSIONS)
        elif glob.has_magic(points):
            paths = sorted(glob.glob(points))
        else:
            paths = [points]
    else:
        paths = list(points)
    if not paths:
        raise PointFileError(f"no point files match {points}")
    formats = {given or _EXTENSIONS.get(os.path.splitext(p)[1].lower().lstrip("."), "")
               for p in paths}
    if len(formats) != 1 or "" in formats:
        raise PointFileError("the point files must all be one format: .csv, .jsonl, .npz or "
                             ".parquet", hint="or pass --points-format")
    for path in paths:
        if not os.path.isfile(path):
            raise PointFileError(f"no such point file: {path}")
    return paths, formats.pop()


def check_inputs(paths: Sequence[str], fmt: str, variables: Sequence[str],
                 constants: Any) -> None:
    """Every input provides the variables the constants do not (exit 2 before computing)."""
    from gradcli.errors import UnboundVariableError

    for path in paths:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            provided = _Layout(pq.read_schema(path).names, variables).provided
        else:
            provided = read_chunks(path, fmt, variables, 1)[0]
        both = [v for v in provided if v in constants]
        if both:
            raise PointFileError(f"{', '.join(both)} comes both from {path} and the command "
                                 "line")
        missing = [v for v in variables if v not in constants and v not in provided]
        if missing:
            raise UnboundVariableError(f"no value for {', '.join(missing)}: not in {path}, "
                                       "not on the command line")
