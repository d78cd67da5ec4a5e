"""Recording every op a computation applies, so that it can be replayed on new data.

Batch work runs one program over chunk after chunk of points. Run once
through the engine with a recorder attached, the program (and, with
`create_graph`, its backward pass too) leaves behind a flat list of op
applications on numpy arrays. `gradcli.plans.plan` turns that list into a
replayable plan, so later chunks skip the graph bookkeeping altogether.

The engine's only part in this is the one call in `apply`. A value that enters
the computation without going through an op is a constant of the recording,
so no rule builds a value from its inputs' data outside an op: masks and tie
weights are comparison and `where` ops, recorded like the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from gradcli.engine.op import OpDef
from gradcli.engine.state import changed

Entry = tuple[OpDef, tuple[np.ndarray, ...], dict[str, Any], np.ndarray]


class Recorder:
    """The op applications seen while active, in the order they ran."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        # every array stays referenced here, so no two distinct arrays share an id()
        self.entries: list[Entry] = []

    def record(self, op: OpDef, inputs: tuple[Any, ...], params: dict[str, Any],
               out: np.ndarray) -> None:
        self.entries.append((op, tuple(t.data for t in inputs), params, out))


@contextmanager
def recording() -> Iterator[Recorder]:
    """Every op applied in this context, inside the block, is recorded."""
    recorder = Recorder()
    with changed(recorder=recorder):
        yield recorder
