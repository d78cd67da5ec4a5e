"""Forward mode: push tangents through a recorded graph with each op's JVP rule.

A JVP rule is Tensor code for one tangent (`t_a @ b + a @ t_b`); elementwise
entries state none, theirs is the sum of their partials times the tangents.
Tangents carry a leading axis of directions, so one pass pushes many
directions at once: the identity as tangents gives a whole Jacobian, and
pushed through the graph that `create_graph=True` recorded for a gradient, a
whole Hessian (forward-over-reverse). The directions axis is a batch axis:
the tangents are `Batched`, so every op of a rule runs through the batch rule
that lifts programs over points, and each step is an ordinary `apply` that a
recorder sees. Vertices whose inputs carry no tangent are skipped, which
prunes everything that does not depend on the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.engine.autograd import FREED_HINT, FREED_MESSAGE, topological_order, vertex_of
from gradcli.engine.op import OpDef, lookup
from gradcli.engine.sparse_tangent import MAX_TERMS, SparseTangent, densify
from gradcli.engine.state import changed
from gradcli.engine.tensor import Batched, Node, Tensor, apply, batched
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
    with np.errstate(all="ignore"), changed(grad=False, lifting=True):
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
    """The op's JVP rule, run once on tangents that carry every direction."""
    op, out = node.op, node.out
    assert node.saved is not None and out is not None
    tangents: list[Tensor | None] = [None if t is None else batched(t) for t in incoming]
    primal = [Tensor._wrap(s.data) for s in node.saved]
    result = (derived_jvp(op, tangents, out, primal, node.params) if op.jvp is None else
              op.jvp(tangents, Tensor._wrap(out), *primal, **node.params))
    if result is None or result.__class__ is not Batched:
        # a rule that reads no tangent (where's condition moved): zero, being linear in them
        return np.zeros((batch, *out.shape))
    if result.shape != out.shape:
        result = apply(lookup("broadcast_to"), (result,), {"shape": out.shape})
    return result.data


def derived_jvp(op: OpDef, tangents: list[Tensor | None], out: np.ndarray,
                primal: list[Tensor], params: dict[str, Any]) -> Tensor | None:
    """An elementwise op's JVP from its partials: sum_k t_k * d out / d x_k."""
    assert op.linear is not None, f"op {op.name} has no JVP rule and no partials"
    total: Tensor | None = None
    for t, c in zip(tangents, op.linear(out, *[p.data for p in primal], **params), strict=True):
        if t is None or c is None:
            continue
        term = t if c.__class__ is float and c == 1.0 else t * c
        total = term if total is None else total + term
    return total


def _batch(t: Any) -> int:
    return t.batch if isinstance(t, SparseTangent) else int(t.shape[0])


def _body(t: Any) -> tuple[int, ...]:
    return t.shape if isinstance(t, SparseTangent) else tuple(t.shape[1:])


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, SparseTangent) and isinstance(b, SparseTangent):
        return a.plus(b)
    return densify(a) + densify(b)
