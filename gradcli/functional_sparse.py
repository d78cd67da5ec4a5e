"""Sparse Jacobians and Hessians: pattern from the graph, colouring, compressed products.

The pattern comes from the recorded forward graph (`gradcli.engine.sparsity`),
with no derivative evaluated. A colouring (`gradcli.engine.colouring`) groups
columns that never meet; one seed direction per colour goes through forward
mode at once (the seeds are a batch of tangents, as for `functional.jacobian`),
for a Hessian through the gradient graph that `create_graph=True` recorded
(forward-over-reverse: Hessian-vector products). The entries are then read
off the compressed products. For the tridiagonal Hessian of Rosenbrock's
function that is 3 directions instead of n.

Results equal the dense computation's: each recovered entry is one term of
the compressed product, unmixed (the colouring guarantees it), computed by the
same rules in the same order as the dense pass computes that entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli.engine.colouring import column_colouring, recover_symmetric, star_colouring
from gradcli.engine.forward import push_tangents
from gradcli.engine.sparsity import TooDense, detect
from gradcli.engine.tensor import Tensor
from gradcli.functional import Inputs, _call, _gradients, _prepare, _scalar


class SparseMatrix:
    """A matrix as coordinates: `values[k]` at (`rows[k]`, `cols[k]`), sorted by row.

    `colours` is how many compressed products computed it (n for a dense one)."""

    __slots__ = ("colours", "cols", "rows", "shape", "values")

    def __init__(self, shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray,
                 values: np.ndarray, colours: int):
        self.shape = shape
        self.rows = rows
        self.cols = cols
        self.values = values
        self.colours = colours

    @property
    def nnz(self) -> int:
        return int(self.rows.size)

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape)
        out[self.rows, self.cols] = self.values
        return out


def _everything(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.indices((m, n))
    return rows.reshape(-1), cols.reshape(-1)


def _seeds(colour: np.ndarray, leaves: tuple[Tensor, ...]) -> list[np.ndarray]:
    """Per input, the seed directions (p, *input.shape): 1 where an element has colour c."""
    p = int(colour.max()) + 1 if colour.size else 1
    seeds, offset = [], 0
    for t in leaves:
        seed = np.zeros((p, t.size))
        seed[colour[offset:offset + t.size], np.arange(t.size)] = 1.0
        seeds.append(seed.reshape((p, *t.shape)))
        offset += t.size
    return seeds


def pattern(func: Callable[..., Tensor], inputs: Inputs, *, hessian: bool = False,
            budget: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The detected pattern (rows, cols) of the Jacobian, or of the Hessian of a scalar
    function, over the inputs flattened end to end; None when denser than `budget`."""
    leaves, _ = _prepare(inputs)
    out = _call(func, leaves)
    n = sum(t.size for t in leaves)
    m = n if hessian else out.size
    try:
        return detect(out, leaves, hessian=hessian, budget=m * n if budget is None else budget)
    except TooDense:
        return None


def _detected(out: Tensor, leaves: tuple[Tensor, ...], m: int, n: int, hessian: bool,
              budget: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        return detect(out, leaves, hessian=hessian, budget=m * n if budget is None else budget)
    except TooDense:
        return None


def jacobian_of(out: Tensor, leaves: tuple[Tensor, ...],
                found: tuple[np.ndarray, np.ndarray] | None) -> SparseMatrix:
    """The Jacobian of a recorded output by compressed forward mode, given its pattern
    (None: dense, every entry)."""
    n = sum(t.size for t in leaves)
    m = out.size
    rows, cols = found if found is not None else _everything(m, n)
    colour = column_colouring(rows, cols, n) if found is not None else np.arange(n)
    p = int(colour.max()) + 1 if n else 0
    if rows.size == 0 or not out.requires_grad:
        return SparseMatrix((m, n), rows, cols, np.zeros(rows.size), 0)
    (pushed,) = push_tangents([out], list(leaves), _seeds(colour, leaves))
    compressed = pushed.reshape(p, m)  # compressed[c, i] = sum of J[i, j] over colour c
    return SparseMatrix((m, n), rows, cols, compressed[colour[cols], rows], p)


def sparse_jacobian(func: Callable[..., Tensor], inputs: Inputs,
                    budget: int | None = None) -> SparseMatrix:
    """d func / d inputs as coordinates: rows are the output's elements, columns the
    inputs' elements laid end to end (J[i][j] = d out_i / d x_j)."""
    leaves, _ = _prepare(inputs)
    out = _call(func, leaves)
    n = sum(t.size for t in leaves)
    return jacobian_of(out, leaves, _detected(out, leaves, out.size, n, False, budget))


def hessian_of(out: Tensor, leaves: tuple[Tensor, ...], grads: list[Tensor],
               found: tuple[np.ndarray, np.ndarray] | None) -> SparseMatrix:
    """The Hessian of a recorded scalar, by star colouring and Hessian-vector products
    through its recorded gradients `grads` (create_graph), given its pattern."""
    n = sum(t.size for t in leaves)
    rows, cols = found if found is not None else _everything(n, n)
    colour = star_colouring(rows, cols, n) if found is not None else np.arange(n)
    p = int(colour.max()) + 1 if n else 0
    live = [g for g in grads if g.requires_grad]
    if rows.size == 0 or not live:
        return SparseMatrix((n, n), rows, cols, np.zeros(rows.size), 0)
    pushed = iter(push_tangents(live, list(leaves), _seeds(colour, leaves)))
    parts = [next(pushed).reshape(p, -1) if g.requires_grad else np.zeros((p, t.size))
             for g, t in zip(grads, leaves, strict=True)]
    compressed = np.concatenate(parts, axis=1).T  # (n, p): H @ seeds
    return SparseMatrix((n, n), rows, cols, recover_symmetric(rows, cols, colour, compressed),
                        p)


def sparse_hessian(func: Callable[..., Tensor], inputs: Inputs,
                   budget: int | None = None) -> SparseMatrix:
    """The Hessian of a scalar function as coordinates, over the inputs flattened end
    to end."""
    return gradient_and_sparse_hessian(func, inputs, budget)[2]


def gradient_and_sparse_hessian(func: Callable[..., Tensor], inputs: Inputs,
                                budget: int | None = None
                                ) -> tuple[Tensor, list[np.ndarray], SparseMatrix]:
    """Value, gradients and the sparse Hessian from one forward and one recorded
    backward pass (the pattern is read off the forward graph first)."""
    leaves, _ = _prepare(inputs)
    out = _call(func, leaves)
    _scalar(out, "hessian")
    n = sum(t.size for t in leaves)
    found = _detected(out, leaves, n, n, True, budget)
    grads = _gradients(out, leaves)
    return out.detach(), [g.data for g in grads], hessian_of(out, leaves, grads, found)


#: below this many variables `auto` stays dense without looking: the dense pass is
#: already a handful of microseconds per op, and detection would be most of the time
SMALL = 32


def worth_it(found: tuple[np.ndarray, np.ndarray] | None, m: int, n: int) -> bool:
    """Whether `auto` takes the sparse path, given the detected pattern (or None).

    Sparse pays when the pattern is at most a quarter full: a compressed pass
    then pushes far fewer directions than the n of the dense one (every
    colouring needs at least as many colours as the densest row, and for such
    patterns it needs few more), and the coordinates are smaller than the
    matrix. Detection under `auto` has that quarter as its budget, so a dense
    function stops it early (None) and costs only a pass over its first ops."""
    return found is not None and found[0].size * 4 <= m * n


def choose(sparse: str, m: int, n: int) -> int | None:
    """The detection budget for --sparse on|auto (None: off, or auto on a small matrix)."""
    if sparse == "off" or (sparse == "auto" and n <= SMALL):
        return None
    return m * n if sparse == "on" else max(1, m * n // 4)


def gradient_and_hessian_either(func: Callable[..., Tensor], inputs: Inputs, sparse: str
                                ) -> tuple[Tensor, list[np.ndarray], Any]:
    """Value, gradients, and the Hessian: a `SparseMatrix` when --sparse on, or auto
    found a sparse pattern; else the dense blocks of `functional.gradient_and_hessian`.
    One forward and one recorded backward pass either way."""
    from gradcli.functional import _hessian_blocks

    leaves, _ = _prepare(inputs)
    out = _call(func, leaves)
    _scalar(out, "hessian")
    n = sum(t.size for t in leaves)
    budget = choose(sparse, n, n)
    found = None
    if budget is not None:
        found = _detected(out, leaves, n, n, True, budget)
    grads = _gradients(out, leaves)
    if sparse == "on" or worth_it(found, n, n):
        return out.detach(), [g.data for g in grads], hessian_of(out, leaves, grads, found)
    return out.detach(), [g.data for g in grads], _hessian_blocks(out, leaves, grads)


def jacobian_either(func: Callable[..., Tensor], inputs: Inputs, sparse: str,
                    strategy: str, reverse_only: bool = False
                    ) -> SparseMatrix | list[np.ndarray]:
    """The Jacobian: a `SparseMatrix` when --sparse on, or auto found a sparse pattern
    (compressed forward mode); else the dense blocks of `functional.jacobian` by
    `strategy` ("reverse_only": the user asked for reverse mode, so no compressed
    forward pass). One forward pass either way."""
    from gradcli.functional import jacobian_blocks

    leaves, _ = _prepare(inputs)
    out = _call(func, leaves)
    n = sum(t.size for t in leaves)
    budget = None if reverse_only else choose(sparse, out.size, n)
    if budget is not None:
        found = _detected(out, leaves, out.size, n, False, budget)
        if sparse == "on" or worth_it(found, out.size, n):
            return jacobian_of(out, leaves, found)
    return jacobian_blocks(out, leaves, strategy)  # type: ignore[arg-type]
