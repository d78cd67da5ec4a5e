"""What a worker runs for one unit: read → compute → write into a staged part file.

The task's arguments are plain data (a `BatchJob`: the command and expression as
text and the constants; the unit's coordinates): a batch kernel holds a compiled
plan and does not pickle, so each worker process builds it from the text and
keeps it for the later units of the same run. The work itself is the batch
pipeline's own `run_unit`, the loop a local run uses. A task never raises for
bad data; bad rows are records in the part and counts in the result. It raises
only for faults (an input that vanished, a full disk), which end the run; the
batch pipeline's output target removes its temporary file then.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from gradcli.batch.cluster.parts import part_destination
from gradcli.batch.cluster.schema import Schema, describe_part
from gradcli.batch.cluster.units import PlannedUnit
from gradcli.batch.run import BatchJob


@dataclass(frozen=True)
class Job:
    """Everything about the run that every unit shares, as plain data."""

    run_id: str
    batch: BatchJob
    out_format: str
    #: with several inputs, records carry a `file` column (the input's index), as locally
    several: bool


@dataclass(frozen=True)
class PartResult:
    """One unit done: its staged part, its row counts and what the part holds."""

    index: int
    staged: str
    read: int
    computed: int
    failed: int
    schema: Schema
    first_line: int | None


_KERNELS: OrderedDict[tuple[str, int], Any] = OrderedDict()
_KERNELS_LOCK = threading.Lock()


def _kernel(job: Job) -> Any:
    """The job's batch kernel in this worker process (one per thread: kernels keep state)."""
    key = (job.run_id, threading.get_ident())
    with _KERNELS_LOCK:
        kernel = _KERNELS.get(key)
        if kernel is not None:
            _KERNELS.move_to_end(key)
            return kernel
    kernel = job.batch.kernel()
    with _KERNELS_LOCK:
        _KERNELS[key] = kernel
        while len(_KERNELS) > 8:  # earlier runs on a long-lived cluster
            _KERNELS.popitem(last=False)
    return kernel


def run_unit(job: Job, planned: PlannedUnit, destination: str) -> PartResult:
    """The task: one unit into one part (staged locally under a fresh name per attempt,
    or written directly as one object on an object store)."""
    from gradcli.batch.run import run_unit as read_compute_write
    from gradcli.pointfiles.sources import is_url

    written = part_destination(destination, planned.index, job.out_format)
    file_index = planned.file_index if job.several else None
    if not is_url(written):
        counts = read_compute_write(job.batch, planned.unit, written, job.out_format,
                                    file_index=file_index, kernel=_kernel(job))
        schema, first_line = describe_part(written, job.out_format)
    else:
        import fsspec

        fs, path = fsspec.core.url_to_fs(written)
        stream = fs.open(path, "wb")
        try:
            counts = read_compute_write(job.batch, planned.unit, stream, job.out_format,
                                        file_index=file_index, kernel=_kernel(job))
        except BaseException:
            # an unfinished upload is abandoned, not completed into a partial object
            if hasattr(stream, "discard"):
                stream.discard()
            else:
                stream.close()
            raise
        stream.close()
        with fs.open(path, "rb") as part:
            schema, first_line = describe_part(part, job.out_format)
    return PartResult(planned.index, written, counts.read, counts.computed, counts.failed,
                      schema, first_line)
