"""Many points, one expression: read a chunk, compute it in one pass, write it, repeat.

Memory stays bounded by the chunk size whatever the file size. A bad row is
written as a record with its error and counted; every other row is computed.
The run ends with a summary on stderr and exit code 1 if any row failed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from gradcli.batch import DEFAULT_CHUNK
from gradcli.batch.compute import BatchKernel
from gradcli.batch.output import Record, Writer, make_writer
from gradcli.batch.points import Chunk, PointFileError, file_format, read_chunks
from gradcli.errors import EXIT_NOT_GOOD, EXIT_OK, ArgumentError, UnboundVariableError
from gradcli.language.program import parse


class Summary:
    __slots__ = ("computed", "failed", "read")

    def __init__(self) -> None:
        self.read = 0
        self.computed = 0
        self.failed = 0

    def line(self) -> str:
        return f"rows read: {self.read}, computed: {self.computed}, failed: {self.failed}"


def output_format(out_path: str | None, requested: str) -> str:
    if out_path is not None:
        extension = os.path.splitext(out_path)[1].lower().lstrip(".")
        formats = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "npz": "npz"}
        if extension in formats:
            return formats[extension]
        if requested in ("csv", "json", "jsonl"):
            return "jsonl" if requested in ("json", "jsonl") else "csv"
        raise ArgumentError(f"cannot tell the output format of '{out_path}'",
                            hint="name it .csv, .jsonl or .npz, or pass --format csv|jsonl")
    return "jsonl" if requested in ("json", "jsonl") else "csv"


def run_points(command: str, expression: str, constants: Mapping[str, Any], points: str,
               *, out_path: str | None = None, requested_format: str = "csv",
               points_format: str | None = None, chunk_size: int = DEFAULT_CHUNK,
               fail_fast: bool = False, strict: bool = False, quiet: bool = False,
               wrt: Sequence[str] | None = None, mode: str = "auto",
               out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if command not in ("eval", "grad", "hessian", "jacobian"):
        raise ArgumentError(f"--points works with eval, grad, hessian and jacobian, not "
                            f"{command}")
    if chunk_size < 1:
        raise ArgumentError("--chunk-size must be at least 1")
    program = parse(expression)
    fmt_in = file_format(points, points_format)
    fmt_out = output_format(out_path, requested_format)
    wanted = [v for v in program.free_variables if v not in constants]
    provided, chunks = read_chunks(points, fmt_in, program.free_variables, chunk_size)
    both = [v for v in provided if v in constants]
    if both:
        raise PointFileError(
            f"{', '.join(both)} comes both from the point file and the command line",
            hint="give each variable in one place: the file for per-point values, "
                 "the command line for constants")
    missing = [v for v in wanted if v not in provided]
    if missing:
        raise UnboundVariableError(
            f"no value for {', '.join(missing)}: not in the point file, not on the command "
            "line", hint="add a column (or field) to the file, or NAME=VALUE for a constant")
    writer = make_writer(fmt_out, out_path, out)
    summary = Summary()
    progress = _Progress(points, err) if not quiet and err.isatty() else None
    try:
        _stream(command, program, constants, chunks, writer, summary, fail_fast, strict, wrt,
                mode, progress)
        if writer.names is None:
            writer.start([])
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    finally:
        if progress is not None:
            progress.close()
    err.write(summary.line() + "\n")
    return EXIT_NOT_GOOD if summary.failed else EXIT_OK


def _stream(command: str, program: Any, constants: Mapping[str, Any], chunks: Any,
            writer: Writer, summary: Summary, fail_fast: bool, strict: bool,
            wrt: Sequence[str] | None, mode: str, progress: _Progress | None) -> None:
    pending: list[Record] = []  # error-only records read before the columns are known
    kernel = BatchKernel(command, program, constants, wrt, mode)
    for chunk in chunks:
        summary.read += len(chunk.lines)
        columns: list[tuple[str, Any]] = []
        errors = dict(chunk.errors)
        if any(chunk.good):
            columns = kernel.columns(chunk.values)
            if strict:
                errors.update(_nonfinite_rows(chunk, columns))
        if writer.names is None:
            if not columns:
                pending.append(Record(chunk.lines, chunk.good, [], errors))
                _count(summary, chunk, errors)
                if fail_fast and errors:
                    break
                continue
            writer.start([name for name, _ in columns])
            for record in pending:
                writer.write(record)
            pending.clear()
        record = Record(chunk.lines, chunk.good, columns, errors)
        if fail_fast and errors:
            record = _until_first_error(record)
            summary.read -= len(chunk.lines) - len(record.lines)
            _count(summary, Chunk(record.lines, record.good, {}, {}), record.errors)
            writer.write(record)
            break
        _count(summary, chunk, errors)
        writer.write(record)
        if progress is not None:
            progress.advance(summary.read)
    if writer.names is None and pending:
        writer.start([])
        for record in pending:
            writer.write(record)


def _count(summary: Summary, chunk: Chunk, errors: dict[int, str]) -> None:
    failed = len(errors)
    summary.failed += failed
    good = sum(chunk.good)
    if errors:
        good -= sum(1 for line, ok in zip(chunk.lines, chunk.good, strict=True)
                    if ok and line in errors)
    summary.computed += good


def _nonfinite_rows(chunk: Chunk, columns: list[tuple[str, Any]]) -> dict[int, str]:
    table = np.column_stack([np.asarray(v, dtype=np.float64) for _, v in columns])
    bad = ~np.isfinite(table).all(axis=1)
    if not bad.any():
        return {}
    good_lines = [line for line, good in zip(chunk.lines, chunk.good, strict=True) if good]
    names = [name for name, _ in columns]
    errors = {}
    for k in np.flatnonzero(bad).tolist():
        which = [names[j] for j in np.flatnonzero(~np.isfinite(table[k])).tolist()[:3]]
        errors[good_lines[k]] = (f"line {good_lines[k]}: non-finite result ({', '.join(which)}) "
                                 "and --strict is set")
    return errors


def _until_first_error(record: Record) -> Record:
    first = min(k for k, line in enumerate(record.lines) if line in record.errors)
    kept_good = sum(record.good[:first + 1])
    return Record(record.lines[:first + 1], record.good[:first + 1],
                  [(name, values[:kept_good]) for name, values in record.columns],
                  {record.lines[first]: record.errors[record.lines[first]]})


def _count_records(path: str) -> int | None:
    """Rows in a text point file (for the ETA): one fast pass counting newlines."""
    if path.lower().endswith(".npz"):
        return None
    count = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
    return max(count - (1 if path.lower().endswith(".csv") else 0), 0)


class _Progress:
    """A Rich progress bar on stderr (only on a terminal): rows, rows per second, ETA."""

    def __init__(self, path: str, err: TextIO):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.started = time.perf_counter()
        self.bar = Progress(TextColumn("[bold]points"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]} rows/s"), TimeRemainingColumn(),
                            console=Console(file=err), transient=True)
        self.task = self.bar.add_task("points", total=_count_records(path), rate="-")
        self.bar.start()

    def advance(self, rows: int) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        self.bar.update(self.task, completed=rows, rate=f"{rows / elapsed:,.0f}")

    def close(self) -> None:
        self.bar.stop()
