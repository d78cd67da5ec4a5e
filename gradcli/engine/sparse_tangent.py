"""Batched tangents that stay sparse while they can.

Pushing the identity through a graph (a forward-mode Jacobian, or a Hessian
by forward-over-reverse) starts from a tangent with one nonzero per input
element. Elementwise ops only rescale those nonzeros, and indexing, reshaping
and broadcasting only move them, so for the common vectorised functions
(Rosenbrock, sums of elementwise terms over slices) every tangent keeps a few
nonzeros per element. Stored densely it would be an (N, *shape) array per
vertex: for N = 1000 that is 8 MB of traffic per op, for values that are
almost all zero.

A `SparseTangent` of batch size N and shape S is a short list of terms
(rows, vals), each an array of shape S: it stands for the dense tangent
T[rows[s], s] = sum of vals[s] over the terms. An op without a sparse rule,
or a tangent that has grown too many terms, is made dense and handled by the
op's ordinary JVP rule, so nothing depends on the sparse path for correctness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: past this many terms a dense array is cheaper
MAX_TERMS = 12


class SparseTangent:
    __slots__ = ("batch", "shape", "terms")

    def __init__(self, batch: int, shape: tuple[int, ...],
                 terms: list[tuple[np.ndarray, np.ndarray]]):
        self.batch = batch
        self.shape = shape
        self.terms = terms

    @staticmethod
    def identity(batch: int, shape: tuple[int, ...], offset: int) -> SparseTangent:
        size = int(np.prod(shape, dtype=np.int64))
        rows = (np.arange(size, dtype=np.intp) + offset).reshape(shape)
        return SparseTangent(batch, shape, [(rows, np.ones(shape))])

    def dense(self) -> np.ndarray:
        size = int(np.prod(self.shape, dtype=np.int64))
        out = np.zeros((self.batch, size))
        columns = np.arange(size)
        for rows, vals in self.terms:
            # within one term each column has one row, so plain fancy-index adds are exact
            out[rows.reshape(-1), columns] += vals.reshape(-1)
        return out.reshape((self.batch, *self.shape))

    def scaled(self, coefficient: Any, shape: tuple[int, ...]) -> SparseTangent:
        """This tangent times an array broadcastable to `shape` (the op's output shape)."""
        terms = []
        for rows, vals in self.terms:
            scaled = vals * coefficient
            if scaled.shape != shape:
                scaled = np.broadcast_to(scaled, shape)
            terms.append((rows if rows.shape == shape else np.broadcast_to(rows, shape), scaled))
        return SparseTangent(self.batch, shape, terms)

    def mapped(self, move: Callable[[np.ndarray], np.ndarray]) -> SparseTangent:
        """Apply one element-moving function (an index, a reshape) to rows and values alike."""
        terms = [(move(rows), move(vals)) for rows, vals in self.terms]
        # a tangent with no terms (a zero derivative, floor's) still moves to the new shape
        shape = terms[0][1].shape if terms else np.shape(move(np.zeros(self.shape)))
        return SparseTangent(self.batch, shape, terms)

    def plus(self, other: SparseTangent) -> SparseTangent:
        terms = list(self.terms)
        for rows, vals in other.terms:
            for k, (r, v) in enumerate(terms):
                if r is rows or (r.shape == rows.shape and np.array_equal(r, rows)):
                    terms[k] = (r, v + vals)
                    break
            else:
                terms.append((rows, vals))
        return SparseTangent(self.batch, self.shape, terms)

    def padded(self, ndim: int) -> SparseTangent:
        """Leading length-1 axes, so the shape broadcasts like an operand of `ndim` axes."""
        missing = ndim - len(self.shape)
        if missing <= 0:
            return self
        shape = (1,) * missing + self.shape
        return self.mapped(lambda a: a.reshape(shape))


def densify(t: Any) -> Any:
    return t.dense() if isinstance(t, SparseTangent) else t
