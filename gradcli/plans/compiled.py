"""The compiled back end: one recorded plan, one native loop over every point.

The same recording the numpy replay uses (`kernel.record_plan`), made on a
block of two points, is lowered to LLVM IR (`lower`) and compiled or loaded
from the cache (`jit`). Before it is trusted, the kernel is run on the two
recorded points and must agree with the engine's own values; any plan that
cannot be lowered or does not agree is left to the numpy replay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.plans.scalar import NotCompilable

Columns = list[tuple[str, np.ndarray]]


class CompiledPlan:
    """A loaded kernel and the function that names its outputs as columns."""

    def __init__(self, kernel: Any, assemble: Callable[[list[np.ndarray], int], Columns],
                 steps: int):
        self.kernel = kernel
        self.assemble = assemble
        self.steps = steps

    def columns(self, arrays: Sequence[np.ndarray], size: int) -> Columns:
        return self.assemble(self.kernel.run(arrays, size), size)


def build(record: Callable[[int], Any], points: Mapping[str, np.ndarray],
          decide: Callable[[int], bool] | None = None,
          math_mode: str = "accurate") -> CompiledPlan | None:
    """The compiled plan for these points' shapes, or None (numpy replay).

    `record(block)` is the kernel's recording at a block size; `decide(steps)`,
    if given, may still decline once the plan's length is known; `math_mode`
    picks the transcendentals (--math: accurate, fast or libm, `gradcli.vecmath.provides`)."""
    from gradcli.plans import jit
    from gradcli.plans.lower import lower

    recorded = record(2)
    if recorded is None:
        return None
    plan, assemble, expected = recorded
    if decide is not None and not decide(len(plan.steps)):
        return None
    names = list(points)
    try:
        width = jit.vector_width() if "+fma" in jit.target_features().split(",") else 0
        lowered = lower(plan, [tuple(points[n].shape[1:]) for n in names], math_mode, width)
    except NotCompilable:
        return None
    kernel = jit.load(lowered)
    count = len(expected[0]) if expected else 0
    sample = kernel.run([np.asarray(points[n][:count], dtype=np.float64) for n in names], count)
    if not all(_agrees(s, e) for s, e in zip(sample, expected, strict=True)):
        return None
    return CompiledPlan(kernel, assemble, len(plan.steps))


def _agrees(compiled: np.ndarray, recorded: np.ndarray) -> bool:
    """Equal to rounding wherever the engine's value is finite.

    Relative to the output's scale, not each entry's: a Hessian entry that is
    zero in exact arithmetic comes out as +-1e-17 from either side."""
    compiled = np.broadcast_to(compiled, np.shape(recorded))
    finite = np.isfinite(recorded)
    scale = float(np.max(np.abs(recorded[finite]), initial=1.0))
    return bool(np.allclose(compiled[finite], recorded[finite], rtol=1e-12,
                            atol=1e-12 * scale))
