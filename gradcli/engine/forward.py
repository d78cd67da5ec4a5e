"""Forward mode: push tangents through a recorded graph with each op's JVP rule.

Tangents carry a leading batch axis, so one pass pushes many directions at
once: the identity as tangents gives a whole Jacobian, and pushed through the
graph that `create_graph=True` recorded for a gradient, a whole Hessian
(forward-over-reverse). Vertices whose inputs carry no tangent are skipped,
which prunes everything that does not depend on the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.engine.autograd import FREED_HINT, FREED_MESSAGE, topological_order, vertex_of
from gradcli.engine.sparse_tangent import MAX_TERMS, SparseTangent, densify
from gradcli.engine.tensor import Node, Tensor
from gradcli.errors import AutogradError, ShapeError


def push_tangents(outputs: Sequence[Tensor], inputs: Sequence[Tensor],
                  tangents: Sequence[np.ndarray | SparseTangent]) -> list[np.ndarray]:
    """Batched JVP: for each output, d(output)/d(inputs) applied to the tangents.

    Each tangent has shape (B,) + input.shape (dense, or a `SparseTangent`);
    each result is a dense array of shape (B,) + output.shape.
    """
    if not tangents:
        raise ShapeError("push_tangents needs at least one input")
    batch = _batch(tangents[0])
    known: dict[object, Any] = {}
    for t, tangent in zip(inputs, tangents, strict=True):
        if _batch(tangent) != batch or _body(tangent) != t.data.shape:
            raise ShapeError(
                f"a tangent of shape {_body(tangent)} does not fit an input of shape "
                f"{t.data.shape}"
            )
        vertex = vertex_of(t)
        if vertex is None:
            raise AutogradError("forward mode needs inputs that require grad")
        known[vertex] = _add(known[vertex], tangent) if vertex in known else tangent
    roots = [v for o in outputs if (v := vertex_of(o)) is not None]
    with np.errstate(all="ignore"):
        for vertex in topological_order(roots):
            if vertex in known or vertex.__class__ is not Node:
                continue
            node: Node = vertex
            incoming = [known.get(e) if e is not None else None for e in node.edges]
            if all(t is None for t in incoming):
                continue
            if node.freed or node.saved is None or node.out is None:
                raise AutogradError(FREED_MESSAGE, hint=FREED_HINT)
            sparse = _sparse_step(node, incoming)
            if sparse is None:
                known[node] = _dense_step(node, [densify(t) for t in incoming], batch)
            else:
                known[node] = sparse.dense() if len(sparse.terms) > MAX_TERMS else sparse
    results = []
    for o in outputs:
        vertex = vertex_of(o)
        value = known.get(vertex) if vertex is not None else None
        results.append(np.zeros((batch, *o.data.shape)) if value is None else densify(value))
    return results


def _sparse_step(node: Node, incoming: list[Any]) -> SparseTangent | None:
    """The op's tangent kept sparse, or None where the op needs the dense rule."""
    present = [t for t in incoming if t is not None]
    if not all(isinstance(t, SparseTangent) for t in present):
        return None
    op, out, params = node.op, node.out, node.params
    assert node.saved is not None and out is not None
    if op.linear is not None:
        coefficients = op.linear(out, *[s.data for s in node.saved], **params)
        total: SparseTangent | None = None
        for t, c in zip(incoming, coefficients, strict=True):
            if t is None or c is None:
                continue
            term = t.padded(out.ndim).scaled(c, out.shape)
            total = term if total is None else total.plus(term)
        return total if total is not None else SparseTangent(present[0].batch, out.shape, [])
    if op.moves is not None and len(incoming) == 1:
        move = op.moves(**params)
        if move is not None:
            return present[0].mapped(move)
    return None


def _dense_step(node: Node, incoming: list[Any], batch: int) -> np.ndarray:
    op, out = node.op, node.out
    assert node.saved is not None and out is not None
    if op.broadcasting:
        incoming = [None if t is None else _pad(t, out.ndim) for t in incoming]
    assert op.jvp is not None, f"op {op.name} has no JVP rule"
    result = op.jvp(incoming, out, *[s.data for s in node.saved], **node.params)
    if result is None:  # only inputs without a derivative (where's condition) moved
        return np.zeros((batch, *out.shape))
    if result.shape != (batch, *out.shape):
        result = np.broadcast_to(result, (batch, *out.shape))
    return result


def _batch(t: Any) -> int:
    return t.batch if isinstance(t, SparseTangent) else int(t.shape[0])


def _body(t: Any) -> tuple[int, ...]:
    return t.shape if isinstance(t, SparseTangent) else tuple(t.shape[1:])


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, SparseTangent) and isinstance(b, SparseTangent):
        return a.plus(b)
    return densify(a) + densify(b)


def _pad(tangent: np.ndarray, out_ndim: int) -> np.ndarray:
    """Line a tangent's batch axis up for numpy broadcasting against unbatched operands."""
    missing = out_ndim + 1 - tangent.ndim
    if missing <= 0:
        return tangent
    return tangent.reshape((tangent.shape[0],) + (1,) * missing + tangent.shape[1:])
