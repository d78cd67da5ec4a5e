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
from gradcli.batch.cluster.parts import SUCCESS, PartsDirectory
from gradcli.batch.cluster.scheduler import connect, require_distributed
from gradcli.batch.cluster.schema import widest
from gradcli.batch.cluster.task import Job, PartResult, run_unit
from gradcli.batch.cluster.units import DEFAULT_UNIT_BYTES, Unit, plan_units
from gradcli.errors import EXIT_NOT_GOOD, EXIT_OK, ArgumentError, GradcliError

PART_FORMATS = ("parquet", "csv", "jsonl")


class UnitFailedError(GradcliError):
    """A unit could not be computed at all (not bad rows: a fault). Nothing is committed."""

    kind = "unit-failed"
    exit_code = EXIT_NOT_GOOD


def part_format(out_dir: str, requested: str | None) -> str:
    """--format if it names a part format, else the directory's extension, else Parquet."""
    if requested in ("json", "jsonl"):
        return "jsonl"
    if requested in PART_FORMATS:
        return requested
    extension = out_dir.rstrip("/").rsplit(".", 1)[-1].lower() if "." in out_dir else ""
    return extension if extension in PART_FORMATS else "parquet"


def run_on_cluster(command: str, expression: str, constants: Mapping[str, Any],
                   points: str | Sequence[str], *, scheduler: str, out_dir: str | None,
                   requested_format: str | None = None, points_format: str | None = None,
                   overwrite: bool = False, strict: bool = False,
                   wrt: Sequence[str] | None = None, mode: str = "auto",
                   chunk_size: int = DEFAULT_CHUNK, unit_bytes: int = DEFAULT_UNIT_BYTES,
                   task: Callable[[Job, Unit, str], PartResult] = run_unit,
                   err: TextIO | None = None) -> int:
    """Run `command` over every point on the cluster at `scheduler`, into `out_dir`.

    Returns the exit code: 0, or 1 when some rows failed (their records say why).
    Raises `GradcliError` for bad input (exit 2) and `UnitFailedError` (exit 1).
    `unit_bytes` sizes the units; `task` is what runs one unit (tests pass one
    that fails)."""
    from gradcli.batch.cluster.interim import check_inputs, expand_inputs
    from gradcli.language.program import parse

    err = err or sys.stderr
    if command not in ("eval", "grad", "hessian", "jacobian"):
        raise ArgumentError(f"--points works with eval, grad, hessian and jacobian, not "
                            f"{command}")
    if out_dir is None:
        raise ArgumentError("--scheduler needs --out DIR: the output is a directory of part "
                            "files", hint="e.g. --out results/ --format parquet")
    if chunk_size < 1:
        raise ArgumentError("--chunk-size must be at least 1")
    program = parse(expression)
    require_distributed()
    paths, in_format = expand_inputs(points, points_format)
    check_inputs(paths, in_format, program.free_variables, constants)
    fmt = part_format(out_dir, requested_format)
    units = plan_units(paths, in_format, unit_bytes)
    job = Job(uuid.uuid4().hex, command, expression, dict(constants), tuple(paths), in_format,
              fmt, tuple(wrt) if wrt is not None else None, mode, strict, chunk_size)
    directory = PartsDirectory(out_dir, fmt)
    directory.prepare(overwrite)
    try:
        with connect(scheduler) as client:
            results = _run_units(client, task, job, units, directory)
        manifest = _manifest(job, units, results)
        directory.commit(manifest)
    except BaseException:
        directory.abort()
        raise
    totals = manifest["totals"]
    err.write(f"rows read: {totals['rows']}, computed: {totals['computed']}, failed: "
              f"{totals['failed']}\nwrote {len(units)} parts and {SUCCESS} to {out_dir}\n")
    return EXIT_NOT_GOOD if totals["failed"] else EXIT_OK


def _run_units(client: Any, task: Callable[[Job, Unit, str], PartResult], job: Job,
               units: list[Unit], directory: PartsDirectory) -> list[PartResult]:
    from distributed import as_completed

    futures = [client.submit(task, job, unit, directory.staging, pure=False,
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
        raise
    return [results[unit.index] for unit in units]


def _failure(unit: Unit, exc: BaseException) -> UnitFailedError:
    if type(exc).__name__ == "KilledWorker":
        return UnitFailedError(
            f"{unit.describe()} kept killing the workers that ran it, so Dask gave up on "
            "it; nothing was committed",
            hint="run that part of the input without --scheduler to see what happens, or "
                 "give the workers more memory")
    return UnitFailedError(f"{unit.describe()} failed: {type(exc).__name__}: {exc}; "
                           "nothing was committed")


def _manifest(job: Job, units: list[Unit], results: list[PartResult]) -> dict[str, Any]:
    from gradcli import __version__
    from gradcli.batch.cluster.parts import part_name

    parts = []
    for unit, result in zip(units, results, strict=True):
        part: dict[str, Any] = {"name": part_name(unit.index, job.out_format),
                                "input": unit.file_index, "first_line": unit.first_line}
        if unit.last_line is not None:
            part["last_line"] = unit.last_line
        part.update(rows=result.read, computed=result.computed, failed=result.failed)
        parts.append(part)
    return {
        "gradcli": __version__,
        "command": job.command,
        "expression": job.expression,
        "format": job.out_format,
        "inputs": list(job.inputs),
        "parts": parts,
        "totals": {"parts": len(parts), "rows": sum(r.read for r in results),
                   "computed": sum(r.computed for r in results),
                   "failed": sum(r.failed for r in results)},
        "schema": [{"name": name, "type": kind}
                   for name, kind in widest([r.schema for r in results])],
    }
