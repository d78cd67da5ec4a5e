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

DET = defop(
    "det", np.linalg.det,
    # Jacobi's formula: d det(A) = det(A) tr(inv(A) dA), so the VJP is g det(A) inv(A)^T
    vjp=(lambda g, out, a: _matrix_of(g * out) * _swap_last(fn.inv(a)),),
    jvp=lambda ts, out, a: out * fn.sum(_swap_last(fn.inv(a)) * ts[0], axis=(-2, -1)),
    kind="array", inputs=("A",), core="(m,m)->()", method=True, group="linear algebra",
    prepare=lambda ts, p: _square(ts, p, "det"), sample=((-2.0, 2.0),),
    help="the determinant of a square matrix",
    note="the derivative is det(A) inv(A)^T, so at a singular matrix it is nan "
         "(the adjugate there is finite; gradcli does not special-case it)")
