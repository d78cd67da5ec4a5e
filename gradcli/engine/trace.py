"""Recording every op a computation applies, so that it can be replayed on new data.

Batch work runs one program over chunk after chunk of points. Run once
through the engine with a recorder attached, the program (and, with
`create_graph`, its backward pass too) leaves behind a flat list of op
applications on numpy arrays. `gradcli.batch.plan` turns that list into a
replayable plan, so later chunks skip the graph bookkeeping altogether.

The engine's only part in this is the one call in `apply`. A value that enters
the computation without going through an op is a constant of the recording;
a rule that builds such a value from its inputs' data (a mask, a tie weight)
says so with `mark_opaque`, and a recording marked that way cannot be
replayed on other data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from gradcli.engine.op import OpDef

Entry = tuple[OpDef, tuple[np.ndarray, ...], dict[str, Any], np.ndarray]


class Recorder:
    """The op applications seen while active, in the order they ran."""

    __slots__ = ("entries", "opaque")

    def __init__(self) -> None:
        # every array stays referenced here, so no two distinct arrays share an id()
        self.entries: list[Entry] = []
        self.opaque: str | None = None

    def record(self, op: OpDef, inputs: tuple[Any, ...], params: dict[str, Any],
               out: np.ndarray) -> None:
        self.entries.append((op, tuple(t.data for t in inputs), params, out))


class Trace:
    """The recorder `apply` reports to, or None (the usual case: one attribute test)."""

    active: Recorder | None = None


def mark_opaque(reason: str) -> None:
    """Note that a value was derived from data outside any op (only matters while recording)."""
    recorder = Trace.active
    if recorder is not None and recorder.opaque is None:
        recorder.opaque = reason


@contextmanager
def recording() -> Iterator[Recorder]:
    recorder = Recorder()
    previous, Trace.active = Trace.active, recorder
    try:
        yield recorder
    finally:
        Trace.active = previous
