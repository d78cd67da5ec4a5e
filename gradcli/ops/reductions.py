"""Reductions over `axis` (None: all axes), each with `keepdims`.

Each entry gives the weight W = dR/dx as Tensor code, written in terms of x
and the output with the reduced axes kept (`out`, broadcastable against x).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.batching import axis_rule, everywhere, shift_axes
from gradcli.engine.tensor import Tensor, apply
from gradcli.errors import ArgumentError
from gradcli.ops._define import canonical_axes, defop, expand, fn, reduction
from gradcli.ops.products import others_along_last


def _count(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> int:
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in axis)


reduction("sum", np.sum, None, help="sum of the elements", curvature="linear")
reduction("mean", np.mean, lambda x, out, axis: 1.0 / _count(x.shape, axis),
          help="arithmetic mean of the elements", curvature="linear")
def _extreme_weight(x: Tensor, out: Tensor, axis: tuple[int, ...] | None) -> Tensor:
    """Equal shares of the gradient for every element that attains the extreme (recorded
    ops, so the derivative stays a formula valid at every point)."""
    attained = fn.where(x == out, 1.0, 0.0)
    return attained / fn.sum(attained, axis=axis, keepdims=True)


reduction("max", np.max, _extreme_weight, help="largest element",
          note="ties share the gradient equally")
reduction("min", np.min, _extreme_weight, help="smallest element",
          note="ties share the gradient equally")


def _centred(x: Tensor, axis: tuple[int, ...] | None) -> Tensor:
    return x - fn.mean(x, axis=axis, keepdims=True)


def _ddof_check(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    ddof = params["ddof"]
    if isinstance(ddof, Tensor) and ddof.size == 1:
        ddof = ddof.item()
    if isinstance(ddof, bool) or not isinstance(ddof, (int, float)) or not ddof >= 0:
        raise ArgumentError(f"ddof must be a number >= 0, got {ddof!r}")
    params["ddof"] = float(ddof)
    return tensors, params


# Degrees of freedom d = max(n - ddof, 0). With ddof >= n none are left: d = 0, the
# value is sum((x - mean)^2) / 0 = inf (nan when every element is equal), and the
# gradient is the matching limit, +-inf (nan at the mean), as the value and the
# gradient both are as d -> 0+. numpy's own var would divide by a negative d when
# ddof > n, and warn.
def _freedom(shape: tuple[int, ...], axis: tuple[int, ...] | None, ddof: float) -> float:
    return max(_count(shape, axis) - ddof, 0.0)


def _var(x: np.ndarray, axis: Any, keepdims: bool, ddof: float) -> np.ndarray:
    n = _count(x.shape, axis)
    mean = np.sum(x, axis=axis, keepdims=True) / max(n, 1)
    squares = np.sum(np.square(x - mean), axis=axis, keepdims=keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(squares, _freedom(x.shape, axis, ddof))


def _std(x: np.ndarray, axis: Any, keepdims: bool, ddof: float) -> np.ndarray:
    return np.sqrt(_var(x, axis, keepdims, ddof))


def _var_weight(x: Tensor, out: Tensor, axis: Any, ddof: float) -> Tensor:
    return 2.0 * _centred(x, axis) / _freedom(x.shape, axis, ddof)


def _std_weight(x: Tensor, out: Tensor, axis: Any, ddof: float) -> Tensor:
    d = _freedom(x.shape, axis, ddof)
    # d * out, written so that d = 0 gives 0 (the limit of sqrt(d * sum of squares))
    return _centred(x, axis) / (d * out if d > 0 else 0.0)


reduction("var", _var, _var_weight, extra=(("ddof", 0),), prepare=_ddof_check,
          help="variance; ddof=1 for the sample variance",
          note="ddof >= n leaves no degrees of freedom: the value is inf and the gradient "
               "+-inf (nan where all elements are equal)")
reduction("std", _std, _std_weight, extra=(("ddof", 0),), prepare=_ddof_check,
          help="standard deviation; ddof=1 for the sample one",
          note="at zero spread the derivative is nan, as in PyTorch; ddof >= n gives inf "
               "and a gradient of +-inf")


def _logsumexp(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


reduction("logsumexp", _logsumexp, lambda x, out, axis: fn.exp(x - out),
          help="log(sum(exp(x))) without overflow")


# -- norm: a vector p-norm of the elements (of each slice, with axis) ---------
def _norm(x: np.ndarray, axis: Any, keepdims: bool, ord: Any) -> np.ndarray:
    if ord in SINGULAR_VALUE_NORMS:  # over the last two axes (the prepare put axis there)
        s = np.linalg.svd(x, compute_uv=False)
        out = np.sum(s, axis=-1) if ord == "nuc" else s[..., 0]
        return np.expand_dims(out, (-2, -1)) if keepdims else out
    a = np.abs(x)
    if ord == 1:
        return np.sum(a, axis=axis, keepdims=keepdims)
    if ord == math.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return np.min(a, axis=axis, keepdims=keepdims)
    if a.size == 0:
        return np.sum(a, axis=axis, keepdims=keepdims)
    # scaled by the largest |x|, as hypot is: no overflow at 1e200, no underflow at 1e-200
    top = np.max(a, axis=axis, keepdims=True)
    scale = np.where((top > 0) & np.isfinite(top), top, 1.0)
    scaled = a / scale
    inner = np.sum(scaled * scaled if ord == 2 else scaled**ord, axis=axis, keepdims=True)
    out = scale * (np.sqrt(inner) if ord == 2 else inner ** (1.0 / ord))
    return out if keepdims else np.squeeze(out, axis=axis)


def _norm_weight(x: Tensor, out: Tensor, axis: Any, ord: Any) -> Tensor | float:
    if ord in SINGULAR_VALUE_NORMS:
        from gradcli.ops.matrices import singular_value_weight

        return singular_value_weight(x, largest_only=ord == "spectral")
    # The one documented departure from PyTorch: at the zero vector the gradient
    # is the zero vector, not nan. Dividing by 1 where out == 0 does that, since
    # the numerator is 0 there.
    safe = fn.where(out == 0.0, 1.0, out)
    if ord == 2:
        return x / safe
    if ord == 1:
        return fn.sign(x)
    if abs(ord) == math.inf:
        return _extreme_weight(fn.abs(x), out, axis) * fn.sign(x)
    return fn.sign(x) * fn.abs(x) ** (ord - 1.0) / safe ** (ord - 1.0)


#: matrix norms from the singular values: their sum, and the largest (ord=2 on a matrix)
SINGULAR_VALUE_NORMS = ("nuc", "spectral")


def _matrix_axes(x: Tensor, axis: Any, order: Any) -> tuple[int, int]:
    """Matrix norms act on a matrix: the last two axes, or the two axes given."""
    last = (x.ndim - 2, x.ndim - 1)
    if x.ndim < 2 or axis not in (None, last) or (axis is None and x.ndim != 2):
        raise ArgumentError(f"norm: ord={order!r} is a matrix norm; it needs a matrix (or "
                            f"axis=(-2, -1) for a stack), got shape {x.shape}",
                            hint="for the 2-norm of all elements leave ord out")
    return last


def _norm_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    order = params["ord"]
    if isinstance(order, Tensor):
        order = order.item()
    x, axis = tensors[0], params["axis"]
    if order is None:  # the 2-norm of the elements (Frobenius for a matrix), as numpy
        order = 2.0
    elif order in ("fro", "nuc") or (order == 2 and x.ndim >= 2 and (
            axis is None or (axis is not None and len(axis) == 2))):
        # numpy's matrix norms: Frobenius, nuclear, and ord=2 for the spectral norm
        params["axis"] = _matrix_axes(x, axis, order)
        params["ord"] = {"fro": 2.0, "nuc": "nuc"}.get(order, "spectral")
        return tensors, params
    if order in ("inf", "-inf"):
        order = float(order)
    if not isinstance(order, (int, float)) or not (order >= 1 or order == -math.inf):
        raise ArgumentError(f"norm: ord must be a number >= 1, inf or -inf; got {order!r}")
    params["ord"] = float(order)
    return tensors, params


reduction("norm", _norm, _norm_weight, extra=(("ord", None),), prepare=_norm_prepare,
          help="p-norm of the elements (default 2: Euclidean, Frobenius for a matrix; 1; inf; "
               "any p >= 1); of a matrix: ord='fro', 'nuc' (sum of singular values) or 2 "
               "(the largest)",
          note="at the zero vector the gradient is the zero vector, never nan "
               "(PyTorch gives nan there); max-norm ties share the gradient")


# -- prod, through the product of the *other* elements --------------------------
def _move_reduced_last(x: np.ndarray, axis: tuple[int, ...] | None) -> tuple[np.ndarray, Any]:
    axes = tuple(range(x.ndim)) if axis is None else axis
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    perm = rest + axes
    moved = np.transpose(x, perm)
    flat = moved.reshape((*moved.shape[:len(rest)], -1))
    return flat, (perm, moved.shape)


def _prod_others(x: np.ndarray, axis: tuple[int, ...] | None) -> np.ndarray:
    """For each element, the product of all other elements in its reduced slice.

    Exact even where x has zeros, unlike prod(x) / x.
    """
    flat, (perm, moved_shape) = _move_reduced_last(x, axis)
    return np.transpose(others_along_last(flat).reshape(moved_shape), np.argsort(perm))


def _prod_pairs(x: np.ndarray, v: np.ndarray, axis: tuple[int, ...] | None) -> np.ndarray:
    """(M v)_i = sum over j != i of v_j times the product of the elements other than i and j.

    M is the Hessian of prod (and the Jacobian of prod_others), so this is both
    one's second derivative along v and the other's derivative along v. It is
    exact where the slice has zeros, by their count: with none, Q_i (S - v_i/x_i)
    with Q the products of the others and S = sum v/x; with one zero (at z),
    v_z Q_i off it and sum_j v_j Q_j at it (Q of the slice with that zero read as
    1); with two, each zero gets the other's v times the product of the rest;
    with more, 0."""
    x = np.broadcast_to(x, np.broadcast_shapes(np.shape(x), np.shape(v)))
    v = np.broadcast_to(v, x.shape)
    flat, (perm, moved_shape) = _move_reduced_last(x, axis)
    along, _ = _move_reduced_last(v, axis)
    zero = flat == 0.0
    zeros = np.sum(zero, axis=-1, keepdims=True)
    nonzero = np.where(zero, 1.0, flat)
    others = others_along_last(nonzero)
    with np.errstate(invalid="ignore", over="ignore"):
        ratio = np.where(zero, 0.0, along / nonzero)
        at_zero = np.sum(np.where(zero, along, 0.0), axis=-1, keepdims=True)
        rest = np.prod(nonzero, axis=-1, keepdims=True)
        none = others * (np.sum(ratio, axis=-1, keepdims=True) - ratio)
        one = np.where(zero, np.sum(np.where(zero, 0.0, along * others), axis=-1,
                                    keepdims=True), at_zero * others)
        two = np.where(zero, rest * (at_zero - along), 0.0)
    out = np.select([zeros == 0, zeros == 1, zeros == 2], [none, one, two], 0.0)
    return np.transpose(out.reshape(moved_shape), np.argsort(perm))


def _prod_pairs_of_symbols(x: np.ndarray, v: np.ndarray, axis: tuple[int, ...] | None
                           ) -> np.ndarray:
    """The scalar form for compiled plans: the sum over pairs written out, a polynomial
    (no division, no masks: exact at zeros as it stands)."""
    shape = np.broadcast_shapes(np.shape(x), np.shape(v))
    flat, (perm, moved_shape) = _move_reduced_last(np.broadcast_to(x, shape), axis)
    along, _ = _move_reduced_last(np.broadcast_to(v, shape), axis)
    n = flat.shape[-1]
    out = np.empty(flat.shape, dtype=object)
    for index in np.ndindex(flat.shape[:-1]):
        for i in range(n):
            total: Any = flat[(*index, i)] * 0.0
            for j in range(n):
                if j != i:
                    term = along[(*index, j)]
                    for k in range(n):
                        if k not in (i, j):
                            term = term * flat[(*index, k)]
                    total = total + term
            out[(*index, i)] = total
    return np.transpose(out.reshape(moved_shape), np.argsort(perm))


def _pairs_contracted(x: Tensor, a: Tensor, b: Tensor, axis: Any) -> Tensor:
    """sum over distinct i, j, both != k, of a_i b_j prod_(l not i, j, k) x_l, for each k.

    The third derivative of prod contracted with two vectors, written through
    a/x and b/x: exact away from zeros, nan at an exact zero (see prod's note)."""
    p, q = a / x, b / x

    def total(t: Tensor) -> Tensor:
        return expand(fn.sum(t, axis=axis, keepdims=True), x.shape, axis)

    return fn.prod_others(x, axis=axis) * ((total(p) - p) * (total(q) - q)
                                            - (total(p * q) - p * q))


def _pairs_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                 params: dict[str, Any]) -> Tensor:
    x, v = everywhere(tensors, batched)
    return apply(op, (x, v), {"axis": shift_axes(params["axis"], x.ndim - 1)})


def _pairs_jvp(ts: list[Any], out: Tensor, x: Tensor, v: Tensor, axis: Any) -> Any:
    total: Any = None
    if ts[1] is not None:
        total = fn.prod_pairs(x, ts[1], axis=axis)
    if ts[0] is not None:
        third = _pairs_contracted(x, ts[0], v, axis)
        total = third if total is None else total + third
    return total


defop("prod_pairs", _prod_pairs,
      vjp=(lambda g, out, x, v, axis: _pairs_contracted(x, g, v, axis),
           lambda g, out, x, v, axis: fn.prod_pairs(x, g, axis=axis)),
      jvp=_pairs_jvp, nin=2, inputs=("x", "v"), params=(("axis", None),), kind="reduction",
      public=False, batch=_pairs_batch, scalar=_prod_pairs_of_symbols,
      help="the Hessian of prod times v: for each element, sum of v_j times the product "
           "of the elements other than it and j",
      note="exact where the slice has zeros; its own derivative in x (prod's third) is nan "
           "at an exact zero", sample=((0.5, 1.5), (-2.0, 2.0)),
      prepare=lambda ts, p: (ts, {"axis": canonical_axes(p["axis"], ts[0].ndim)}))
defop("prod_others", _prod_others,
      vjp=(lambda g, out, x, axis: fn.prod_pairs(x, g, axis=axis),),
      jvp=lambda ts, out, x, axis: fn.prod_pairs(x, ts[0], axis=axis),
      params=(("axis", None),), kind="reduction", public=False, batch=axis_rule(),
      help="product of the other elements of each reduced slice",
      prepare=lambda ts, p: (ts, {"axis": canonical_axes(p["axis"], ts[0].ndim)}))

reduction("prod", np.prod, lambda x, out, axis: fn.prod_others(x, axis=axis),
          help="product of the elements",
          note="the derivative is the product of the other elements and the second the "
               "product of all but two, both exact at zeros (no division)")
