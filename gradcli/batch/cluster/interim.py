"""Adapter from the cluster's units to the batch pipeline's own `run_unit`.

The batch pipeline (`batch.run.run_unit`) runs read → compute → write over one
unit; this module maps the cluster's `Unit` onto `batch.units.Unit` and the
input checks onto `batch.sources` and the readers, so that a worker runs
exactly the local path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradcli.batch.cluster.units import Unit
from gradcli.errors import PointFileError


def read_compute_write(job: Any, unit: Unit, path: str, kernel: Any) -> tuple[int, int, int]:
    from gradcli.batch import units
    from gradcli.batch.run import BatchJob, run_unit

    if unit.kind == "bytes":
        piece = units.Unit(unit.path, unit.format, unit.start, unit.stop, unit.first_line)
    elif unit.kind == "row_groups":
        piece = units.Unit(unit.path, unit.format, row_groups=tuple(unit.row_groups))
    else:
        piece = units.Unit(unit.path, unit.format)
    batch_job = BatchJob(job.command, job.expression, job.constants, job.wrt, job.mode,
                         job.strict, False, job.chunk_size)
    counts = run_unit(batch_job, piece, path, job.out_format, kernel=kernel)
    return counts.read, counts.computed, counts.failed


def expand_inputs(points: str | Sequence[str], given: str | None) -> tuple[list[str], str]:
    """The input files, in sorted order, and their one format."""
    from gradcli.batch.sources import resolve

    sources = resolve([points] if isinstance(points, str) else list(points), given)
    if any(source.kind == "stream" for source in sources):
        raise PointFileError("--scheduler needs point files (not stdin or a FIFO): workers "
                             "read them by name")
    formats = {source.format for source in sources}
    if len(formats) != 1:
        raise PointFileError("the point files must all be one format", hint="or pass "
                             "--points-format")
    return [source.name for source in sources], formats.pop()


def check_inputs(paths: Sequence[str], fmt: str, variables: Sequence[str],
                 constants: Any) -> None:
    """Every input provides the variables the constants do not (exit 2 before computing)."""
    from gradcli.batch.points import open_reader
    from gradcli.batch.run import check_provided
    from gradcli.batch.sources import Source, is_url

    for path in paths:
        reader = open_reader(Source(path, fmt, "url" if is_url(path) else "file"), variables,
                             1)
        try:
            check_provided(reader, path, variables, constants)
        finally:
            reader.close()
