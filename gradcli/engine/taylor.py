"""Taylor mode: the coefficients of f(a + v t) in t, to any order, from the op table.

Univariate Taylor propagation (Griewank and Walther, *Evaluating Derivatives*,
ch. 13) carries, for every value of the computation, its Taylor coefficients
x_0, x_1, ..., x_N along t. Nesting first derivatives would cost exponentially
in N; propagating coefficients costs O(N^2) per op.

Rather than a hand-written recurrence for every entry, one rule serves them
all: if y = op(x) then y'(t) = J(x(t), y(t)) x'(t), where J is the op's JVP,
which the table already states as Tensor code for one tangent. So

    y_k = D_{k-1} / k,    D(t) = jvp(x'(t), y(t), x(t)),

and D is itself a computation made of table ops. Running the JVP once under
the engine's recorder gives that computation as a list of op applications,
whose values become Taylor series too. Each series is a node; a node reached
twice (sin's JVP needs cos(x), whose JVP needs sin(x): the first node again)
is the same node, so the graph closes. The coefficient D_{k-1} needs x up to
order k and y up to order k-1 only, so sweeping the nodes repeatedly, each
extending its series as soon as what it reads is there, computes every
coefficient without recursion. A node needs one order less than the node
whose JVP it serves, so chains such as gamma -> digamma -> polygamma(1) -> ...
end after N steps.

Three shapes of entry have a direct rule instead (the `taylor` field of an
op's entry), because the generic rule would keep creating new nodes for them:
`bilinear` (mul, matmul: the Cauchy product), `quotient` (div) and `power`
(x^c for a constant c). An op with no derivative (comparisons, floor, sign)
has a constant series. Everything else is generic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcli.engine.batching import elementwise
from gradcli.engine.forward import derived_jvp
from gradcli.engine.mode import set_grad_enabled
from gradcli.engine.op import OpDef
from gradcli.engine.tensor import Tensor
from gradcli.engine.trace import recording
from gradcli.errors import AutogradError


class Series:
    """The Taylor coefficients of one value of the computation, as far as known."""

    __slots__ = ("coeffs", "d", "inputs", "kind", "need", "op", "params", "zero")

    def __init__(self, kind: str, first: np.ndarray, op: OpDef | None = None,
                 inputs: tuple[Series, ...] = (), params: dict[str, Any] | None = None,
                 known: bool = True):
        self.kind = kind
        first = np.asarray(first, dtype=np.float64)
        #: coefficients 0, 1, ...; a derivative's first one waits for its input's second
        self.coeffs: list[np.ndarray] = [first] if known else []
        self.op = op
        self.inputs = inputs
        self.params = params or {}
        #: the highest coefficient anything asks of this series (-1: none yet)
        self.need = -1
        #: for the generic rule: the series of the JVP, D(t) = jvp(x'(t), y(t), x(t))
        self.d: Series | None = None
        self.zero = np.zeros_like(first)

    def at(self, k: int) -> np.ndarray:
        """Coefficient k; constants (and a leaf past its slope) are zero beyond what they hold."""
        if k < len(self.coeffs):
            return self.coeffs[k]
        assert self.kind in ("const", "leaf"), (self.kind, k)
        return self.zero

    def known(self) -> int:
        """How many coefficients can be read."""
        return 1 << 30 if self.kind in ("const", "leaf") else len(self.coeffs)


class TaylorGraph:
    """The series of one computation and of the JVPs its generic rules read."""

    def __init__(self, order: int):
        self.order = order
        self.nodes: list[Series] = []
        # id(array) -> (array, series); the array is held so its id stays unique
        self.by_array: dict[int, tuple[np.ndarray, Series]] = {}
        self.memo: dict[tuple[Any, ...], Series] = {}
        self.derivatives: dict[int, Series] = {}
        self.pending: list[Series] = []

    # -- building ---------------------------------------------------------------------
    def bind(self, array: np.ndarray, series: Series) -> None:
        self.by_array[id(array)] = (array, series)

    def series_of(self, array: np.ndarray) -> Series:
        held = self.by_array.get(id(array))
        if held is not None and held[0] is array:
            return held[1]
        series = Series("const", array)
        self.bind(array, series)
        return series

    def leaf(self, value: np.ndarray, direction: np.ndarray) -> Series:
        series = Series("leaf", value)
        series.coeffs.append(np.asarray(direction, dtype=np.float64))
        self.bind(value, series)
        return series

    def derivative(self, x: Series) -> Series:
        """x'(t): coefficients (k+1) x_{k+1}."""
        found = self.derivatives.get(id(x))
        if found is not None:
            return found
        if x.kind == "const":
            made = Series("const", x.zero)
        else:
            made = Series("deriv", x.zero, inputs=(x,), known=False)
            self.nodes.append(made)
        self.derivatives[id(x)] = made
        return made

    def add_entries(self, entries: Sequence[tuple[OpDef, tuple[np.ndarray, ...],
                                                  dict[str, Any], np.ndarray]]) -> None:
        """Series for each op application a recorder saw, in order."""
        for op, arrays, params, out in entries:
            inputs = tuple(self.series_of(a) for a in arrays)
            key = (op.name, tuple(id(s) for s in inputs), repr(sorted(params.items())))
            found = self.memo.get(key)
            if found is not None:
                self.bind(out, found)
                continue
            # a value computed from a stand-in tangent (see trace_jvp) is not its true
            # coefficient 0: that one is computed from its inputs' first coefficients
            exact = all(s.coeffs for s in inputs)
            if all(s.kind == "const" for s in inputs) or (not op.differentiable and exact):
                series = Series("const", out)
            else:
                kind = (op.taylor or "generic") if op.differentiable else "flat"
                if kind == "power" and inputs[1].kind != "const":
                    kind = "generic"
                series = Series(kind, out, op, inputs, params, known=exact)
                self.nodes.append(series)
                self.pending.append(series)
            self.memo[key] = series
            self.bind(out, series)

    def stand_in(self, x: Series) -> np.ndarray:
        """x's coefficient 0 for a trace, or, not known yet, an array of its shape that
        stands for it (what is computed from it is then recomputed from the series)."""
        if x.coeffs:
            return x.coeffs[0]
        array = np.ones_like(x.zero)
        self.bind(array, x)
        return array

    def trace_jvp(self, y: Series) -> None:
        """D for a generic node: its op's JVP run once on the coefficient-0 values,
        recorded, and taken in as series."""
        op = y.op
        assert op is not None
        tangent_arrays = [None if x.kind == "const" else np.ones_like(x.zero)
                          for x in y.inputs]
        for x, t in zip(y.inputs, tangent_arrays, strict=True):
            if t is not None:
                self.bind(t, self.derivative(x))
        tangents = [None if t is None else Tensor._wrap(t) for t in tangent_arrays]
        primal = [Tensor._wrap(self.stand_in(x)) for x in y.inputs]
        for p, x in zip(primal, y.inputs, strict=True):
            # as in reverse mode: a rule may take a shorter form for an input that
            # does not vary (pow's constant exponent), never for one that does
            p.requires_grad = x.kind != "const"
        out = self.stand_in(y)
        with set_grad_enabled(False), np.errstate(all="ignore"), recording() as recorder:
            result = _jvp(op, tangents, Tensor._wrap(out), primal, y.params)
            if result is not None and result.shape != out.shape:
                result = _broadcast(result, out.shape)
        self.add_entries(recorder.entries)
        if result is None:
            y.d = Series("const", np.zeros_like(out))
        else:
            y.d = self.series_of(result.data)

    def settle_needs(self, outputs: Sequence[Series]) -> None:
        """Give every node the order it must reach, tracing JVPs as nodes come to need them."""
        work = []
        for s in outputs:
            if s.need < self.order:
                s.need = self.order
                work.append(s)
        while work or self.pending:
            while work:
                s = work.pop()
                if s.kind in ("const", "leaf"):
                    continue
                if s.kind == "generic" and s.need >= 1 and s.d is None:
                    self.trace_jvp(s)
                for dep, need in _reads(s):
                    if need > dep.need:
                        if need > self.order + 1:
                            raise AutogradError(f"taylor: {s.op} asks for more orders than "
                                                "there are (a bug)")
                        dep.need = need
                        work.append(dep)
            self.pending.clear()

    # -- computing --------------------------------------------------------------------
    def run(self) -> None:
        """Extend every series to its need: sweeps until nothing is missing."""
        todo = [s for s in self.nodes if len(s.coeffs) <= s.need]
        with np.errstate(all="ignore"):
            while todo:
                progressed = False
                for s in todo:
                    while len(s.coeffs) <= s.need and _ready(s):
                        s.coeffs.append(_next(s))
                        progressed = True
                todo = [s for s in todo if len(s.coeffs) <= s.need]
                if todo and not progressed:
                    stuck = todo[0]
                    raise AutogradError(
                        f"taylor: the series of {stuck.op or stuck.kind} cannot advance past "
                        f"order {len(stuck.coeffs) - 1} (a bug)")


def _jvp(op: OpDef, tangents: list[Tensor | None], out: Tensor, primal: list[Tensor],
         params: dict[str, Any]) -> Tensor | None:
    """The op's JVP as Tensor code. An elementwise entry's partials are read from its VJP
    (g * df/dx_i, the same product with the tangent for g), which is Tensor code by the
    table's rule; its `linear` coefficients may be plain numbers, fine for one tangent
    but constants to a recorder."""
    if op.jvp is not None:
        result: Tensor | None = op.jvp(tangents, out, *primal, **params)
        return result
    if op.batch is not elementwise or not isinstance(op.vjp, tuple):
        return derived_jvp(op, tangents, out.data, primal, params)
    total: Tensor | None = None
    for t, rule in zip(tangents, op.vjp, strict=True):
        if t is None:
            continue
        term = rule(t, out, *primal, **params)
        if term is None:
            continue
        total = term if total is None else total + term
    return total


def _broadcast(result: Tensor, shape: tuple[int, ...]) -> Tensor:
    from gradcli.engine.op import lookup
    from gradcli.engine.tensor import apply

    return apply(lookup("broadcast_to"), (result,), {"shape": shape})


def _reads(s: Series) -> list[tuple[Series, int]]:
    """What a node's next coefficients read, with the order each must reach."""
    n = s.need
    if s.kind == "deriv":
        return [(s.inputs[0], n + 1)]
    if s.kind == "generic":
        first = [(x, 0) for x in s.inputs]  # coefficient 0 is the op of theirs
        return first if s.d is None else [*first, (s.d, n - 1)]
    if s.kind == "flat":
        return [(x, 0) for x in s.inputs]
    return [(x, n) for x in s.inputs]


def _ready(s: Series) -> bool:
    k = len(s.coeffs)
    if k == 0 and s.kind != "deriv":
        return all(x.known() > 0 for x in s.inputs)
    if s.kind == "deriv":
        return s.inputs[0].known() > k + 1
    if s.kind == "generic":
        assert s.d is not None
        return s.d.known() >= k
    return all(x.known() > k for x in s.inputs)


def _next(s: Series) -> np.ndarray:
    """Coefficient k = len(s.coeffs) of s, from what it reads."""
    k = len(s.coeffs)
    if s.kind == "deriv":
        return (k + 1) * s.inputs[0].at(k + 1)
    op = s.op
    assert op is not None
    if k == 0:
        return np.asarray(op.forward(*[x.at(0) for x in s.inputs], **s.params),
                          dtype=np.float64)
    if s.kind == "flat":  # no derivative (a comparison of tangent-carrying values)
        return s.zero
    if s.kind == "generic":
        assert s.d is not None
        return s.d.at(k - 1) / k
    if s.kind == "bilinear":
        a, b = s.inputs
        total: Any = 0.0
        for j in range(k + 1):
            if (a.kind == "const" and j > 0) or (b.kind == "const" and k - j > 0):
                continue
            total = total + op.forward(a.at(j), b.at(k - j), **s.params)
        return np.asarray(total, dtype=np.float64) + s.zero
    if s.kind == "quotient":
        a, b = s.inputs
        acc = a.at(k) - sum((b.at(j) * s.coeffs[k - j] for j in range(1, k + 1)
                             if b.kind != "const"), start=s.zero)
        return np.asarray(acc / b.at(0), dtype=np.float64)
    if s.kind == "power":
        return _power_next(s, k)
    raise AutogradError(f"taylor: no rule of kind {s.kind!r} (op {op.name})")


def _power_next(s: Series, k: int) -> np.ndarray:
    """y = x^c, c constant: k x_0 y_k = sum_{j<k} (c (k - j) - j) x_{k-j} y_j, or, for a
    small non-negative integer c, the Cauchy product of c factors (exact where x_0 = 0)."""
    x, exponent = s.inputs
    c = exponent.at(0)
    x0 = x.at(0)
    if (c.ndim == 0 and float(c).is_integer() and 0 <= float(c) <= 16
            and np.any(x0 == 0)):
        # coefficient k of x(t)^c by repeated Cauchy products of the known coefficients
        n = int(c)
        xs = [x.at(j) for j in range(k + 1)]
        power = [np.ones_like(xs[0])] + [np.zeros_like(xs[0])] * k
        for _ in range(n):
            power = [sum((power[i] * xs[m - i] for i in range(m + 1)), start=s.zero)
                     for m in range(k + 1)]
        return np.asarray(power[k] + s.zero, dtype=np.float64)
    total = sum(((c * (k - j) - j) * x.at(k - j) * s.coeffs[j] for j in range(k)),
                start=s.zero)
    return np.asarray(total / (k * x0), dtype=np.float64)


def taylor_coefficients(f: Callable[..., Tensor], inputs: Sequence[np.ndarray],
                        directions: Sequence[np.ndarray], order: int) -> list[np.ndarray]:
    """[y_0, ..., y_order] with f(a + v t) = sum_k y_k t^k, a = inputs, v = directions.

    y_k is d^k/dt^k f(a + v t) / k! at t = 0, of f's output shape."""
    result = expand(f, inputs, directions, order)[1]
    return [result.at(k) + 0.0 for k in range(order + 1)]


def expand(f: Callable[..., Tensor], inputs: Sequence[np.ndarray],
           directions: Sequence[np.ndarray], order: int) -> tuple[TaylorGraph, Series]:
    """The graph of series for f along a + v t, computed to `order`, and f's series."""
    if order < 0:
        raise AutogradError("taylor needs an order of 0 or more")
    graph = TaylorGraph(order)
    arrays = [np.array(a, dtype=np.float64) for a in inputs]
    leaves = [graph.leaf(a, np.asarray(v, dtype=np.float64))
              for a, v in zip(arrays, directions, strict=True)]
    with set_grad_enabled(False), np.errstate(all="ignore"), recording() as recorder:
        out = f(*[Tensor._wrap(a) for a in arrays])
    graph.add_entries(recorder.entries)
    result = graph.series_of(out.data)
    del leaves
    graph.settle_needs([result])
    graph.run()
    return graph, result
