"""Square-matrix functions: det and inv.

Both broadcast over leading axes as numpy's linalg does, so their batch rule
is only their gufunc core signature, and their rules are written for stacks
of matrices from the start (HIPS autograd's `test_det_3d` lesson).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.tensor import Tensor
from gradcli.errors import ShapeError
from gradcli.ops._define import defop, fn
from gradcli.ops.products import others_along_last


def _square(tensors: tuple[Tensor, ...], params: dict[str, Any], name: str) -> Any:
    shape = tensors[0].shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ShapeError(f"{name}: needs a square matrix, got shape {shape}")
    return tensors, params


def _swap_last(t: Tensor) -> Tensor:
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return fn.transpose(t, axes=tuple(axes))


def _matrix_of(t: Tensor) -> Tensor:
    """A value per matrix, as a 1x1 matrix, to scale a stack of matrices."""
    return fn.reshape(t, (*t.shape, 1, 1))


def _inv(a: np.ndarray) -> np.ndarray:
    """The inverse, with nan for a singular matrix (a value outside the domain, not an error)."""
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        singular = np.linalg.det(a) == 0
        out = np.full(a.shape, np.nan)
        out[~singular] = np.linalg.inv(a[~singular])
        return out


INV = defop(
    "inv", _inv,
    # d inv(A) = -inv(A) dA inv(A), so the VJP is -inv(A)^T g inv(A)^T
    vjp=(lambda g, out, a: -fn.matmul(fn.matmul(_swap_last(out), g), _swap_last(out)),),
    jvp=lambda ts, out, a: -(out @ ts[0] @ out),
    kind="array", inputs=("A",), core="(m,m)->(m,m)", method=True, group="linear algebra",
    prepare=lambda ts, p: _square(ts, p, "inv"), domain="A not singular",
    sample=((-2.0, 2.0),), help="the inverse of a square matrix",
    note="at a singular matrix the inverse and its derivatives are nan")

#: beyond this 1-norm condition number the cofactor comes from the SVD, not det inv^T
#: (whose error grows like cond * eps: 1e-13 relative here)
COFACTOR_CONDITION = 1e3


def _cofactor(a: np.ndarray) -> np.ndarray:
    """The cofactor matrix, adj(A)^T = det(A) inv(A)^T, finite at a singular A too.

    Well-conditioned matrices take det(A) inv(A)^T, exact on small whole-number
    matrices. Singular and ill-conditioned ones take the SVD A = U S V^T:
    cof(A) = det(U) det(V) U diag(prod_(j != i) s_j) V^T, the products of the other
    singular values taken without division, so a zero singular value costs
    nothing (det(A) inv(A)^T would be 0 * inf there)."""
    with np.errstate(all="ignore"):
        inverse = _inv(a)
        out = np.linalg.det(a)[..., None, None] * np.swapaxes(inverse, -1, -2)
        condition = np.linalg.norm(a, 1, axis=(-2, -1)) * np.linalg.norm(inverse, 1,
                                                                         axis=(-2, -1))
    poor = ~(condition <= COFACTOR_CONDITION)
    if np.any(poor):
        u, s, vh = np.linalg.svd(a[poor])
        sign = np.linalg.det(u) * np.linalg.det(vh)
        out[poor] = sign[..., None, None] * ((u * others_along_last(s)[..., None, :]) @ vh)
    return out


def _cofactor_of_symbols(a: np.ndarray) -> np.ndarray:
    """The scalar form for compiled plans: each cofactor as its signed minor, a polynomial
    in the entries (no division, so singular matrices need no special case)."""
    out = np.empty(a.shape, dtype=object)
    n = a.shape[-1]
    for index in np.ndindex(a.shape[:-2]):
        m = a[index]
        for i in range(n):
            for j in range(n):
                minor = np.delete(np.delete(m, i, axis=0), j, axis=1)
                value = np.linalg.det(minor) if n > 1 else m[0, 0] * 0.0 + 1.0
                if isinstance(value, np.ndarray):  # a 0-d array of one symbol
                    value = np.asarray(value, dtype=object).item()
                out[(*index, i, j)] = value if (i + j) % 2 == 0 else -value
    return out


def _cofactor_vjp(g: Tensor, out: Tensor, a: Tensor) -> Tensor:
    # d cof = tr(inv(A) dA) cof - det(A) inv(A)^T dA^T inv(A)^T, so the VJP is
    # <G, inv(A)^T> cof - det(A) inv(A)^T G^T inv(A)^T: the second derivative of
    # det, through inv, so nan at a singular A (see det's note)
    inv_t = _swap_last(fn.inv(a))
    inner = _matrix_of(fn.sum(g * inv_t, axis=(-2, -1)))
    return inner * out - _matrix_of(fn.det(a)) * fn.matmul(fn.matmul(inv_t, _swap_last(g)),
                                                           inv_t)


def _cofactor_jvp(ts: list[Any], out: Tensor, a: Tensor) -> Tensor:
    inv_t = _swap_last(fn.inv(a))
    t = ts[0]
    inner = _matrix_of(fn.sum(inv_t * t, axis=(-2, -1)))
    return inner * out - _matrix_of(fn.det(a)) * fn.matmul(fn.matmul(inv_t, _swap_last(t)),
                                                           inv_t)


defop("cofactor", _cofactor, vjp=(_cofactor_vjp,), jvp=_cofactor_jvp, kind="array",
      inputs=("A",), core="(m,m)->(m,m)", method=True, group="linear algebra",
      prepare=lambda ts, p: _square(ts, p, "cofactor"), sample=((-2.0, 2.0),),
      scalar=_cofactor_of_symbols,
      help="the cofactor matrix adj(A)^T = det(A) inv(A)^T, the derivative of det (finite "
           "at a singular A)",
      note="finite at a singular matrix; its own derivative (det's second) is nan there")

DET = defop(
    "det", np.linalg.det,
    # Jacobi's formula: d det(A) = tr(adj(A) dA), so the VJP is g cof(A) = g adj(A)^T
    vjp=(lambda g, out, a: _matrix_of(g) * fn.cofactor(a),),
    jvp=lambda ts, out, a: fn.sum(fn.cofactor(a) * ts[0], axis=(-2, -1)),
    kind="array", inputs=("A",), core="(m,m)->()", method=True, group="linear algebra",
    prepare=lambda ts, p: _square(ts, p, "det"), sample=((-2.0, 2.0),),
    help="the determinant of a square matrix",
    note="the derivative is the cofactor matrix adj(A)^T, finite at a singular matrix too; "
         "the second derivative goes through inv(A), so at a singular matrix it is nan")
