"""Batch records out: one schema, five formats, one record per input record, in order.

Every format has the same columns in the same order: `file` (with several
inputs: an index into the list the summary prints), `line` (the file line a
record starts on, or its record number in a columnar or NPZ input), the result
columns (`value`, `grad[x]`, `jac[f[0],a]`, ...) as float64, and `error`, a
variable-length text column that is empty (null) for good rows. A bad row has
no values (null; NaN in NPZ). Numbers are exact: CSV and JSON lines carry the
shortest text that reads back as the same double, Parquet, Arrow and NPZ the
float64 itself.

Each chunk becomes an Arrow table with that schema, and a writer appends it:
CSV through polars' writer (2-3× faster than Arrow's own at the same exactness,
measured in benchmarks/batch.py), JSON lines through the json module, Parquet
one row group per chunk, Arrow IPC one record batch per chunk, NPZ through raw
column files joined into a zip at the end. In NPZ the error column is sparse,
since NPZ has no variable-length text: `error` holds the messages of the
records that have one and `error_record` their positions (0-based), so its cost
follows the bad rows, not all rows.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from gradcli import columns as layout
from gradcli.numbers import json_number
from gradcli.pointfiles.formats import PointFileError

if TYPE_CHECKING:
    import pyarrow as pa

    from gradcli.pointfiles.target import OutputTarget


def result_schema(result_names: Sequence[str], with_file: bool) -> pa.Schema:
    """The records' Arrow schema: the layout of `gradcli.columns.record_layout`."""
    import pyarrow as pa

    return pa.schema([pa.field(name, pa.type_for_alias(kind))
                      for name, kind in layout.record_layout(result_names, with_file)])


def records_table(schema: pa.Schema, lines: np.ndarray, good: np.ndarray,
                  columns: Sequence[tuple[str, np.ndarray]], errors: dict[int, str],
                  file_index: int | None) -> pa.Table:
    """One chunk's records: values for good rows, null for bad ones, errors where any."""
    import pyarrow as pa

    n = len(lines)
    arrays: list[Any] = []
    if file_index is not None:
        arrays.append(_column(pa.int32(), np.full(n, file_index, dtype=np.int32)))
    arrays.append(_column(pa.int64(), np.asarray(lines, dtype=np.int64)))
    all_good = bool(good.all())
    validity = None if all_good else np.packbits(good, bitorder="little")
    given = dict(columns)
    for field in schema:
        if field.name in layout.BOOKKEEPING:
            continue
        values = np.asarray(given[field.name], dtype=np.float64) if given else np.zeros(0)
        if all_good:
            arrays.append(_column(pa.float64(), np.broadcast_to(values, (n,))))
        else:
            full = np.full(n, np.nan)
            if len(values) or good.any():
                full[good] = values
            arrays.append(_column(pa.float64(), full, validity))
    if errors:
        texts: list[str | None] = [None] * n
        for k, message in errors.items():
            texts[k] = message
        arrays.append(pa.array(texts, type=pa.string()))
    else:
        arrays.append(pa.nulls(n, type=pa.string()))
    return pa.Table.from_arrays(arrays, schema=schema)


def _column(kind: pa.DataType, values: np.ndarray, validity: np.ndarray | None = None
            ) -> pa.Array:
    """A numeric Arrow column over numpy's memory (no copy, and no detour through
    pyarrow's generic conversion, which imports numpy.ma)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    bitmap = None if validity is None else pa.py_buffer(validity)
    return pa.Array.from_buffers(kind, len(values), [bitmap, pa.py_buffer(values)])


class TableWriter:
    """Appends tables of one schema to a binary file; `close` completes the format."""

    def __init__(self, handle: IO[bytes], schema: pa.Schema, target: OutputTarget):
        self.handle = handle
        self.schema = schema
        self.target = target
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        self._write(table)

    def _write(self, table: pa.Table) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class CsvWriter(TableWriter):
    def __init__(self, handle: IO[bytes], schema: pa.Schema, target: OutputTarget):
        super().__init__(handle, schema, target)
        import polars as pl

        self.polars = pl
        self.header = True

    def _write(self, table: pa.Table) -> None:
        frame: Any = self.polars.from_arrow(table)
        frame.write_csv(self.handle, include_header=self.header)
        self.header = False

    def close(self) -> None:
        if self.header:  # no record at all: the header alone
            self._write(self.schema.empty_table())


class JsonlWriter(TableWriter):
    def _write(self, table: pa.Table) -> None:
        names = table.schema.names
        columns = [table.column(k).to_pylist() for k in range(table.num_columns)]
        out = []
        for row in zip(*columns, strict=True):
            record: dict[str, Any] = {}
            for name, value in zip(names, row, strict=True):
                if name == layout.ERROR:
                    if value is not None:
                        record[name] = value
                elif value is not None:
                    record[name] = value if name in layout.BOOKKEEPING else json_number(value)
            out.append(json.dumps(record, allow_nan=False))
        if out:
            self.handle.write(("\n".join(out) + "\n").encode("utf-8"))


class ArrowFormatWriter(TableWriter):
    """Parquet (a row group per chunk) or Arrow IPC (a record batch per chunk)."""

    def __init__(self, handle: IO[bytes], schema: pa.Schema, target: OutputTarget,
                 parquet: bool):
        super().__init__(handle, schema, target)
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.writer: Any = pq.ParquetWriter(handle, schema) if parquet else \
            pa.ipc.new_file(handle, schema)

    def _write(self, table: pa.Table) -> None:
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()


class NpzWriter(TableWriter):
    """Columns stream into raw files in a scratch folder; `close` zips them as .npy members."""

    def __init__(self, handle: IO[bytes], schema: pa.Schema, target: OutputTarget):
        super().__init__(handle, schema, target)
        self.folder = target.scratch_folder()
        self.numeric = [f for f in schema if f.name != layout.ERROR]
        # one raw file per column, kept open across chunks and closed in close()
        self.files = [open(os.path.join(self.folder, f"{k}.raw"), "wb")  # noqa: SIM115
                      for k in range(len(self.numeric))]
        self.error_records: list[int] = []
        self.error_texts: list[str] = []

    def _write(self, table: pa.Table) -> None:
        start = self.rows - table.num_rows
        for f, field in zip(self.files, self.numeric, strict=True):
            column = table.column(field.name)
            if field.name in layout.BOOKKEEPING:  # file and line: integers, never null
                data = column.to_numpy()
            else:
                data = column.fill_null(np.nan).to_numpy()
            f.write(np.ascontiguousarray(data).tobytes())
        errors = table.column(layout.ERROR)
        if errors.null_count < len(errors):
            valid = np.flatnonzero(errors.is_valid().to_numpy(zero_copy_only=False))
            self.error_records += (valid + start).tolist()
            self.error_texts += errors.take(valid).to_pylist()

    def close(self) -> None:
        for f in self.files:
            f.close()
        with zipfile.ZipFile(self.handle, "w", allowZip64=True) as archive:
            for k, field in enumerate(self.numeric):
                dtype = np.dtype(field.type.to_pandas_dtype()).str
                with archive.open(f"{field.name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array_header_2_0(
                        member, {"descr": dtype, "fortran_order": False,
                                 "shape": (self.rows,)})
                    with open(os.path.join(self.folder, f"{k}.raw"), "rb") as raw:
                        while block := raw.read(1 << 20):
                            member.write(block)
            for name, array in ((layout.ERROR, np.array(self.error_texts, dtype=str)
                                 if self.error_texts else np.zeros(0, dtype="<U1")),
                                ("error_record", np.array(self.error_records,
                                                          dtype=np.int64))):
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(f"{name}.npy", buffer.getvalue())


def make_writer(fmt: str, handle: IO[bytes], schema: pa.Schema, target: OutputTarget
                ) -> TableWriter:
    if fmt in ("parquet", "arrow"):
        return ArrowFormatWriter(handle, schema, target, parquet=fmt == "parquet")
    writers: dict[str, type[TableWriter]] = {"csv": CsvWriter, "jsonl": JsonlWriter,
                                             "npz": NpzWriter}
    if fmt not in writers:
        raise PointFileError(f"cannot write records as '{fmt}'")
    return writers[fmt](handle, schema, target)


class Writer:
    """A text output written safely (see `pointfiles.target`): `gradcli batch` job results."""

    def __init__(self, path: str | None, stream: Any = None):
        from gradcli.pointfiles.target import OutputTarget

        self.path = path
        self.stream = stream
        self.target = OutputTarget(path)
        self.text: Any = None

    def open_text(self) -> Any:
        import sys

        if self.path is None or self.path == "-":
            return self.stream or sys.stdout
        self.text = io.TextIOWrapper(self.target.open(), encoding="utf-8", newline="")
        return self.text

    def writing(self) -> Any:
        """Around each write: a failure is a `WriteError` (exit 74), see `OutputTarget`."""
        return self.target.writing()

    def finish(self) -> None:
        with self.target.writing():
            if self.text is not None:
                self.text.close()
        self.target.commit()

    def abort(self) -> None:
        if self.text is not None:
            with contextlib.suppress(OSError):  # a buffer that cannot be flushed: thrown away
                self.text.close()
        self.target.discard()
