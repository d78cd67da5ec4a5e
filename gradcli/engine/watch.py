"""Finding the first operation that turned finite numbers into NaN or inf.

Numbers outside an op's domain give NaN or inf, as numpy does, never an
exception. To tell the user *where* that happened, callers that care (the CLI)
open a `watch_nonfinite()` block; inside it every op checks its output and the
first op that produced a non-finite value from finite inputs is recorded. The
check is off by default, so plain library use pays only one attribute read.
The watch is context-local (`gradcli.engine.state`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from gradcli.engine.state import changed


class NonFiniteEvent:
    __slots__ = ("context", "inputs", "op", "params", "result")

    def __init__(self, op: str, inputs: tuple[np.ndarray, ...], params: dict[str, Any],
                 result: Any, context: Any = None):
        self.op = op
        #: the input values the op saw (numpy arrays)
        self.inputs = inputs
        self.params = params
        #: the tensor the op produced; the language maps it back to a source span
        self.result = result
        #: during a backward pass, the node whose derivative was being computed
        self.context = context


def _finite(a: np.ndarray) -> bool:
    return a.dtype == np.bool_ or bool(np.isfinite(a).all())


class NonFiniteLog:
    """What a `watch_nonfinite()` block saw; readable inside the block and after it."""

    __slots__ = ("context", "first")

    def __init__(self) -> None:
        self.first: NonFiniteEvent | None = None
        #: set by the backward pass to the node it is differentiating
        self.context: Any = None


def check(log: NonFiniteLog, op_name: str, arrays: tuple[np.ndarray, ...], out: np.ndarray,
          params: dict[str, Any], result: Any) -> None:
    if log.first is not None or _finite(out):
        return
    if all(_finite(a) for a in arrays):
        log.first = NonFiniteEvent(op_name, arrays, dict(params), result, log.context)


@contextmanager
def watch_nonfinite() -> Iterator[NonFiniteLog]:
    """Record the first op inside the block that produced a non-finite value from finite inputs."""
    log = NonFiniteLog()
    with changed(watch=log):
        yield log
