"""Forward mode: push tangents through a recorded graph with each op's JVP rule.

Tangents carry a leading batch axis, so one pass pushes many directions at
once: the identity as tangents gives a whole Jacobian, and pushed through the
graph that `create_graph=True` recorded for a gradient, a whole Hessian
(forward-over-reverse). Vertices whose inputs carry no tangent are skipped,
which prunes everything that does not depend on the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradcli.engine.autograd import FREED_HINT, FREED_MESSAGE, topological_order, vertex_of
from gradcli.engine.tensor import Node, Tensor
from gradcli.errors import AutogradError, ShapeError


def push_tangents(outputs: Sequence[Tensor], inputs: Sequence[Tensor],
                  tangents: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Batched JVP: for each output, d(output)/d(inputs) applied to the tangents.

    Each tangent has shape (B,) + input.shape; each result (B,) + output.shape.
    """
    if not tangents:
        raise ShapeError("push_tangents needs at least one input")
    batch = tangents[0].shape[0]
    known: dict[object, np.ndarray] = {}
    for t, tangent in zip(inputs, tangents, strict=True):
        if tangent.shape != (batch, *t.data.shape):
            raise ShapeError(
                f"a tangent of shape {tangent.shape[1:]} does not fit an input of shape "
                f"{t.data.shape}"
            )
        vertex = vertex_of(t)
        if vertex is None:
            raise AutogradError("forward mode needs inputs that require grad")
        known[vertex] = known[vertex] + tangent if vertex in known else tangent
    roots = [v for o in outputs if (v := vertex_of(o)) is not None]
    with np.errstate(all="ignore"):
        for vertex in topological_order(roots):
            if vertex in known or vertex.__class__ is not Node:
                continue
            node: Node = vertex  # type: ignore[assignment]
            incoming = [known.get(e) if e is not None else None for e in node.edges]
            if all(t is None for t in incoming):
                continue
            if node.freed or node.saved is None or node.out is None:
                raise AutogradError(FREED_MESSAGE, hint=FREED_HINT)
            op = node.op
            out = node.out
            if op.broadcasting:
                incoming = [None if t is None else _pad(t, out.ndim) for t in incoming]
            assert op.jvp is not None, f"op {op.name} has no JVP rule"
            result = op.jvp(incoming, out, *[s.data for s in node.saved], **node.params)
            if result.shape != (batch, *out.shape):
                result = np.broadcast_to(result, (batch, *out.shape))
            known[node] = result
    results = []
    for o in outputs:
        vertex = vertex_of(o)
        value = known.get(vertex) if vertex is not None else None
        results.append(np.zeros((batch, *o.data.shape)) if value is None else value)
    return results


def _pad(tangent: np.ndarray, out_ndim: int) -> np.ndarray:
    """Line a tangent's batch axis up for numpy broadcasting against unbatched operands."""
    missing = out_ndim + 1 - tangent.ndim
    if missing <= 0:
        return tangent
    return tangent.reshape((tangent.shape[0],) + (1,) * missing + tangent.shape[1:])
