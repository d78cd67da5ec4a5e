"""What a worker runs for one unit: read → compute → write into a staged part file.

The task's arguments are plain data (the command and expression as text, the
constants, the unit's coordinates): a batch kernel holds a compiled plan and
does not pickle, so each worker process builds it from the text and keeps it for
the later units of the same run. A task never raises for bad data; bad rows are
records in the part and counts in the result. It raises only for faults (an
input that vanished, a full disk), which end the run.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gradcli.batch.cluster.parts import staged_name
from gradcli.batch.cluster.units import Unit


@dataclass(frozen=True)
class Job:
    """Everything about the run that every unit shares, as plain data."""

    run_id: str
    command: str
    expression: str
    constants: Mapping[str, Any]
    inputs: tuple[str, ...]
    in_format: str
    out_format: str
    wrt: tuple[str, ...] | None = None
    mode: str = "auto"
    strict: bool = False
    chunk_size: int = 65536


@dataclass(frozen=True)
class PartResult:
    """One unit done: its staged part and its row counts."""

    index: int
    staged: str
    read: int
    computed: int
    failed: int
    schema: tuple[tuple[str, str], ...]


_KERNELS: OrderedDict[tuple[str, int], Any] = OrderedDict()
_KERNELS_LOCK = threading.Lock()


def _kernel(job: Job) -> Any:
    """The job's batch kernel in this worker process (one per thread: kernels keep state)."""
    from gradcli.batch.compute import BatchKernel
    from gradcli.language.program import parse

    key = (job.run_id, threading.get_ident())
    with _KERNELS_LOCK:
        kernel = _KERNELS.get(key)
        if kernel is not None:
            _KERNELS.move_to_end(key)
            return kernel
    kernel = BatchKernel(job.command, parse(job.expression), job.constants,
                         list(job.wrt) if job.wrt is not None else None, job.mode)
    with _KERNELS_LOCK:
        _KERNELS[key] = kernel
        while len(_KERNELS) > 8:  # earlier runs on a long-lived cluster
            _KERNELS.popitem(last=False)
    return kernel


def run_unit(job: Job, unit: Unit, staging: str) -> PartResult:
    """The task: one unit into one staged part (a fresh name per attempt)."""
    from gradcli.batch.cluster.interim import read_compute_write
    from gradcli.batch.cluster.schema import part_schema

    staged = staged_name(staging, unit.index, job.out_format)
    try:
        read, computed, failed = read_compute_write(job, unit, staged, _kernel(job))
    except BaseException:
        if os.path.exists(staged):
            os.remove(staged)
        raise
    return PartResult(unit.index, staged, read, computed, failed,
                      part_schema(staged, job.out_format))
