"""Evaluating a program at many points at once: a batch axis on every tensor.

There is no second interpreter here: `Program.evaluate_batched` runs the
program's one loop with the point variables batched, and every op applies its
own batch rule from the op table (`gradcli.engine.batching`). Every adaptation
is made of ordinary engine ops, so gradients, Jacobians and Hessians of the
batched graph are the per-point derivatives, stacked: the points never
interact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gradcli.engine.tensor import Tensor
from gradcli.language.program import Program


def evaluate_batched(program: Program, points: Mapping[str, Tensor],
                     constants: Mapping[str, Any], size: int) -> Tensor:
    """The program's output at every point: shape (size, *output shape)."""
    return program.evaluate_batched(points, constants, size)
