"""Sparsity patterns of Jacobians and Hessians, read off a recorded graph.

No derivative is evaluated: each op entry names a *dependency rule*
(`OpDef.dependency`, beside its batch rule) that says which input elements
each output element depends on, and a *curvature* (`OpDef.curvature`) that
says whether the op is linear, bilinear (a product) or nonlinear in its
inputs. One pass over a topological order (no recursion) carries, for every
vertex, the pattern "output element e depends on variable v" as two index
arrays (COO); a Jacobian's pattern is the output's.

A Hessian's pattern is the union of the *nonlinear interactions* of every
op on the way (Walther, 2008): a nonlinear elementwise z = f(u) couples
dep(u_e) x dep(u_e); a product a*b couples dep(a_e) x dep(b_e), both ways;
a nonlinear reduction couples everything it reduces, per output element;
linear ops couple nothing. That is a superset of the true nonzeros (it
ignores cancellation and zero adjoints), never a subset.

The rules:

=============  ==============================================================
elementwise    output e depends on e of every input, numpy-broadcast
reduction      output e depends on the input elements reduced into it
moves          the op moves elements (index, reshape, transpose, broadcast):
               its `moves` function applied to element numbers says where from
sum_to         the VJP of broadcasting: input elements summed into outputs
matmul         a product of vectors or matrices: C[i, j] on row i of A and column
               j of B (stacks of matrices take the dense rule)
none           no dependence at all (detach)
None           the conservative dense rule: every output element depends on
               every input element, and a nonlinear op couples all of them
=============  ==============================================================

A pattern too large to pay off (more entries than `budget`) stops the
detection (`TooDense`): the caller computes the dense matrix instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.engine.autograd import topological_order, vertex_of
from gradcli.engine.collector import no_cycle_collection
from gradcli.engine.tensor import Node, Tensor


class TooDense(Exception):
    """The pattern grew past its budget: a dense computation is as cheap."""


class Deps:
    """Per output element, the variables it depends on.

    Either COO pairs (`elem[k]` depends on `var[k]`, possibly repeated), or
    `uniform`: every element depends on each variable in `uniform` (what the
    dense rule leaves, kept compact)."""

    __slots__ = ("elem", "size", "tidy", "uniform", "var")

    def __init__(self, size: int, elem: np.ndarray | None = None,
                 var: np.ndarray | None = None, uniform: np.ndarray | None = None,
                 tidy: bool = False):
        self.size = size
        self.elem = elem
        self.var = var
        self.uniform = uniform
        #: the pairs are sorted by element and hold no repeats (no merging needed)
        self.tidy = tidy

    def tidied(self, n: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
        """The pairs sorted by element, without repeats."""
        elem, var = self.coo(budget)
        return (elem, var) if self.tidy else _unique_pairs(elem, var, n)

    def variables(self, n: int) -> np.ndarray:
        """The variables any element depends on, sorted (a mask over all n: O(n + k))."""
        if self.uniform is not None:
            return self.uniform
        assert self.var is not None
        mask = np.zeros(n, dtype=bool)
        mask[self.var] = True
        return np.flatnonzero(mask)

    def coo(self, budget: int) -> tuple[np.ndarray, np.ndarray]:
        if self.uniform is None:
            assert self.elem is not None and self.var is not None
            return self.elem, self.var
        count = self.size * self.uniform.size
        if count > budget:
            raise TooDense
        return (np.repeat(np.arange(self.size), self.uniform.size),
                np.tile(self.uniform, self.size))


def _unique_pairs(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (a, b) sorted and without repeats: one sort of a*n + b (np.unique's
    hashing is several times slower on these integer keys)."""
    keys = np.sort(a.astype(np.int64) * n + b)
    if keys.size > 1:
        keep = np.empty(keys.size, dtype=bool)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        keys = keys[keep]
    return keys // n, keys % n


def _groups(elem: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For entries sorted by element: per entry its group's start and count."""
    if elem.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    boundary = np.flatnonzero(np.diff(elem)) + 1
    starts = np.concatenate(([0], boundary))
    counts = np.diff(np.concatenate((starts, [elem.size])))
    group = np.repeat(np.arange(starts.size), counts)
    return starts[group], counts[group], group


def _self_pairs(deps: Deps, n: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """For every element, all pairs (v, w) of the variables it depends on."""
    elem, var = deps.tidied(n, budget)
    start, count, _ = _groups(elem)
    if int(count.sum()) > budget:  # counted before they are made: a dense block stops here
        raise TooDense
    rows = np.repeat(var, count)
    first = np.repeat(start - (np.cumsum(count) - count), count)
    cols = var[first + np.arange(rows.size)]
    return rows, cols


def _cross_pairs(a: Deps, b: Deps, n: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """For every element e, dep_a(e) x dep_b(e)."""
    ea, va = a.tidied(n, budget)
    eb, vb = b.tidied(n, budget)
    lo = np.searchsorted(eb, ea, side="left")
    hi = np.searchsorted(eb, ea, side="right")
    count = hi - lo
    if int(count.sum()) > budget:
        raise TooDense
    rows = np.repeat(va, count)
    first = np.repeat(lo - (np.cumsum(count) - count), count)
    cols = vb[first + np.arange(rows.size)]
    return rows, cols


def _element_numbers(shape: tuple[int, ...]) -> np.ndarray:
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


def _gather(deps: Deps, source: np.ndarray, size: int, budget: int) -> Deps:
    """Output element o takes the dependence of input element source[o] (-1: none)."""
    if deps.uniform is not None:
        return Deps(size, uniform=deps.uniform)
    assert deps.elem is not None and deps.var is not None
    elem, var = deps.elem, deps.var
    if not deps.tidy:
        order = np.argsort(elem, kind="stable")
        elem, var = elem[order], var[order]
    indptr = np.searchsorted(elem, np.arange(deps.size + 1))
    source = source.reshape(-1)
    valid = source >= 0
    out_elem = np.flatnonzero(valid)
    src = source[valid]
    lo, count = indptr[src], indptr[src + 1] - indptr[src]
    if deps.tidy and int(count.sum()) > budget:  # no repeats to merge: over for good
        raise TooDense
    new_elem = np.repeat(out_elem, count)
    first = np.repeat(lo - (np.cumsum(count) - count), count)
    # each output element copies one input element's variables: tidy stays tidy
    return Deps(size, new_elem, var[first + np.arange(new_elem.size)], tidy=deps.tidy)


def _scatter(deps: Deps, target: np.ndarray, size: int) -> Deps:
    """Input element i goes into output element target[i] (a sum, a reduction)."""
    if deps.uniform is not None:
        return Deps(size, uniform=deps.uniform)
    assert deps.elem is not None and deps.var is not None
    return Deps(size, target.reshape(-1)[deps.elem], deps.var)


class Detector:
    """One pass over a graph: the dependence of each vertex, and the Hessian's pairs."""

    def __init__(self, n: int, budget: int, hessian: bool):
        self.n = n
        self.budget = budget
        self.hessian = hessian
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.paired = 0

    def couple(self, rows: np.ndarray, cols: np.ndarray) -> None:
        self.pairs.append((rows, cols))
        self.paired += rows.size
        if self.paired > self.budget:
            # pairs repeat (many ops couple the same variables): merge before giving up
            merged = _unique_pairs(np.concatenate([r for r, _ in self.pairs]),
                                   np.concatenate([c for _, c in self.pairs]), self.n)
            self.pairs = [merged]
            self.paired = merged[0].size
            if self.paired > self.budget:
                raise TooDense

    def couple_uniform(self, variables: np.ndarray) -> None:
        if variables.size ** 2 > self.budget:
            raise TooDense
        self.couple(np.repeat(variables, variables.size), np.tile(variables, variables.size))

    def check(self, deps: Deps) -> Deps:
        if deps.elem is not None and deps.elem.size > self.budget:
            # repeated entries from many paths: merge them before giving up
            elem, var = _unique_pairs(deps.elem, deps.var, self.n)  # type: ignore[arg-type]
            if elem.size > self.budget:
                raise TooDense
            deps = Deps(deps.size, elem, var, tidy=True)
        return deps

    def step(self, node: Node, incoming: list[Deps | None]) -> Deps | None:
        op = node.op
        assert node.out is not None and node.saved is not None
        out_shape = node.out.shape
        size = node.out.size
        rule = op.dependency
        nonlinear = op.curvature == "nonlinear"
        if rule == "none":
            return None
        shapes = [s.shape for s in node.saved]
        if rule == "elementwise" and all(len(s) <= len(out_shape) for s in shapes):
            gathered: list[Deps | None] = []
            for deps, shape in zip(incoming, shapes, strict=True):
                if deps is None:
                    gathered.append(None)
                    continue
                if shape == out_shape:
                    gathered.append(deps)
                    continue
                source = np.broadcast_to(_element_numbers(shape), out_shape)
                gathered.append(_gather(deps, source, size, self.budget))
            present = [d for d in gathered if d is not None]
            if any(d.uniform is not None for d in present):
                return self._dense(present, size, op.curvature != "linear")
            if self.hessian and op.curvature == "bilinear" and len(gathered) == 2:
                a, b = gathered
                if a is not None and b is not None:
                    rows, cols = _cross_pairs(a, b, self.n, self.budget)
                    self.couple(rows, cols)
                    self.couple(cols, rows)
            merged = present[0] if len(present) == 1 else \
                Deps(size, np.concatenate([d.elem for d in present]),
                     np.concatenate([d.var for d in present]))
            if self.hessian and nonlinear:
                self.couple(*_self_pairs(merged, self.n, self.budget))
            return self.check(merged)
        if rule == "reduction" and incoming[0] is not None:
            axis = node.params.get("axis")
            in_shape = shapes[0]
            kept = tuple(1 if axis is None or i in axis else s for i, s in enumerate(in_shape))
            target = np.broadcast_to(_element_numbers(kept), in_shape)
            deps = _scatter(incoming[0], target, size)
            if deps.uniform is not None:
                return self._dense([deps], size, nonlinear)
            # a reduction repeats each variable once per reduced element: merged now, so a
            # broadcast of its result is counted exactly (and stopped early when too dense)
            deps = Deps(size, *_unique_pairs(deps.elem, deps.var, self.n),  # type: ignore[arg-type]
                        tidy=True)
            if self.hessian and nonlinear:
                self.couple(*_self_pairs(deps, self.n, self.budget))
            return deps
        if rule == "moves" and len(incoming) == 1 and incoming[0] is not None:
            move = op.moves(**node.params) if op.moves is not None else None
            if move is not None:
                source = np.asarray(move(_element_numbers(shapes[0]) + 1)) - 1
                if source.shape == out_shape:
                    return self.check(_gather(incoming[0], source, size, self.budget))
        if rule == "matmul" and len(shapes) == 2 and all(1 <= len(t) <= 2 for t in shapes):
            found = self._matmul(incoming, shapes, size)
            if found is not None:
                return found
        if rule == "sum_to" and incoming[0] is not None:
            in_shape = shapes[0]
            padded = (1,) * (len(in_shape) - len(out_shape)) + tuple(out_shape)
            target = np.broadcast_to(_element_numbers(padded), in_shape)
            return self.check(_scatter(incoming[0], target, size))
        present = [d for d in incoming if d is not None]
        return self._dense(present, size, op.curvature != "linear")

    def _matmul(self, incoming: list[Deps | None], shapes: list[tuple[int, ...]], size: int
                ) -> Deps | None:
        """C = A @ B for vectors and matrices: C[i, j] depends on A[i, k] and B[k, j] for
        every k, and couples dep(A[i, k]) x dep(B[k, j]). None: left to the dense rule
        (a uniform input, or more (i, j, k) triples than the budget)."""
        if any(d is not None and d.uniform is not None for d in incoming):
            return None
        a_shape, b_shape = shapes
        m, k = (1, a_shape[0]) if len(a_shape) == 1 else a_shape
        n = 1 if len(b_shape) == 1 else b_shape[1]
        if m * n * k > self.budget:
            return None
        i, j, kk = (a.reshape(-1) for a in np.indices((m, n, k), dtype=np.int64))
        out = i * n + j
        sources = (i * k + kk, kk * n + j)
        gathered = [None if d is None else _gather(d, src, out.size, self.budget)
                    for d, src in zip(incoming, sources, strict=True)]
        a, b = gathered
        if self.hessian and a is not None and b is not None:
            rows, cols = _cross_pairs(a, b, self.n, self.budget)
            self.couple(rows, cols)
            self.couple(cols, rows)
        present = [g for g in gathered if g is not None]
        return self.check(Deps(size, np.concatenate([out[g.elem] for g in present]),
                               np.concatenate([g.var for g in present])))

    def _dense(self, present: Sequence[Deps], size: int, nonlinear: bool) -> Deps:
        mask = np.zeros(self.n, dtype=bool)
        for d in present:
            mask[d.variables(self.n)] = True
        variables = np.flatnonzero(mask)
        if self.hessian and nonlinear:
            self.couple_uniform(variables)
        return Deps(size, uniform=variables)


def detect(output: Tensor, inputs: Sequence[Tensor], *, hessian: bool,
           budget: int) -> tuple[np.ndarray, np.ndarray]:
    """The pattern (rows, cols) of d output / d inputs, or of the Hessian of a scalar output.

    Variables are the inputs' elements flattened and laid end to end. Raises
    `TooDense` when the pattern would hold more than `budget` entries."""
    n = sum(t.size for t in inputs)
    detector = Detector(n, budget, hessian)
    known: dict[object, Deps] = {}
    offset = 0
    for t in inputs:
        vertex = vertex_of(t)
        if vertex is not None:
            size = t.size
            known[vertex] = Deps(size, np.arange(size, dtype=np.int64),
                                 np.arange(offset, offset + size, dtype=np.int64), tidy=True)
        offset += t.size
    root = vertex_of(output)
    if root is not None:
        with no_cycle_collection():  # a walk of gradcli's own over the graph
            _walk(detector, known, root)
    if hessian:
        if not detector.pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        rows = np.concatenate([r for r, _ in detector.pairs])
        cols = np.concatenate([c for _, c in detector.pairs])
        # symmetric already: self pairs are, products couple both ways, dense blocks are
        return _unique_pairs(rows, cols, n)
    final = known.get(root) if root is not None else None
    if final is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    elem, var = final.coo(budget)
    return _unique_pairs(elem, var, n)


def _walk(detector: Detector, known: dict[object, Deps], root: Any) -> None:
    """The dependence of every vertex, in topological order (no recursion)."""
    for vertex in topological_order([root]):
        if vertex in known or vertex.__class__ is not Node:
            continue
        node: Node = vertex
        incoming = [known.get(e) if e is not None else None for e in node.edges]
        if all(d is None for d in incoming):
            continue
        deps = detector.step(node, incoming)
        if deps is not None:
            known[node] = deps
