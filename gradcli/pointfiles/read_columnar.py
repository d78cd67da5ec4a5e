"""Parquet and Arrow IPC (`.arrow`, `.feather`) point files, read in record batches.

Columnar files carry their types, so numbers need no parsing: a numeric column
is cast to float64; a text column is read as a CSV cell would be. A vector
variable is either a list column (`m` holding [1.5, 2.0] per row) or element
columns (`m[0]`, `m[1]`), as in CSV. A null, a list of the wrong length or a
text cell that is not a number makes that row bad. Parquet is read one row group
at a time (a unit may name the row groups it covers), so memory is bounded by a
row group and a chunk; the record number of a row is its `line`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.pointfiles.kinds import problem_of, value_of
from gradcli.pointfiles.points import (
    Chunk,
    Layout,
    PointFileError,
    RowProblems,
    finish_chunk,
    stack_rows,
)

if TYPE_CHECKING:
    from gradcli.pointfiles.sources import Source
    from gradcli.pointfiles.units import Unit


class ColumnarReader:
    def __init__(self, source: Source, variables: Sequence[str], chunk_size: int,
                 unit: Unit | None = None):
        import pyarrow as pa

        self.source = source
        self.chunk_size = chunk_size
        self.unit = unit
        self.stream = source.open() if source.seekable else _spooled(source)
        try:
            if source.format == "parquet":
                import pyarrow.parquet as pq

                self.parquet: Any = pq.ParquetFile(self.stream)
                schema = self.parquet.schema_arrow
            else:
                self.parquet = None
                self.ipc = _open_ipc(self.stream)
                schema = self.ipc.schema
        except (pa.ArrowException, OSError) as exc:
            self.close()
            what = "Parquet" if source.format == "parquet" else "Arrow IPC"
            raise PointFileError(f"{source.name} is not a valid or complete {what} file",
                                 hint=_arrow_says(exc)) from None
        except BaseException:
            self.close()
            raise
        where = f"the columns of {source.name}"
        self.layout = Layout(schema.names, variables, where)
        self.layout.require_some(source.name, variables)
        self.provided = self.layout.provided
        self.names = schema.names
        self.shapes: dict[str, tuple[int, ...]] = dict(self.layout.shapes)
        for name, column in self.layout.scalar.items():
            shape = _fixed_shape(schema.field(column).type)
            if shape:
                self.shapes[name] = shape

    def close(self) -> None:
        self.stream.close()

    def _batches(self) -> Iterator[tuple[int, Any]]:
        """(record number of the batch's first row, batch or Unreadable), in file order."""
        import pyarrow as pa

        columns = [self.names[c] for c in self.layout.columns()]
        if self.parquet is not None:
            meta = self.parquet.metadata
            offsets = np.concatenate(([0], np.cumsum(
                [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])))
            groups = range(meta.num_row_groups) if self.unit is None or \
                self.unit.row_groups is None else self.unit.row_groups
            for g in groups:
                first = int(offsets[g]) + 1
                try:
                    for batch in self.parquet.iter_batches(batch_size=self.chunk_size,
                                                           row_groups=[g], columns=columns):
                        batch.validate(full=True)
                        yield first, batch
                        first += batch.num_rows
                except (pa.ArrowException, OSError) as exc:
                    # The footer still says how many records the group holds, so
                    # they keep their places, as bad rows, and the run goes on.
                    end = int(offsets[g + 1]) + 1
                    problem = f"row group {g} of {self.source.name} cannot be read: {exc}"
                    for start in range(first, end, self.chunk_size):
                        yield start, Unreadable(min(self.chunk_size, end - start), problem)
            return
        first = 1
        try:
            for batch in _ipc_batches(self.ipc):
                batch = batch.select(columns)
                # IPC buffers are used as they lie: offsets pointing outside them (a
                # corrupt file) would crash the process, so they are checked first
                batch.validate(full=True)
                for start in range(0, batch.num_rows, self.chunk_size):
                    piece = batch.slice(start, self.chunk_size)
                    yield first, piece
                    first += piece.num_rows
        except (pa.ArrowException, OSError) as exc:
            # an IPC file has no index of record counts: what follows cannot be placed
            raise PointFileError(f"{self.source.name} is not a valid or complete Arrow IPC "
                                 f"file: it cannot be read after record {first - 1}",
                                 hint=_arrow_says(exc)) from None

    def chunks(self) -> Iterator[Chunk]:
        for first, batch in self._batches():
            if isinstance(batch, Unreadable):
                yield batch.chunk(first, self.provided, self.shapes)
                continue
            n = batch.num_rows
            if n == 0:
                continue
            lines = np.arange(first, first + n, dtype=np.int64)
            problems = RowProblems(n, lines)
            values: dict[str, np.ndarray] = {}
            for name in self.provided:
                if name in self.layout.scalar:
                    column = batch.column(self.names[self.layout.scalar[name]])
                    values[name] = self._variable(column, name, problems)
                else:
                    entries = self.layout.elements[name]
                    parts = [_numbers(batch.column(self.names[c]), f"{name}{list(i)}",
                                      problems) for i, c in entries]
                    values[name] = np.stack(parts, axis=1).reshape(
                        (n, *self.layout.shapes[name]))
            yield finish_chunk(lines, problems, values)

    def _variable(self, column: Any, name: str, problems: RowProblems) -> np.ndarray:
        import pyarrow as pa

        if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)
                or pa.types.is_fixed_size_list(column.type)):
            return _numbers(column, name, problems)
        return _lists(column, name, problems, self.shapes)


class Unreadable:
    """Records the file says are there but whose data cannot be decoded (a corrupt page)."""

    def __init__(self, count: int, problem: str):
        self.count = count
        self.problem = problem

    def chunk(self, first: int, names: Sequence[str],
              shapes: dict[str, tuple[int, ...]]) -> Chunk:
        lines = np.arange(first, first + self.count, dtype=np.int64)
        errors = {k: f"line {first + k}: {self.problem}" for k in range(self.count)}
        values = {name: np.zeros((0, *shapes.get(name, ()))) for name in names}
        return Chunk(lines, np.zeros(self.count, dtype=bool), values, errors)


def _spooled(source: Source) -> Any:
    """A stream (stdin, a FIFO) copied to a temporary file: these formats need seeking."""
    import shutil
    import tempfile

    spool = tempfile.TemporaryFile()  # noqa: SIM115 -- the reader closes it
    with source.open() as stream:
        shutil.copyfileobj(stream, spool, 1 << 20)
    spool.seek(0)
    return spool


def _open_ipc(stream: Any) -> Any:
    import pyarrow as pa

    try:
        return pa.ipc.open_file(stream)
    except pa.ArrowInvalid:
        stream.seek(0)
        return pa.ipc.open_stream(stream)


def _ipc_batches(reader: Any) -> Iterator[Any]:
    if hasattr(reader, "num_record_batches"):
        for k in range(reader.num_record_batches):
            yield reader.get_batch(k)
    else:
        yield from reader


def _fixed_shape(kind: Any) -> tuple[int, ...]:
    import pyarrow as pa

    shape: list[int] = []
    while pa.types.is_fixed_size_list(kind):
        shape.append(kind.list_size)
        kind = kind.value_type
    return tuple(shape)


def _numbers(column: Any, what: str, problems: RowProblems) -> np.ndarray:
    """One value per row as float64: numbers cast, nulls marked bad, and anything else
    (text, booleans: see `pointfiles.kinds`) a bad row with its value quoted.

    Numbers go through numpy, not pyarrow.compute, whose import alone costs about as much
    as reading a million rows."""
    import pyarrow as pa

    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        if not pa.types.is_decimal(column.type):
            for k, value in enumerate(column.to_pylist()):
                problem = problem_of(what, value) if value is None or isinstance(
                    value, bool | str | bytes) else None
                problems.add(k, problem or f"{what} is of type {column.type}, not a number")
            return np.full(len(column), np.nan)
        column = column.cast(pa.float64())
    if column.null_count:
        bitmap = np.frombuffer(column.buffers()[0], dtype=np.uint8)
        valid = np.unpackbits(bitmap, bitorder="little")[column.offset:
                                                         column.offset + len(column)]
        for k in np.flatnonzero(valid == 0).tolist():
            problems.add(k, f"{what} is null")
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _lists(column: Any, name: str, problems: RowProblems,
           shapes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """A list column: each row a vector (or a nested, rectangular array) of numbers."""
    parsed = [value_of(name, row) for row in column.to_pylist()]
    return stack_rows(parsed, name, problems, shapes)


def _arrow_says(exc: BaseException) -> str:
    """Arrow's own words ("Expected to read 1330795073 metadata bytes ..."), as a hint:
    a detail for whoever made the file, not the message."""
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return f"Arrow says: {detail}"
