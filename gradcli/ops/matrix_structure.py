"""Building and cutting matrices: diag, triu, tril, kron, cross, cumsum, cumprod.

These move or combine elements with little arithmetic, so their VJPs are each
other (diag's two modes are each other's adjoint, triu is its own) or simple
products; all broadcast over leading axes like numpy's stacked linalg.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.batching import axis_rule, elementwise
from gradcli.engine.tensor import Tensor, apply
from gradcli.errors import AxisError, ShapeError
from gradcli.limits import check_shape
from gradcli.ops._define import as_int, defop, fn
from gradcli.ops.matrices import LINEAR_ALGEBRA

# -- diag: a vector onto a diagonal, or a matrix's diagonal out --------------------------


def _diag(x: np.ndarray, vector: bool, rows: int, cols: int) -> np.ndarray:
    k = min(rows, cols)
    i = np.arange(k)
    if vector:
        check_shape((*x.shape[:-1], rows, cols))
        out = np.zeros((*x.shape[:-1], rows, cols))
        out[..., i, i] = x
        return out
    return x[..., i, i]


def _diag_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    shape = tensors[0].shape
    if len(shape) == 1:
        return tensors, {"vector": True, "rows": shape[0], "cols": shape[0]}
    if len(shape) == 2:
        return tensors, {"vector": False, "rows": shape[0], "cols": shape[1]}
    raise ShapeError(f"diag: needs a vector or a matrix, got shape {shape}")


def _diag_vjp(g: Tensor, out: Tensor, x: Tensor, vector: bool, rows: int, cols: int) -> Tensor:
    # the two modes are each other's adjoint
    return apply(DIAG, (g,), {"vector": not vector, "rows": rows, "cols": cols})


DIAG = defop("diag", _diag, vjp=(_diag_vjp,),
             jvp="linear",
             kind="array", prepare=_diag_prepare, batch=elementwise, group=LINEAR_ALGEBRA,
             inputs=("x",), help="diag(v): the matrix with v on its diagonal; diag(A): the "
                                 "diagonal of A")


# -- triu, tril ---------------------------------------------------------------------------
def _offset(tensors: tuple[Tensor, ...], params: dict[str, Any], name: str) -> Any:
    if tensors[0].ndim < 2:
        raise ShapeError(f"{name}: needs a matrix, got shape {tensors[0].shape}")
    params["k"] = as_int(params["k"], f"{name}: k")
    return tensors, params


for _name, _forward, _text in (("triu", np.triu, "on and above"),
                               ("tril", np.tril, "on and below")):
    defop(_name, _forward,
          vjp=(lambda g, out, a, k, _name=_name: getattr(fn, _name)(g, k=k),),
          jvp="linear",
          params=(("k", 0),), kind="array", inputs=("A",), core="(m,n)->(m,n)",
          group=LINEAR_ALGEBRA, prepare=lambda ts, p, _name=_name: _offset(ts, p, _name),
          help=f"A with the elements {_text} diagonal k kept, the rest 0 (k > 0: above "
               "the main diagonal)")


# -- kron -----------------------------------------------------------------------------------
def _kron(a: np.ndarray, b: np.ndarray, matrix: bool) -> np.ndarray:
    core = 2 if matrix else 1
    check_shape((*np.broadcast_shapes(a.shape[:-core], b.shape[:-core]),
                 *(m * p for m, p in zip(a.shape[-core:], b.shape[-core:], strict=True))))
    if matrix:
        product = a[..., :, None, :, None] * b[..., None, :, None, :]
        m, p, n, q = product.shape[-4:]
        return product.reshape((*product.shape[:-4], m * p, n * q))
    product = a[..., :, None] * b[..., None, :]
    return product.reshape((*product.shape[:-2], -1))


def _kron_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    a, b = tensors
    if a.ndim != b.ndim or a.ndim not in (1, 2):
        raise ShapeError(f"kron: give two vectors or two matrices, got shapes {a.shape} and "
                         f"{b.shape}")
    return tensors, {"matrix": a.ndim == 2}


def _kron_vjp(g: Tensor, out: Tensor, a: Tensor, b: Tensor, matrix: bool) -> list[Tensor]:
    if matrix:
        m, n = a.shape[-2:]
        p, q = b.shape[-2:]
        blocks = fn.reshape(g, (*g.shape[:-2], m, p, n, q))
        spread_b = fn.reshape(b, (*b.shape[:-2], 1, p, 1, q))
        spread_a = fn.reshape(a, (*a.shape[:-2], m, 1, n, 1))
        return [fn.sum(blocks * spread_b, axis=(-3, -1)),
                fn.sum(blocks * spread_a, axis=(-4, -2))]
    m, p = a.shape[-1], b.shape[-1]
    blocks = fn.reshape(g, (*g.shape[:-1], m, p))
    return [fn.sum(blocks * fn.reshape(b, (*b.shape[:-1], 1, p)), axis=-1),
            fn.sum(blocks * fn.reshape(a, (*a.shape[:-1], m, 1)), axis=-2)]


defop("kron", _kron, vjp=_kron_vjp, jvp="bilinear", nin=2, kind="array", inputs=("a", "b"),
      prepare=_kron_prepare, batch=elementwise, group=LINEAR_ALGEBRA,
      help="the Kronecker product of two vectors or two matrices")


# -- cross ---------------------------------------------------------------------------------
def _cross_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    if any(t.ndim == 0 or t.shape[-1] != 3 for t in tensors):
        raise ShapeError(f"cross: needs 3-vectors, got shapes {tensors[0].shape} and "
                         f"{tensors[1].shape}")
    return tensors, params


# <g, da x b> = <b x g, da> and <g, a x db> = <g x a, db>
defop("cross", lambda a, b: np.cross(a, b),
      vjp=(lambda g, out, a, b: fn.cross(b, g), lambda g, out, a, b: fn.cross(g, a)),
      jvp="bilinear", nin=2, kind="array", inputs=("a", "b"), core="(n),(n)->(n)",
      prepare=_cross_prepare, group=LINEAR_ALGEBRA, help="the cross product of 3-vectors")


# -- cumsum, cumprod -----------------------------------------------------------------------
def _one_axis(tensors: tuple[Tensor, ...], params: dict[str, Any], name: str) -> Any:
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ShapeError(f"{name} needs at least one dimension")
    axis = as_int(params["axis"], "axis")
    if not -ndim <= axis < ndim:
        raise AxisError(f"axis {axis} is out of bounds for {ndim} dimensions")
    params["axis"] = axis % ndim
    return tensors, params


def _reversed_along(t: Tensor, axis: int) -> Tensor:
    return fn.getitem(t, (*(slice(None),) * axis, slice(None, None, -1)))


def _cumsum_vjp(g: Tensor, out: Tensor, x: Tensor, axis: int) -> Tensor:
    # each x_j feeds every out_i with i >= j: the sums of g from the end
    return _reversed_along(fn.cumsum(_reversed_along(g, axis), axis=axis), axis)


defop("cumsum", np.cumsum, vjp=(_cumsum_vjp,),
      jvp="linear",
      params=(("axis", -1),), kind="array", batch=axis_rule(single=True),
      prepare=lambda ts, p: _one_axis(ts, p, "cumsum"), method=True, group=LINEAR_ALGEBRA,
      help="running sums along axis")
def _zero_masks(x: Tensor, axis: int) -> tuple[Tensor, Tensor]:
    """Along axis: before any exact zero, and at the first zero."""
    seen = fn.cumsum(fn.where(x == 0.0, 1.0, 0.0), axis=axis)
    return seen == 0.0, fn.where(x == 0.0, seen, 0.0) == 1.0


def _cumprod_parts(g: Tensor, out: Tensor, x: Tensor, axis: int
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The pieces of cumprod's VJP at x: masks, the value before and at the first zero."""
    before, first = _zero_masks(x, axis)
    head = _cumsum_vjp(g * out, out, x, axis) / fn.where(before, x, 1.0)
    lifted = fn.where(first, 1.0, x)
    tail = _cumsum_vjp(g * fn.cumprod(lifted, axis=axis), out, x, axis)
    return before, first, head, tail, lifted


def _cumprod_vjp(g: Tensor, out: Tensor, x: Tensor, axis: int) -> Tensor:
    # out_i = prod_(k <= i) x_k, and the VJP at j is sum over i >= j of g_i times the
    # product of x_k, k <= i, k != j. Before the first zero (z) that is the sum of g_i out_i
    # over x_j; at z, the same sum with x_z read as 1; after z, x_z times the VJP of the
    # array with x_z read as 1 (one level more, whose own after-part carries two zero
    # factors: 0 with derivative 0). No division by a zero, and all recorded, so the
    # gradient and its derivative (the Hessian) are exact at zeros.
    before, first, head, tail, lifted = _cumprod_parts(g, out, x, axis)
    before2, first2, head2, tail2, _ = _cumprod_parts(g, fn.cumprod(lifted, axis=axis),
                                                      lifted, axis)
    after = fn.where(before2, head2, fn.where(first2, tail2, 0.0))
    at_zero = fn.sum(fn.where(first, x, 0.0), axis=axis, keepdims=True)
    return fn.where(before, head, fn.where(first, tail, at_zero * after))


def _cumprod_jvp(ts: list[Any], out: Tensor, x: Tensor, axis: int) -> Tensor:
    # before the first zero, out times the running sum of t/x; from it on, only the
    # zero's own tangent survives: t_z times the running products with x_z read as 1
    before, first = _zero_masks(x, axis)
    t = ts[0]
    head = out * fn.cumsum(t / fn.where(before, x, 1.0), axis=axis)
    lifted = fn.cumprod(fn.where(first, 1.0, x), axis=axis)
    at_first = fn.sum(fn.where(first, t, 0.0), axis=axis, keepdims=True)
    return fn.where(before, head, at_first * lifted)


defop("cumprod", np.cumprod, vjp=(_cumprod_vjp,), jvp=_cumprod_jvp,
      params=(("axis", -1),), kind="array", batch=axis_rule(single=True),
      prepare=lambda ts, p: _one_axis(ts, p, "cumprod"), method=True, group=LINEAR_ALGEBRA,
      help="running products along axis",
      note="the derivatives are products of the other elements (no division by x), so they "
           "are exact where an element is exactly 0")
