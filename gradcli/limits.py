"""The element budget: how big one array may get before gradcli refuses to make it.

numpy allocates whatever it is asked for, and a mistyped size (`ones(100000,
100000)`, `arange(1e12)`) then ends in a MemoryError traceback or the kernel's
OOM killer. gradcli checks the size of every array whose shape it knows before
it is made (constructors, broadcasting results, matrix products, Jacobians and
Hessians) against one budget, and refuses with a clean error naming the
sub-expression and its shape.

The budget is counted in elements (8 bytes each): 50,000,000 by default,
about 400 MB per array. `GRADCLI_MAX_ELEMENTS` raises (or lowers) it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from gradcli.errors import ArgumentError, ResourceLimitError

DEFAULT_MAX_ELEMENTS = 50_000_000
ENVIRONMENT_VARIABLE = "GRADCLI_MAX_ELEMENTS"


def max_elements() -> int:
    """The budget in force: the environment variable if set, else the default."""
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    if text is None or not text.strip():
        return DEFAULT_MAX_ELEMENTS
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ArgumentError(f"{ENVIRONMENT_VARIABLE} must be a whole number >= 1, "
                            f"not {text!r}", hint=f"unset it for the default of "
                            f"{DEFAULT_MAX_ELEMENTS:,} elements")
    return value


def check_elements(count: float, shape: Sequence[float], what: str = "the result") -> None:
    """Refuse an array of `count` elements (of `shape`) if it is over the budget."""
    budget = max_elements()
    if not count <= budget:  # also refuses nan and inf
        raise ResourceLimitError(
            f"would have shape {describe_shape(shape)}: "
            f"{_count_text(count)} elements, over the limit of {budget:,}", subject=what,
            hint=f"use smaller sizes, or raise the limit with {ENVIRONMENT_VARIABLE}=N "
                 "if the memory is there (8 bytes per element)")


def check_shape(shape: Sequence[int], what: str = "the result") -> None:
    check_elements(math.prod(shape), shape, what)


def describe_shape(shape: Sequence[float]) -> str:
    parts = [str(int(s)) if float(s).is_integer() else f"{s:g}" for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _count_text(count: float) -> str:
    if not math.isfinite(count):
        return "infinitely many"
    return f"{int(count):,}" if count < 1e21 else f"{count:.3g}"


def check_broadcast(shapes: Sequence[Sequence[int]], what: str = "the result",
                    budget: int | None = None) -> None:
    """Refuse a broadcasting op whose result would be over the budget.

    The product of the input sizes bounds the result's size, so the exact
    shape is only worked out when that bound is over the budget. A caller
    running many ops (a program's evaluation) reads the budget once and
    passes it as `budget`: reading the environment costs more than the check."""
    bound = 1
    for shape in shapes:
        for extent in shape:
            bound *= extent
    if bound <= (max_elements() if budget is None else budget):
        return
    import numpy as np

    try:
        shape = np.broadcast_shapes(*(tuple(s) for s in shapes))
    except ValueError:
        return  # shapes that do not broadcast: the op itself says so
    check_shape(shape, what)
