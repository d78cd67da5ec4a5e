"""Many points, one expression: read a chunk, compute it in one pass, write it, repeat.

Two entry points share one loop:

``run_points(command, expression, constants, points, *, out_path=None, ...) -> int``
    The `--points` command: every input (files, a directory, a glob, URLs, stdin)
    into one output (stdout or --out), a summary on stderr, and the exit code.

``run_unit(job, unit, out, out_format, *, file_index=None, columns=None, kernel=None) -> Counts``
    One *unit* of input into one output file or stream, for distributed work:
    ``job`` is a `BatchJob` (command and expression as text, so it pickles; the
    kernel is built from it, or passed in as ``kernel`` to reuse one per worker
    process), ``unit`` a `gradcli.pointfiles.units.Unit` (a whole file, a CSV/JSONL
    byte range with its first line, or Parquet row groups), ``out`` a path
    (written to a temporary name and renamed, see `batch.target`) or a binary
    stream, ``out_format`` one of csv, jsonl, parquet, arrow, npz. With
    ``file_index`` the records carry a `file` column; ``columns`` fixes the
    result column names (so that a part in which no row computes still has
    the same schema as the others). It returns the counts (read, computed,
    failed) and never raises for bad data: bad rows are records with their
    error. It raises `PointFileError` (exit 2) for an input or output that
    cannot be used at all, and `GradcliError` for a bad expression.

Memory stays bounded by the chunk size whatever the input size. A bad row is
written as a record with its error and counted; every other row is computed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TextIO

import numpy as np

from gradcli.batch import DEFAULT_CHUNK
from gradcli.errors import (
    EXIT_NOT_GOOD,
    EXIT_OK,
    ArgumentError,
    GradcliError,
    UnboundVariableError,
)
from gradcli.plans import engines
from gradcli.pointfiles.formats import PointFileError, output_format
from gradcli.pointfiles.output import TableWriter, make_writer, records_table, result_schema
from gradcli.pointfiles.points import Chunk, PointReader
from gradcli.pointfiles.readers import open_reader
from gradcli.pointfiles.sources import Source, is_url, resolve
from gradcli.pointfiles.target import OutputTarget
from gradcli.pointfiles.units import Unit

COMMANDS = ("eval", "grad", "hessian", "jacobian")


@dataclass(frozen=True)
class BatchJob:
    """What to compute over points, as plain data (it pickles; kernels do not)."""

    command: str
    expression: str
    constants: Mapping[str, Any] = field(default_factory=dict)
    wrt: tuple[str, ...] | None = None
    mode: str = "auto"
    strict: bool = False
    fail_fast: bool = False
    chunk_size: int = DEFAULT_CHUNK
    #: numpy, compiled or auto (None: $GRADCLI_ENGINE, else auto); see batch.engines
    engine: str | None = None
    #: where compiled plans' transcendentals come from (--math)
    math: str = "accurate"

    def kernel(self, points_hint: int | None = None) -> Any:
        """The kernel; `points_hint`, the points expected in all, lets `auto` choose."""
        from gradcli.batch.kernel import BatchKernel
        from gradcli.language.program import parse

        return BatchKernel(self.command, parse(self.expression), self.constants,
                           list(self.wrt) if self.wrt is not None else None, self.mode,
                           engine=self.engine, points_hint=points_hint, math=self.math)


@dataclass
class Counts:
    read: int = 0
    computed: int = 0
    failed: int = 0
    #: the error of the bad row --fail-fast stopped at, if it stopped the run
    stopped: str | None = None

    def add(self, other: Counts) -> None:
        self.read += other.read
        self.computed += other.computed
        self.failed += other.failed

    def line(self) -> str:
        line = f"rows read: {self.read}, computed: {self.computed}, failed: {self.failed}"
        return line + (" (stopped early by --fail-fast)" if self.stopped else "")


def _check_job(job: BatchJob) -> Any:
    if job.command not in COMMANDS:
        raise ArgumentError(f"--points works with eval, grad, hessian and jacobian, not "
                            f"{job.command}")
    if job.chunk_size < 1:
        raise ArgumentError("--chunk-size must be at least 1")
    from gradcli.language.program import parse

    return parse(job.expression)


def _nothing_to_vary(why: str) -> PointFileError:
    return PointFileError(f"the expression has no variable for --points to give: {why}",
                          hint="drop --points to compute it once, or take a variable from "
                               "the file")


def check_provided(reader: PointReader, name: str, variables: Sequence[str],
                   constants: Mapping[str, Any]) -> None:
    """The input gives every variable the constants do not, and none that they do."""
    if getattr(reader, "assumed", False):  # JSON lines naming no variable in their head
        reader.provided = [v for v in reader.provided if v not in constants]
    both = [v for v in reader.provided if v in constants]
    if both:
        raise PointFileError(
            f"{', '.join(both)} comes both from the point file and the command line",
            hint="give each variable in one place: the file for per-point values, "
                 "the command line for constants")
    wanted = [v for v in variables if v not in constants]
    if not wanted:
        raise _nothing_to_vary(f"{', '.join(variables)} "
                               f"{'comes' if len(variables) == 1 else 'all come'} "
                               "from the command line")
    missing = [v for v in wanted if v not in reader.provided]
    if missing:
        raise UnboundVariableError(
            f"no value for {', '.join(missing)}: not in the point file {name}, not on the "
            "command line",
            hint="add a column (or field) to the file, or NAME=VALUE for a constant")


# -- the one loop -------------------------------------------------------------------------
class _Sink:
    """Records out: the schema is fixed by the first computed chunk (or a probe)."""

    def __init__(self, fmt: str, target: OutputTarget, with_file: bool,
                 names: Sequence[str] | None):
        self.fmt = fmt
        self.target = target
        self.with_file = with_file
        self.writer: TableWriter | None = None
        self.schema: Any = None
        self.pending: list[tuple[Chunk, dict[int, str], int | None]] = []
        if names is not None:
            self._start(names)

    def _start(self, names: Sequence[str]) -> None:
        self.schema = result_schema(names, self.with_file)
        with self.target.writing():
            self.writer = make_writer(self.fmt, self.target.open(), self.schema, self.target)
        for chunk, errors, index in self.pending:
            self.put(chunk, [], errors, index)
        self.pending.clear()

    def put(self, chunk: Chunk, columns: list[tuple[str, Any]], errors: dict[int, str],
            file_index: int | None) -> None:
        if self.writer is None:
            if not columns:
                self.pending.append((chunk, errors, file_index))
                return
            self._start([name for name, _ in columns])
        assert self.writer is not None
        table = records_table(self.schema, chunk.lines, chunk.good, columns, errors,
                              file_index)
        with self.target.writing():
            self.writer.write(table)

    def finish(self, probe: Any) -> None:
        if self.writer is None:
            self._start(probe())
        assert self.writer is not None
        with self.target.writing():
            self.writer.close()


def _stream(kernel: Any, chunks: Iterator[Chunk], sink: _Sink, counts: Counts, job: BatchJob,
            file_index: int | None, progress: _Progress | None = None) -> bool:
    """Compute and write every chunk; False if --fail-fast stopped at a bad row."""
    for chunk in chunks:
        columns: list[tuple[str, Any]] = []
        errors = dict(chunk.errors)
        if chunk.good.any():
            columns = kernel.columns(chunk.values)
            if job.strict:
                errors.update(_nonfinite_rows(chunk, columns))
        if job.fail_fast and errors:
            chunk, columns, errors = _until_first_error(chunk, columns, errors)
        counts.read += len(chunk)
        counts.failed += len(errors)
        counts.computed += int(chunk.good.sum()) - sum(
            1 for k in errors if chunk.good[k])
        sink.put(chunk, columns, errors, file_index)
        if progress is not None:
            progress.advance(counts.read)
        if job.fail_fast and errors:
            counts.stopped = next(iter(errors.values()))
            return False
    return True


def _probe(job: BatchJob, readers: Sequence[PointReader]) -> Any:
    """The result columns' names when no row computed: one point of zeros, if it runs."""
    from gradcli.batch.kernel import BatchKernel
    from gradcli.language.program import parse

    def names() -> list[str]:
        shapes: dict[str, tuple[int, ...]] = {}
        provided: list[str] = []
        for reader in readers:
            provided += [v for v in reader.provided if v not in provided]
            shapes.update(reader.shapes)
        points = {n: np.zeros((1, *shapes.get(n, ()))) for n in provided}
        try:
            kernel = BatchKernel(job.command, parse(job.expression), job.constants,
                                 list(job.wrt) if job.wrt is not None else None, job.mode,
                                 replay=False)
            with np.errstate(all="ignore"):
                return [name for name, _ in kernel.columns(points)]
        except GradcliError:
            return []
    return names


def _nonfinite_rows(chunk: Chunk, columns: list[tuple[str, Any]]) -> dict[int, str]:
    table = np.column_stack([np.asarray(v, dtype=np.float64) for _, v in columns])
    bad = ~np.isfinite(table).all(axis=1)
    if not bad.any():
        return {}
    positions = np.flatnonzero(chunk.good)
    names = [name for name, _ in columns]
    errors = {}
    for k in np.flatnonzero(bad).tolist():
        which = [names[j] for j in np.flatnonzero(~np.isfinite(table[k])).tolist()[:3]]
        at = int(positions[k])
        errors[at] = (f"line {int(chunk.lines[at])}: non-finite result ({', '.join(which)}) "
                      "and --strict is set")
    return errors


def _until_first_error(chunk: Chunk, columns: list[tuple[str, Any]], errors: dict[int, str]
                       ) -> tuple[Chunk, list[tuple[str, Any]], dict[int, str]]:
    first = min(errors)
    kept_good = int(chunk.good[:first + 1].sum())
    cut = Chunk(chunk.lines[:first + 1], chunk.good[:first + 1], {}, {})
    return cut, [(n, v[:kept_good]) for n, v in columns], {first: errors[first]}


# -- one unit (distributed work) ------------------------------------------------------------
def run_unit(job: BatchJob, unit: Unit, out: str | IO[bytes], out_format: str, *,
             file_index: int | None = None, columns: Sequence[str] | None = None,
             kernel: Any = None) -> Counts:
    """Read → compute → write over one unit; see the module docstring."""
    program = _check_job(job)
    kind = "url" if is_url(unit.source) else "file"
    source = Source(unit.source, unit.format, kind)
    target = OutputTarget(out, None) if isinstance(out, str) else OutputTarget(None, out)
    counts = Counts()
    reader = open_reader(source, program.free_variables, job.chunk_size, unit)
    try:
        check_provided(reader, source.name, program.free_variables, job.constants)
        kernel = kernel if kernel is not None else job.kernel()
        sink = _Sink(out_format, target, file_index is not None, columns)
        _stream(kernel, reader.chunks(), sink, counts, job, file_index)
        sink.finish(_probe(job, [reader]))
        target.commit()
    except BaseException:
        target.discard()
        raise
    finally:
        reader.close()
    return counts


# -- the --points command -----------------------------------------------------------------
def run_points(command: str, expression: str, constants: Mapping[str, Any],
               points: str | Sequence[str], *, out_path: str | None = None,
               requested_format: str | None = None, points_format: str | None = None,
               chunk_size: int = DEFAULT_CHUNK, fail_fast: bool = False,
               strict: bool = False, quiet: bool = False,
               wrt: Sequence[str] | None = None, mode: str = "auto",
               out: TextIO | None = None, err: TextIO | None = None,
               engine: str | None = None, math: str = "accurate") -> int:
    err = err or sys.stderr
    job = BatchJob(command, expression, dict(constants),
                   tuple(wrt) if wrt is not None else None, mode, strict, fail_fast,
                   chunk_size, engines.requested(engine), math)
    program = _check_job(job)
    fmt_out = output_format(out_path, requested_format)
    specs = [points] if isinstance(points, str) else list(points)
    sources = resolve(specs, points_format)
    # every input and the output are checked before anything is computed
    target = OutputTarget(out_path, _binary(out) if out_path in (None, "-") else None)
    if target.real is None and fmt_out in ("parquet", "arrow", "npz") and \
            _is_terminal(out or sys.stdout):
        raise PointFileError(f"{fmt_out} records are binary: give --out FILE.{fmt_out}, or "
                             "redirect stdout to a file")
    readers = _check_inputs(sources, program, job, verify=not target.atomic)
    several = len(sources) > 1
    counts = Counts()
    progress = _Progress(sources, err) if not quiet and err.isatty() else None
    try:
        kernel = job.kernel(_count_records(sources) if engines.may_compile(job.engine)
                            else None)
        sink = _Sink(fmt_out, target, several, None)
        for index, source in enumerate(sources):
            reader: PointReader = readers[index] or open_reader(
                source, program.free_variables, chunk_size, verify=not target.atomic)
            readers[index] = reader
            try:
                going = _stream(kernel, reader.chunks(), sink, counts, job,
                                index if several else None, progress)
            finally:
                if source.seekable:
                    reader.close()
            if not going:
                break
        if counts.stopped is not None and target.atomic:
            target.discard()  # a file cut at the first bad row would pass for the whole run
        else:
            sink.finish(_probe(job, [r for r in readers if r is not None]))
            target.commit()
    except BaseException:
        target.discard()
        raise
    finally:
        for opened in readers:
            if opened is not None:
                opened.close()
        if progress is not None:
            progress.close()
    if several and not quiet:
        for index, source in enumerate(sources):
            err.write(f"file {index}: {source.name}\n")
    if counts.stopped is not None:
        unwritten = f"; --out {out_path} was not written" if target.atomic else ""
        err.write(f"gradcli: --fail-fast stopped at the first bad row ({counts.stopped})"
                  f"{unwritten}\n")
    if not quiet:  # --quiet: the exit code says how it went (warnings and errors still do)
        err.write(counts.line() + "\n")
    return EXIT_NOT_GOOD if counts.failed else EXIT_OK


def _check_inputs(sources: Sequence[Source], program: Any, job: BatchJob, *,
                  verify: bool = True) -> list[PointReader | None]:
    """Open each input once to check its header or schema; streams stay open."""
    if not program.free_variables:  # every format alike (JSONL has no header to refuse)
        raise _nothing_to_vary("it has no variables")
    readers: list[PointReader | None] = []
    try:
        for source in sources:
            checked = open_reader(source, program.free_variables, job.chunk_size,
                                  verify=verify)
            readers.append(checked)
            check_provided(checked, source.name, program.free_variables, job.constants)
            if source.seekable and len(sources) > 1:
                checked.close()
                readers[-1] = None
    except BaseException:
        for opened in readers:
            if opened is not None:
                opened.close()
        raise
    return readers


def _binary(out: TextIO | None) -> IO[bytes] | None:
    """A binary view of the text stream the records go to (stdout, or a test's buffer)."""
    if out is None:
        return None
    out.flush()
    buffer = getattr(out, "buffer", None)
    return buffer if buffer is not None else _TextBridge(out)  # type: ignore[return-value]


class _TextBridge:
    """Bytes written to a text stream that has no binary buffer (a StringIO)."""

    def __init__(self, text: TextIO):
        self.text = text

    def write(self, data: bytes) -> int:
        self.text.write(bytes(data).decode("utf-8"))
        return len(data)

    def flush(self) -> None:
        self.text.flush()

    def close(self) -> None:
        self.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _count_records(sources: Sequence[Source]) -> int | None:
    """Rows in local text point files (for the ETA): one fast pass counting newlines."""
    total = 0
    for source in sources:
        if source.kind != "file" or source.format not in ("csv", "jsonl"):
            return None
        count = 0
        with open(source.name, "rb") as f:
            while block := f.read(1 << 20):
                count += block.count(b"\n")
        total += max(count - (1 if source.format == "csv" else 0), 0)
    return total


class _Progress:
    """A Rich progress bar on stderr (only on a terminal): rows, rows per second, ETA."""

    def __init__(self, sources: Sequence[Source], err: TextIO):
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
        self.task = self.bar.add_task("points", total=_count_records(sources), rate="-")
        self.bar.start()

    def advance(self, rows: int) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        self.bar.update(self.task, completed=rows, rate=f"{rows / elapsed:,.0f}")

    def close(self) -> None:
        self.bar.stop()


__all__ = ["BatchJob", "Counts", "Unit", "run_points", "run_unit"]
