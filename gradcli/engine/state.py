"""The engine's switches, local to each context: grad mode, the recorder, the watch, lifting.

Every op reads them, so they are one object behind one `ContextVar`: a
single lookup per op, and a thread (or asyncio task) that switches grad mode
or records a plan never changes what another one sees. Each switch is set by
a context manager and reset in `finally`, however the block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any


class EngineState:
    """Immutable: a change makes a new state, so a reset restores the old one exactly."""

    __slots__ = ("grad", "lifting", "recorder", "watch")

    def __init__(self, grad: bool = True, recorder: Any = None, watch: Any = None,
                 lifting: bool = False):
        #: whether ops record a graph (`no_grad`, `enable_grad`, `create_graph`)
        self.grad = grad
        #: the `trace.Recorder` every op reports to, or None
        self.recorder = recorder
        #: the `watch.NonFiniteLog` every op reports non-finite results to, or None
        self.watch = watch
        #: whether `apply` looks for `Batched` inputs (forward mode's directions axis)
        self.lifting = lifting


#: the default is never mutated (a change makes a new state), so sharing it is safe
STATE: ContextVar[EngineState] = ContextVar("gradcli_engine_state",
                                            default=EngineState())  # noqa: B039
current = STATE.get


@contextmanager
def changed(**changes: Any) -> Iterator[EngineState]:
    """The state with `changes` for the duration of the block."""
    state = STATE.get()
    new = EngineState(changes.get("grad", state.grad), changes.get("recorder", state.recorder),
                      changes.get("watch", state.watch), changes.get("lifting", state.lifting))
    token = STATE.set(new)
    try:
        yield new
    finally:
        STATE.reset(token)
