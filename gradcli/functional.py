"""Derivative operators on functions, as torch.autograd.functional offers them.

`jacobian` and `hessian` take a function and input tensors and return arrays
of shape output.shape + input.shape (nested per input when there are
several). Forward mode pushes a whole identity of tangents through the graph
in one pass; the Hessian is forward-over-reverse: the gradient is computed
once with `create_graph=True`, and the identity is pushed through that
recorded gradient graph, so no Python loop runs over Hessian rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from gradcli.engine.autograd import grad
from gradcli.engine.forward import push_tangents
from gradcli.engine.mode import enable_grad
from gradcli.engine.sparse_tangent import SparseTangent
from gradcli.engine.tensor import Tensor, as_tensor
from gradcli.errors import ArgumentError, AutogradError, ShapeError

Strategy = Literal["reverse", "forward", "auto"]
Inputs = Tensor | Sequence[Tensor]


def _prepare(inputs: Any) -> tuple[tuple[Tensor, ...], bool]:
    """Fresh leaves (requiring grad) holding the inputs' values; and whether a tuple came in."""
    single = not isinstance(inputs, (tuple, list))
    values = (inputs,) if single else tuple(inputs)
    leaves = tuple(Tensor._wrap(as_tensor(v).data.astype(np.float64)).requires_grad_(True)
                   for v in values)
    return leaves, single


def _call(func: Callable[..., Any], leaves: tuple[Tensor, ...]) -> Tensor:
    with enable_grad():
        out = func(*leaves)
    if not isinstance(out, Tensor):
        raise ArgumentError("the function must return a single Tensor")
    return out


def _identity_tangents(leaves: tuple[Tensor, ...]) -> list[SparseTangent]:
    """One direction per flattened input element, all inputs together: (N, *input.shape).

    Sparse, so that functions whose derivatives stay sparse never build N x N arrays
    before the end.
    """
    total = sum(t.size for t in leaves)
    tangents, offset = [], 0
    for t in leaves:
        tangents.append(SparseTangent.identity(total, t.shape, offset))
        offset += t.size
    return tangents


def _split_columns(stacked: np.ndarray, out_shape: tuple[int, ...],
                   leaves: tuple[Tensor, ...]) -> list[np.ndarray]:
    """(N, *out_shape) tangents -> per input, an array of shape out_shape + input.shape."""
    flat = stacked.reshape(stacked.shape[0], -1).T  # (out_size, N)
    pieces, offset = [], 0
    for t in leaves:
        piece = flat[:, offset:offset + t.size]
        pieces.append(np.ascontiguousarray(piece).reshape((*out_shape, *t.shape)))
        offset += t.size
    return pieces


def _wrap(arrays: list[np.ndarray], single: bool) -> Any:
    tensors = [Tensor._wrap(a) for a in arrays]
    return tensors[0] if single else tuple(tensors)


def jacobian(func: Callable[..., Tensor], inputs: Inputs, strategy: Strategy = "auto") -> Any:
    """d func / d inputs, shape output.shape + input.shape (a tuple for several inputs).

    "forward" pushes all input directions at once; "reverse" pulls one output
    element at a time; "auto" picks the one with fewer passes.
    """
    if strategy not in ("reverse", "forward", "auto"):
        raise ArgumentError(f"strategy must be 'reverse', 'forward' or 'auto', not {strategy!r}")
    leaves, single = _prepare(inputs)
    out = _call(func, leaves)
    return _wrap(jacobian_blocks(out, leaves, strategy), single)


def jacobian_blocks(out: Tensor, leaves: tuple[Tensor, ...], strategy: Strategy
                    ) -> list[np.ndarray]:
    """The Jacobian of a recorded output, per input (shape out.shape + input.shape)."""
    n_in = sum(t.size for t in leaves)
    if strategy == "auto":
        strategy = "forward" if n_in <= out.size else "reverse"
    if not out.requires_grad:
        return [np.zeros((*out.shape, *t.shape)) for t in leaves]
    if strategy == "forward":
        (stacked,) = push_tangents([out], list(leaves), _identity_tangents(leaves))
        return _split_columns(stacked, out.shape, leaves)
    rows: list[list[np.ndarray]] = [[] for _ in leaves]
    for k in range(out.size):
        seed = np.zeros(out.size)
        seed[k] = 1.0
        grads = grad(out, leaves, grad_outputs=Tensor._wrap(seed.reshape(out.shape)),
                     retain_graph=True, allow_unused=True)
        for i, (g, t) in enumerate(zip(grads, leaves, strict=True)):
            rows[i].append(np.zeros(t.shape) if g is None else g.data)
    return [np.stack(r).reshape((*out.shape, *t.shape)) if r else
            np.zeros((*out.shape, *t.shape)) for r, t in zip(rows, leaves, strict=True)]


def _scalar(out: Tensor, what: str) -> None:
    if out.size != 1:
        raise ShapeError(f"{what} needs a function with a single (scalar) output, "
                         f"got shape {out.shape}")


def hessian(func: Callable[..., Tensor], inputs: Inputs) -> Any:
    """Second derivatives of a scalar function: shape input.shape + input.shape.

    With several inputs, a tuple of tuples: result[i][j] = d2f / dx_i dx_j.
    """
    leaves, single = _prepare(inputs)
    out = _call(func, leaves)
    _scalar(out, "hessian")
    blocks = _hessian_blocks(out, leaves)
    if single:
        return Tensor._wrap(blocks[0][0])
    return tuple(tuple(Tensor._wrap(b) for b in row) for row in blocks)


def gradient_and_hessian(func: Callable[..., Tensor], inputs: Inputs
                         ) -> tuple[Tensor, list[np.ndarray], list[list[np.ndarray]]]:
    """Value, gradients and Hessian blocks from one forward and one recorded backward pass."""
    leaves, _ = _prepare(inputs)
    out = _call(func, leaves)
    _scalar(out, "hessian")
    grads = _gradients(out, leaves)
    blocks = _hessian_blocks(out, leaves, grads)
    return out.detach(), [g.data for g in grads], blocks


def _gradients(out: Tensor, leaves: tuple[Tensor, ...]) -> list[Tensor]:
    if not out.requires_grad:
        return [Tensor._wrap(np.zeros(t.shape)) for t in leaves]
    with enable_grad():
        grads = grad(out, leaves, create_graph=True, allow_unused=True)
    return [Tensor._wrap(np.zeros(t.shape)) if g is None else g
            for g, t in zip(grads, leaves, strict=True)]


def _hessian_blocks(out: Tensor, leaves: tuple[Tensor, ...],
                    grads: list[Tensor] | None = None) -> list[list[np.ndarray]]:
    if grads is None:
        grads = _gradients(out, leaves)
    tangents = _identity_tangents(leaves)
    differentiable = [g for g in grads if g.requires_grad]
    pushed = iter(push_tangents(differentiable, list(leaves), tangents)) if differentiable else None
    blocks: list[list[np.ndarray]] = []
    total = sum(t.size for t in leaves)
    for g, t in zip(grads, leaves, strict=True):
        stacked = next(pushed) if g.requires_grad and pushed is not None else \
            np.zeros((total, *t.shape))
        # stacked[k] = d g / d (flattened input k); H[i][j] = d2f / dx_i dx_j
        columns = _split_columns(stacked, t.shape, leaves)
        blocks.append(columns)
    return blocks


def vjp(func: Callable[..., Tensor], inputs: Inputs, v: Any = None) -> tuple[Tensor, Any]:
    """(func(inputs), v^T J): reverse mode, one pass."""
    leaves, single = _prepare(inputs)
    out = _call(func, leaves)
    if v is None and out.size != 1:
        raise AutogradError("vjp: v is needed for a function with a non-scalar output")
    grads = grad(out, leaves, grad_outputs=None if v is None else as_tensor(v),
                 allow_unused=True) if out.requires_grad else (None,) * len(leaves)
    result = [np.zeros(t.shape) if g is None else g.data
              for g, t in zip(grads, leaves, strict=True)]
    return out.detach(), _wrap(result, single)


def jvp(func: Callable[..., Tensor], inputs: Inputs, v: Any = None) -> tuple[Tensor, Any]:
    """(func(inputs), J v): forward mode, one pass."""
    leaves, single = _prepare(inputs)
    vs = _directions(v, leaves, single)
    out = _call(func, leaves)
    if not out.requires_grad:
        return out.detach(), Tensor._wrap(np.zeros(out.shape))
    (pushed,) = push_tangents([out], list(leaves), [d[None] for d in vs])
    return out.detach(), Tensor._wrap(pushed[0])


def _directions(v: Any, leaves: tuple[Tensor, ...], single: bool) -> list[np.ndarray]:
    if v is None:
        if any(t.size != 1 for t in leaves):
            raise AutogradError("v is needed unless every input is a scalar")
        return [np.ones(t.shape) for t in leaves]
    values = [v] if single else list(v)
    if len(values) != len(leaves):
        raise ArgumentError(f"v has {len(values)} entries for {len(leaves)} inputs")
    out = []
    for value, t in zip(values, leaves, strict=True):
        array = as_tensor(value).data.astype(np.float64)
        if array.shape != t.shape:
            raise ShapeError(f"v has shape {array.shape} but the input has shape {t.shape}")
        out.append(array)
    return out


def hvp(func: Callable[..., Tensor], inputs: Inputs, v: Any) -> tuple[Tensor, Any]:
    """(func(inputs), H v): forward-over-reverse, one tangent through the gradient graph."""
    leaves, single = _prepare(inputs)
    vs = _directions(v, leaves, single)
    out = _call(func, leaves)
    _scalar(out, "hvp")
    grads = _gradients(out, leaves)
    live = [g for g in grads if g.requires_grad]
    pushed = iter(push_tangents(live, list(leaves), [d[None] for d in vs])) if live else None
    result = [next(pushed)[0] if g.requires_grad and pushed else np.zeros(t.shape)
              for g, t in zip(grads, leaves, strict=True)]
    return out.detach(), _wrap(result, single)


def vhp(func: Callable[..., Tensor], inputs: Inputs, v: Any) -> tuple[Tensor, Any]:
    """(func(inputs), v^T H): reverse-over-reverse."""
    leaves, single = _prepare(inputs)
    vs = _directions(v, leaves, single)
    out = _call(func, leaves)
    _scalar(out, "vhp")
    grads = _gradients(out, leaves)
    live = [(g, Tensor._wrap(d)) for g, d in zip(grads, vs, strict=True) if g.requires_grad]
    if not live:
        return out.detach(), _wrap([np.zeros(t.shape) for t in leaves], single)
    second = grad([g for g, _ in live], leaves, grad_outputs=[d for _, d in live],
                  allow_unused=True)
    result = [np.zeros(t.shape) if s is None else s.data
              for s, t in zip(second, leaves, strict=True)]
    return out.detach(), _wrap(result, single)

