"""Linear algebra and whole-array ops: matmul, dot, outer, trace, stack, concatenate,
softmax and log_softmax.

Shapes follow numpy, including matmul's promotion of 1-D operands. The VJP
rules may return gradients with extra broadcast (batch) axes; the engine sums
them back to each input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.batching import axis_rule, elementwise, everywhere, item_ndim
from gradcli.engine.tensor import Tensor, apply
from gradcli.errors import AxisError, ShapeError
from gradcli.limits import check_broadcast, check_shape
from gradcli.ops._define import as_int, defop, fn
from gradcli.ops.binary import MUL, _operator


def _swap_last(t: Tensor) -> Tensor:
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return fn.transpose(t, axes=tuple(axes))


def _column(t: Tensor) -> Tensor:
    """t with a trailing length-1 axis."""
    return fn.reshape(t, (*t.shape, 1))


def _matmul_vjp_a(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 0 or b.ndim == 0:
        return g * b
    if b.ndim == 1:
        return g * b if a.ndim == 1 else _column(g) * b
    if a.ndim == 1:
        return fn.reshape(fn.matmul(b, _column(g)), (*b.shape[:-2], b.shape[-2]))
    return fn.matmul(g, _swap_last(b))


def _matmul_vjp_b(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 0 or b.ndim == 0:
        return g * a
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        row = fn.reshape(g, (*g.shape[:-1], 1, g.shape[-1]))
        return _column(a) * row
    if b.ndim == 1:
        return _column(g) * a
    return fn.matmul(_swap_last(a), g)


def _matmul_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    a, b = tensors
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError("matmul: operands must not be scalars (use * for scaling)")
    if a.ndim >= 2 and b.ndim >= 2:
        # (.., n, k) @ (.., k, p) -> (.., n, p): bounded by both batch parts and n*p
        check_broadcast([a.shape[:-2], b.shape[:-2], (a.shape[-2], b.shape[-1])])
    return tensors, params


MATMUL = defop("matmul", np.matmul, vjp=(_matmul_vjp_a, _matmul_vjp_b), jvp="bilinear",
               dependency="matmul",
               nin=2, kind="array", prepare=_matmul_prepare, inputs=("a", "b"),
               core="(n?,k),(k,m?)->(n?,m?)",
               help="matrix product a @ b (1-D operands act as vectors)", printed="{0}@{1}")
_MATMUL_BATCH = MATMUL.batch
setattr(Tensor, "__matmul__", _operator("matmul"))
setattr(Tensor, "__rmatmul__", _operator("matmul", reflected=True))


def _dot_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    if tensors[0].ndim > 2 or tensors[1].ndim > 2:
        raise ShapeError("dot: operands must have at most 2 dimensions (use matmul for stacks)")
    return tensors, params


def _dot_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
               params: dict[str, Any]) -> Tensor:
    """At each point dot is a product (a scalar operand) or matmul (operands of at most 2-D)."""
    if any(item_ndim(t, b) == 0 for t, b in zip(tensors, batched, strict=True)):
        return elementwise(MUL, tensors, batched, params)
    assert _MATMUL_BATCH is not None
    return _MATMUL_BATCH(MATMUL, tensors, batched, params)


defop("dot", np.dot, vjp=(_matmul_vjp_a, _matmul_vjp_b), jvp="bilinear", nin=2,
      dependency="matmul",
      kind="array", prepare=_dot_prepare, inputs=("a", "b"), batch=_dot_batch,
      help="dot product of vectors; matrix product for matrices")


def _flat(t: Tensor) -> Tensor:
    return fn.reshape(t, (-1,))


def _outer_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                 params: dict[str, Any]) -> Tensor:
    """Per point, a flattened column times a flattened row."""
    a, b = ((fn.reshape(t, (t.shape[0], -1)) if f else fn.reshape(t, (1, -1)))
            for t, f in zip(tensors, batched, strict=True))
    return apply(MUL, (fn.reshape(a, (*a.shape, 1)),
                       fn.reshape(b, (b.shape[0], 1, b.shape[1]))), {})


def _outer_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    check_shape((tensors[0].size, tensors[1].size))
    return tensors, params


defop("outer", np.outer, batch=_outer_batch, prepare=_outer_prepare,
      vjp=(lambda g, out, a, b: fn.reshape(fn.matmul(g, _flat(b)), a.shape),
           lambda g, out, a, b: fn.reshape(fn.matmul(_flat(a), g), b.shape)),
      jvp="bilinear", nin=2, kind="array", inputs=("a", "b"),
      help="outer product of the flattened a and b")


def _trace_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    if tensors[0].ndim != 2:
        raise ShapeError(f"trace: needs a matrix, got shape {tensors[0].shape}")
    return tensors, params


def _trace_vjp(g: Tensor, out: Tensor, m: Tensor) -> Tensor:
    # the identity is the same at every point: a constant, not a mask
    rows, columns = m.shape[-2:]
    return fn.reshape(g, (*g.shape, 1, 1)) * Tensor._wrap(np.eye(rows, columns))


defop("trace", lambda m: np.trace(m, axis1=-2, axis2=-1), vjp=(_trace_vjp,),
      jvp="linear", kind="array",
      inputs=("m",), prepare=_trace_prepare, method=True, core="(m,n)->()",
      help="sum of a matrix's diagonal")


# -- joining ------------------------------------------------------------------------
def _join_axis(tensors: tuple[Tensor, ...], params: dict[str, Any], extra: int) -> Any:
    ndim = tensors[0].ndim + extra
    axis = as_int(params["axis"], "axis")
    if not -ndim <= axis < ndim:
        raise AxisError(f"axis {axis} is out of bounds for {ndim} dimensions")
    params["axis"] = axis % ndim
    return tensors, params


def _join_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                params: dict[str, Any]) -> Tensor:
    """Every input given the batch axis, then joined one axis further in."""
    return apply(op, tuple(everywhere(tensors, batched)), {"axis": params["axis"] + 1})


#: numpy's limit on an array's dimensions, so on how deep a list literal can nest
MAX_DIMS = 64


def _stack_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    shapes = list(dict.fromkeys(t.shape for t in tensors))  # in the order written
    if len(shapes) > 1:
        raise ShapeError("stack: all inputs must have the same shape, got "
                         + ", ".join(map(str, shapes)))
    if tensors[0].ndim >= MAX_DIMS:  # numpy's words would list 64 ones and "indexing result"
        raise ShapeError(f"stack: lists nest at most {MAX_DIMS} deep (an array has at most "
                         f"{MAX_DIMS} dimensions); this would make {tensors[0].ndim + 1}",
                         hint="write the data with fewer levels of brackets")
    return _join_axis(tensors, params, 1)


def _stack_vjp(g: Tensor, out: Tensor, *xs: Tensor, axis: int) -> list[Tensor]:
    lead = (slice(None),) * axis
    return [fn.getitem(g, (*lead, i)) for i in range(len(xs))]


defop("stack", lambda *xs, axis: np.stack(xs, axis=axis), vjp=_stack_vjp,
      jvp="linear",
      nin=-1, params=(("axis", 0),), kind="array", prepare=_stack_prepare, batch=_join_batch,
      help="join same-shaped tensors along a new axis: stack([a, b], axis=0) or stack(a, b)",
      printed="[{*}]")


def _concat_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    if any(t.ndim == 0 for t in tensors):
        raise ShapeError("concatenate: inputs must have at least one dimension (use stack)")
    return _join_axis(tensors, params, 0)


def _concat_vjp(g: Tensor, out: Tensor, *xs: Tensor, axis: int) -> list[Tensor]:
    lead = (slice(None),) * axis
    pieces, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        pieces.append(fn.getitem(g, (*lead, slice(start, stop))))
        start = stop
    return pieces


defop("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis), vjp=_concat_vjp,
      jvp="linear",
      nin=-1, params=(("axis", 0),), kind="array", prepare=_concat_prepare, batch=_join_batch,
      help="join tensors end to end along an existing axis: concatenate([a, b]) or "
           "concatenate(a, b)")


# -- softmax family -------------------------------------------------------------------
def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _single_axis(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    ndim = max(tensors[0].ndim, 1)
    axis = as_int(params["axis"], "axis")
    if not -ndim <= axis < ndim:
        raise AxisError(f"axis {axis} is out of bounds for {tensors[0].ndim} dimensions")
    if tensors[0].ndim == 0:
        raise ShapeError("softmax needs at least one dimension")
    params["axis"] = axis % ndim
    return tensors, params


defop("softmax", _softmax,
      vjp=(lambda g, out, x, axis: out * (g - fn.sum(g * out, axis=axis, keepdims=True)),),
      jvp=lambda ts, out, x, axis: out * (ts[0] - fn.sum(ts[0] * out, axis=axis, keepdims=True)),
      params=(("axis", -1),), kind="array", prepare=_single_axis, method=True,
      batch=axis_rule(single=True),
      help="exp(x) / sum(exp(x)) along axis")
defop("log_softmax", _log_softmax,
      vjp=(lambda g, out, x, axis: g - fn.exp(out) * fn.sum(g, axis=axis, keepdims=True),),
      jvp=lambda ts, out, x, axis: ts[0] - fn.sum(ts[0] * fn.exp(out), axis=axis, keepdims=True),
      params=(("axis", -1),), kind="array", prepare=_single_axis, method=True,
      batch=axis_rule(single=True),
      help="log(softmax(x)) along axis, without underflow")
