"""One batch run on a Dask cluster: plan the units, run them, commit the directory.

The order of events is what makes the output trustworthy:

1. inputs and the output directory are checked and the units planned, before
   any cluster is touched (a bad option costs nothing);
2. one task per unit; as each reports back, its staged part is renamed into
   place (parts are deterministic, so a unit recomputed after a worker died
   gives the same part again);
3. `_SUCCESS` is written last. A unit that fails for a reason other than bad
   data (Dask gives up on it with `KilledWorker`, its input vanished) ends the
   run with exit 1; then, as on Ctrl-C, the futures are cancelled and this run's
   parts removed, so a directory never looks complete when it is not.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from gradcli.batch import DEFAULT_CHUNK
from gradcli.batch.cluster.parts import SUCCESS, ObjectStoreParts, PartsDirectory, output_directory
from gradcli.batch.cluster.scheduler import connect, require_distributed
from gradcli.batch.cluster.schema import widest
from gradcli.batch.cluster.task import Job, PartResult, run_unit
from gradcli.batch.cluster.units import DEFAULT_UNIT_BYTES, PlannedUnit, plan_units
from gradcli.errors import EXIT_NOT_GOOD, EXIT_OK, ArgumentError, GradcliError

PART_FORMATS = ("parquet", "csv", "jsonl")


class UnitFailedError(GradcliError):
    """A unit could not be computed at all (not bad rows: a fault). Nothing is committed."""

    kind = "unit-failed"
    exit_code = EXIT_NOT_GOOD


def part_format(out_dir: str, requested: str | None) -> str:
    """--format if given, else the directory's extension, else Parquet."""
    if requested in ("json", "jsonl"):
        return "jsonl"
    if requested in PART_FORMATS:
        return requested
    if requested is not None:
        raise ArgumentError(f"--format {requested} does not go with --scheduler: parts are "
                            "parquet, csv or jsonl", hint="e.g. --format parquet")
    extension = out_dir.rstrip("/").rsplit(".", 1)[-1].lower() if "." in out_dir else ""
    return extension if extension in PART_FORMATS else "parquet"


def run_on_cluster(command: str, expression: str, constants: Mapping[str, Any],
                   points: str | Sequence[str], *, scheduler: str, out_dir: str | None,
                   requested_format: str | None = None, points_format: str | None = None,
                   overwrite: bool = False, strict: bool = False,
                   wrt: Sequence[str] | None = None, mode: str = "auto",
                   chunk_size: int = DEFAULT_CHUNK, unit_bytes: int = DEFAULT_UNIT_BYTES,
                   task: Callable[[Job, PlannedUnit, str], PartResult] = run_unit,
                   err: TextIO | None = None, quiet: bool = False) -> int:
    """Run `command` over every point on the cluster at `scheduler`, into `out_dir`.

    Returns the exit code: 0, or 1 when some rows failed (their records say why).
    Raises `GradcliError` for bad input (exit 2) and `UnitFailedError` (exit 1).
    `unit_bytes` sizes the units; `task` is what runs one unit (tests pass one
    that fails)."""
    from gradcli.batch.run import BatchJob, _check_inputs, _check_job
    from gradcli.pointfiles.sources import resolve

    err = err or sys.stderr
    if out_dir is None:
        raise ArgumentError("--scheduler needs --out DIR: the output is a directory of part "
                            "files", hint="e.g. --out results/ --format parquet")
    batch = BatchJob(command, expression, dict(constants),
                     tuple(wrt) if wrt is not None else None, mode, strict, False, chunk_size)
    program = _check_job(batch)
    require_distributed()
    sources = resolve([points] if isinstance(points, str) else list(points), points_format)
    streams = [s.name for s in sources if not s.seekable]
    if streams:
        raise ArgumentError(f"--scheduler cannot read {streams[0]}: the workers read the "
                            "inputs themselves, so they must be files or URLs",
                            hint="save the points to a file first")
    for reader in _check_inputs(sources, program, batch):  # exit 2 before any computing
        if reader is not None:
            reader.close()
    fmt = part_format(out_dir, requested_format)
    units = plan_units(sources, unit_bytes)
    job = Job(uuid.uuid4().hex, batch, fmt, len(sources) > 1)
    directory = output_directory(out_dir, fmt)
    directory.prepare(overwrite)
    try:
        with connect(scheduler) as client:
            results = _run_units(client, task, job, units, directory)
        manifest = _manifest(job, sources, units, results)
        directory.commit(manifest)
    except BaseException:
        directory.abort()
        raise
    totals = manifest["totals"]
    if quiet:  # --quiet: the exit code says how it went
        return EXIT_NOT_GOOD if totals["failed"] else EXIT_OK
    if len(sources) > 1:
        for index, source in enumerate(sources):
            err.write(f"file {index}: {source.name}\n")
    err.write(f"rows read: {totals['rows']}, computed: {totals['computed']}, failed: "
              f"{totals['failed']}\nwrote {len(units)} part{'s' * (len(units) != 1)} and "
              f"{SUCCESS} to {out_dir}\n")
    return EXIT_NOT_GOOD if totals["failed"] else EXIT_OK


def _run_units(client: Any, task: Callable[[Job, PlannedUnit, str], PartResult], job: Job,
               units: list[PlannedUnit],
               directory: PartsDirectory | ObjectStoreParts) -> list[PartResult]:
    from distributed import as_completed

    futures = [client.submit(task, job, unit, directory.destination, pure=False,
                             key=f"gradcli-unit-{job.run_id}-{unit.index:05d}")
               for unit in units]
    unit_of = {future.key: unit for future, unit in zip(futures, units, strict=True)}
    results: dict[int, PartResult] = {}
    try:
        for future in as_completed(futures):
            unit = unit_of[future.key]
            try:
                result = future.result()
            except Exception as exc:
                raise _failure(unit, exc) from None
            directory.commit_part(result.staged, result.index)
            results[result.index] = result
            future.release()
    except BaseException:
        client.cancel(futures)
        if isinstance(directory, ObjectStoreParts):
            # a cancelled task that is already running still finishes and writes its
            # object: let those end before the parts are removed
            _wait_for_running(client, job.run_id, SETTLE_SECONDS)
        raise
    return [results[unit.index] for unit in units]


SETTLE_SECONDS = 30.0
"""How long a failed or interrupted run waits for its running tasks on an object store."""


def _wait_for_running(client: Any, run_id: str, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            running = client.run(running_units, run_id)
        except Exception:  # a worker went away meanwhile: ask again
            running = {"": 1}
        if not any(running.values()):
            return
        time.sleep(0.1)


def running_units(run_id: str, dask_worker: Any = None) -> int:
    """On a worker: how many of the run's tasks are still executing (cancelled or not)."""
    if dask_worker is None:
        return 0
    return sum(1 for key, task in dask_worker.state.tasks.items()
               if run_id in str(key) and task.state in ("executing", "cancelled",
                                                        "long-running"))


def _failure(unit: PlannedUnit, exc: BaseException) -> UnitFailedError:
    if type(exc).__name__ == "KilledWorker":
        return UnitFailedError(
            f"{unit.describe()} kept killing the workers that ran it, so Dask gave up on "
            "it; nothing was committed",
            hint="run that part of the input without --scheduler to see what happens, or "
                 "give the workers more memory")
    reason = (str(exc).strip().splitlines() or [""])[0]
    return UnitFailedError(f"{unit.describe()} failed: {type(exc).__name__}: {reason}; "
                           "nothing was committed")


def _manifest(job: Job, sources: Sequence[Any], units: list[PlannedUnit],
              results: list[PartResult]) -> dict[str, Any]:
    from gradcli import __version__
    from gradcli.batch.cluster.parts import part_name

    parts = []
    for unit, result in zip(units, results, strict=True):
        part: dict[str, Any] = {"name": part_name(unit.index, job.out_format),
                                "input": unit.file_index, "first_line": result.first_line}
        if unit.last_line is not None:
            part["last_line"] = unit.last_line
        part.update(rows=result.read, computed=result.computed, failed=result.failed)
        parts.append(part)
    return {
        "gradcli": __version__,
        "command": job.batch.command,
        "expression": job.batch.expression,
        "format": job.out_format,
        "inputs": [source.name for source in sources],
        "parts": parts,
        "totals": {"parts": len(parts), "rows": sum(r.read for r in results),
                   "computed": sum(r.computed for r in results),
                   "failed": sum(r.failed for r in results)},
        "schema": [{"name": name, "type": kind}
                   for name, kind in widest([r.schema for r in results])],
    }
