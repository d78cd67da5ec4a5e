"""How much rounding a computed gradient can carry: a running error bound, in one pass.

A reverse-mode gradient component is a sum of terms, one per path from the
output to the variable, each a product of local derivatives. In floating
point each term and each partial sum is rounded, so the computed component is
off by at most about γ·Σ|terms|, with γ a small multiple of ε = 2⁻⁵² times the
number of roundings a term meets (the graph's depth, plus the partial sums of
a reduction). When the terms cancel (a least-squares gradient 2·Σ rᵢ∇rᵢ at a
minimiser with nonzero residuals) the component is tiny and its rounding is
not: only Σ|terms| says how small "zero" can be.

`absolute_gradient` computes Σ|terms| for every component with one more
backward pass over the recorded graph: each op's VJP rule runs on |g| and the
absolute value of what it returns flows on, so nothing cancels; gradients
reaching a tensor from several consumers, or summed back over broadcast axes,
are added as absolute values. For elementwise, broadcasting, structural and
reduction ops this is exactly the sum of the absolute terms. For products
(mul, matmul, dot, outer, kron) the rule also runs on the inputs' absolute
values, so their internal sums are of absolute terms too. Any other op (det,
solve, softmax, ...) counts its own internal sums at their computed value,
which can understate the bound inside that one op.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.engine.autograd import topological_order, vertex_of
from gradcli.engine.mode import set_grad_enabled
from gradcli.engine.tensor import AccumulateGrad, Node, Tensor

EPS = float(np.finfo(np.float64).eps)
#: roundings per step of a term: a product, a sum, and one for a library function's error
SAFETY = 4.0
#: ops whose VJP rules are sums of products of g with the other inputs
PRODUCTS = frozenset({"mul", "matmul", "dot", "outer", "kron"})


class RunningBound:
    """Per variable, Σ|terms| of its gradient, and the γ that turns it into a bound."""

    def __init__(self, absolute: list[np.ndarray], gamma: float):
        self.absolute = absolute
        self.gamma = gamma

    def bounds(self) -> list[np.ndarray]:
        return [self.gamma * a for a in self.absolute]


def absolute_gradient(output: Tensor, leaves: Sequence[Tensor],
                      seed: np.ndarray | None = None) -> RunningBound:
    """Σ|terms| of d output / d leaf, per leaf, from the graph recorded for `output`.

    `seed` is the v of v^T J (default: ones), as `backward(gradient)` takes it."""
    root = vertex_of(output)
    if root is None:
        return RunningBound([np.zeros(t.shape) for t in leaves], 0.0)
    order = topological_order([root])
    depth: dict[object, int] = {}
    largest = 1
    for vertex in order:
        depth[vertex] = 1 + max((depth[e] for e in vertex.edges if e is not None), default=0)
        if vertex.__class__ is not AccumulateGrad:
            node: Node = vertex  # type: ignore[assignment]
            if node.out is not None:
                largest = max(largest, int(np.size(node.out)))
    start = np.ones(np.shape(output.data)) if seed is None else np.abs(
        np.broadcast_to(np.asarray(seed, dtype=np.float64), np.shape(output.data)))
    buffers: dict[object, np.ndarray] = {root: start}
    reached: dict[object, np.ndarray] = {}
    with set_grad_enabled(False), np.errstate(all="ignore"):
        for vertex in reversed(order):
            g = buffers.pop(vertex, None)
            if g is None:
                continue
            if vertex.__class__ is AccumulateGrad:
                reached[vertex] = g
                continue
            _spread(vertex, g, buffers)  # type: ignore[arg-type]
    absolute = []
    for leaf in leaves:
        target = vertex_of(leaf)
        found = reached.get(target) if target is not None else None
        absolute.append(np.zeros(leaf.shape) if found is None else found.reshape(leaf.shape))
    steps = depth[root] + math.ceil(math.log2(largest)) + 1
    return RunningBound(absolute, SAFETY * EPS * steps)


def _spread(node: Node, g: np.ndarray, buffers: dict[object, np.ndarray]) -> None:
    """One node's VJP rules on |g|; each input's |share|, summed back to its shape."""
    op = node.op
    saved = node.saved
    assert saved is not None and node.out is not None
    inputs = tuple(Tensor._wrap(np.abs(s.data)) for s in saved) if op.name in PRODUCTS \
        else saved
    out = Tensor._wrap(node.out)
    cotangent = Tensor._wrap(g)
    rules: Any = op.vjp
    if isinstance(rules, tuple):
        shares = [None if edge is None else rules[i](cotangent, out, *inputs, **node.params)
                  for i, edge in enumerate(node.edges)]
    else:
        shares = list(rules(cotangent, out, *inputs, **node.params))
    for edge, share, x in zip(node.edges, shares, saved, strict=True):
        if edge is None or share is None:
            continue
        value = np.abs(share.data if isinstance(share, Tensor) else np.asarray(share))
        value = _summed_to(value, x.data.shape)
        previous = buffers.get(edge)
        buffers[edge] = value if previous is None else previous + value


def _summed_to(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting by summing (of absolute values, so nothing cancels)."""
    if value.shape == shape:
        return value
    if np.broadcast_shapes(value.shape, shape) == shape:
        return np.broadcast_to(value, shape).copy()
    extra = value.ndim - len(shape)
    summed = value.sum(axis=tuple(range(extra))) if extra > 0 else value
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and summed.shape[i] != 1)
    if axes:
        summed = summed.sum(axis=axes, keepdims=True)
    return summed.reshape(shape)
