"""Writing batch results: CSV, JSONL or NPZ, one record per input record, in order.

Columns: `line` (the input line, or the record number for NPZ), the result
columns (`value`, `grad[x]`, ...), and `error` (empty for a good row). A file
given with --out is written under a temporary name in the same directory and
renamed when complete, so an interrupted run never leaves a half-written file
under the final name.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from typing import Any, TextIO

import numpy as np

from gradcli.errors import GradcliError
from gradcli.numbers import json_number


class Record:
    """The rows of one chunk, ready to write: in input order, good or not."""

    __slots__ = ("columns", "errors", "good", "lines")

    def __init__(self, lines: list[int], good: list[bool], columns: list[tuple[str, Any]],
                 errors: dict[int, str]):
        self.lines = lines
        self.good = good
        #: result columns for the good rows (arrays, in the good rows' order)
        self.columns = columns
        self.errors = errors


class Writer:
    def __init__(self, path: str | None, stream: TextIO | None):
        self.path = path
        self.stream = stream
        self.temporary: str | None = None
        self.names: list[str] | None = None

    def _open_text(self) -> TextIO:
        if self.path is None:
            return self.stream or sys.stdout
        directory = os.path.dirname(os.path.abspath(self.path))
        handle, self.temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(self.path)}.", suffix=".partial", dir=directory)
        os.chmod(self.temporary, _default_mode())
        return os.fdopen(handle, "w", encoding="utf-8", newline="")

    def start(self, names: list[str]) -> None:
        raise NotImplementedError

    def write(self, record: Record) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the output: close it and move it to its final name."""
        self._close()
        if self.temporary is not None and self.path is not None:
            os.replace(self.temporary, self.path)
            self.temporary = None

    def abort(self) -> None:
        """Leave nothing behind under the final name (or at all)."""
        try:
            self._close()
        finally:
            if self.temporary is not None and os.path.exists(self.temporary):
                os.remove(self.temporary)
            self.temporary = None

    def _close(self) -> None:
        pass


def _default_mode() -> int:
    """The permissions a newly created file gets (mkstemp's own are owner-only)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _runs(record: Record) -> list[tuple[bool, int, int]]:
    """(good, start, stop) runs over the chunk's rows, to keep input order."""
    if all(record.good):  # the usual case, checked in C
        return [(True, 0, len(record.good))] if record.good else []
    runs: list[tuple[bool, int, int]] = []
    start = 0
    for k in range(1, len(record.good) + 1):
        if k == len(record.good) or record.good[k] != record.good[start]:
            runs.append((record.good[start], start, k))
            start = k
    return runs


class CsvWriter(Writer):
    def start(self, names: list[str]) -> None:
        self.names = names
        self.out = self._open_text()
        self.out.write(",".join(_csv_field(n) for n in ["line", *names, "error"]) + "\n")

    def write(self, record: Record) -> None:
        assert self.names is not None
        width = len(self.names)
        good_index = 0
        table = np.column_stack([np.asarray(v, dtype=np.float64) for _, v in record.columns]) \
            if record.columns else np.zeros((sum(record.good), 0))
        for good, start, stop in _runs(record):
            lines = record.lines[start:stop]
            if not good:
                for line in lines:
                    self.out.write(f"{line}," + "," * width + _csv_field(record.errors[line])
                                   + "\n")
                continue
            count = stop - start
            block = table[good_index:good_index + count]
            good_index += count
            flagged = [line for line in lines if line in record.errors]
            # repr is the shortest text that reads back as the same float, as the
            # single-point CSV prints it; map/zip/join keep the per-row work in C
            cells = [map(str, lines), *(map(repr, column.tolist()) for column in block.T)]
            if not flagged:
                self.out.write(",\n".join(map(",".join, zip(*cells, strict=True))) + ",\n")
            else:  # good values but flagged (--strict and a non-finite result)
                for line, row in zip(lines, zip(*cells, strict=True), strict=True):
                    self.out.write(",".join(row) + ","
                                   + _csv_field(record.errors.get(line, "")) + "\n")

    def _close(self) -> None:
        out = getattr(self, "out", None)
        if out is not None and out is not sys.stdout and out is not self.stream:
            out.close()
        elif out is not None:
            out.flush()


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


class JsonlWriter(Writer):
    def start(self, names: list[str]) -> None:
        self.names = names
        self.out = self._open_text()

    def write(self, record: Record) -> None:
        assert self.names is not None
        good_index = 0
        columns = [np.asarray(v, dtype=np.float64).tolist() for _, v in record.columns]
        lines_out = []
        for line, good in zip(record.lines, record.good, strict=True):
            obj: dict[str, Any] = {"line": line}
            if good:
                for name, values in zip(self.names, columns, strict=True):
                    obj[name] = json_number(values[good_index])
                good_index += 1
            if line in record.errors:
                obj["error"] = record.errors[line]
            lines_out.append(json.dumps(obj, allow_nan=False))
        self.out.write("\n".join(lines_out) + "\n")

    _close = CsvWriter._close


class NpzWriter(Writer):
    """Columns stream into raw files; at the end they become one .npy each in a zip."""

    def start(self, names: list[str]) -> None:
        if self.path is None:
            raise GradcliError("NPZ output needs --out FILE.npz (it cannot go to stdout)")
        self.names = names
        self.scratch = tempfile.mkdtemp(prefix=".gradcli-", dir=os.path.dirname(
            os.path.abspath(self.path)))
        # one raw file per column, kept open across chunks and closed in finish/abort
        self.files = [open(os.path.join(self.scratch, f"{k}.raw"), "wb")  # noqa: SIM115
                      for k in range(len(names) + 1)]
        self.count = 0
        self.error_lines: dict[int, str] = {}

    def write(self, record: Record) -> None:
        assert self.names is not None
        n = len(record.lines)
        full = np.full((n, len(self.names)), np.nan)
        good = np.asarray(record.good, dtype=bool)
        if record.columns:
            full[good] = np.column_stack([np.asarray(v, dtype=np.float64)
                                          for _, v in record.columns])
        self.files[0].write(np.asarray(record.lines, dtype=np.int64).tobytes())
        for k in range(len(self.names)):
            self.files[k + 1].write(np.ascontiguousarray(full[:, k]).tobytes())
        for offset, line in enumerate(record.lines):
            if line in record.errors:
                self.error_lines[self.count + offset] = record.errors[line]
        self.count += n

    def finish(self) -> None:
        assert self.path is not None and self.names is not None
        for f in self.files:
            f.close()
        directory = os.path.dirname(os.path.abspath(self.path))
        handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(self.path)}.",
                                             suffix=".partial", dir=directory)
        os.close(handle)
        os.chmod(temporary, _default_mode())
        self.temporary = temporary
        with zipfile.ZipFile(temporary, "w", allowZip64=True) as archive:
            entries = [("line", "<i8"), *((n, "<f8") for n in self.names)]
            for k, (name, dtype) in enumerate(entries):
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array_header_2_0(
                        member, {"descr": dtype, "fortran_order": False,
                                 "shape": (self.count,)})
                    with open(os.path.join(self.scratch, f"{k}.raw"), "rb") as raw:
                        shutil.copyfileobj(raw, member, 1 << 20)
            errors = np.array([self.error_lines.get(i, "") for i in range(self.count)]) \
                if self.error_lines else np.full(self.count, "", dtype="<U1")
            buffer = io.BytesIO()
            np.save(buffer, errors, allow_pickle=False)
            archive.writestr("error.npy", buffer.getvalue())
        shutil.rmtree(self.scratch, ignore_errors=True)
        super().finish()

    def abort(self) -> None:
        for f in getattr(self, "files", []):
            f.close()
        if getattr(self, "scratch", None):
            shutil.rmtree(self.scratch, ignore_errors=True)
        super().abort()


def make_writer(fmt: str, path: str | None, stream: TextIO | None) -> Writer:
    return {"csv": CsvWriter, "jsonl": JsonlWriter, "npz": NpzWriter}[fmt](path, stream)
