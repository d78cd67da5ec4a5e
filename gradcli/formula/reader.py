"""Reading a recorded computation back as a formula.

The engine's recorder (gradcli.engine.trace) lists every op application of a
computation, with `create_graph=True` the backward pass included: the same
graph `grad_fn` links, flat and in order, together with the non-differentiable
ops (comparisons, `where` conditions) that a rule's masks are built from. The
reader walks it back from a result array, with an explicit stack, and turns
each application into a node of the algebra:

* arithmetic ops go through the simplifier's constructors (add, mul, power...);
* ops that only move or broadcast values (broadcast_to, sum_to, reshape,
  getitem, scatter_add) become the shapes and sums a person would write;
* every other op becomes a call of that op, by its name in the table, so a
  new op needs nothing here;
* a value that depends on no variable is a number (or an array written out).

A value that a rule computed outside any op (an opaque mask) cannot be read
back; that is an error naming the reason, never a wrong formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcli.engine.op import OpDef
from gradcli.engine.trace import Entry
from gradcli.errors import FormulaError
from gradcli.formula.expr import CALL, NUM, PRODUCT, SUM, VAR, Expr
from gradcli.formula.simplify import COMPARISONS, Algebra, short_number

#: arrays with more elements than this are not written out as literals
LITERAL_LIMIT = 64

Handler = Callable[["Reader", OpDef, list[Expr], tuple[np.ndarray, ...], dict[str, Any],
                    np.ndarray], Expr]


class Reader:
    def __init__(self, algebra: Algebra, entries: Sequence[Entry],
                 variables: dict[int, tuple[str, np.ndarray]]):
        self.algebra = algebra
        self.producers: dict[int, Entry] = {}
        for entry in entries:
            out = entry[3]
            if any(out is x for x in entry[1]):
                continue  # an identity op (detach): the input is the value
            self.producers[id(out)] = entry
        self.memo: dict[int, Expr] = {}
        self.constant: dict[int, bool] = {}
        for key, (name, array) in variables.items():
            self.memo[key] = algebra.var(name, array.shape)
            self.constant[key] = False

    def read(self, array: np.ndarray) -> Expr:
        """The formula of a value the recorded computation produced."""
        stack = [array]
        while stack:
            a = stack[-1]
            key = id(a)
            if key in self.memo:
                stack.pop()
                continue
            entry = self.producers.get(key)
            if entry is None:
                self.memo[key] = self.number(a)
                self.constant[key] = True
                stack.pop()
                continue
            op, inputs, params, out = entry
            pending = [x for x in inputs if id(x) not in self.memo]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            args = [self.memo[id(x)] for x in inputs]
            constant = all(self.constant[id(x)] for x in inputs)
            if constant and not (out.size == 1 and args and all(a.shape == () for a in args)
                                 and (op.name in HANDLERS or op.public)):
                self.memo[key] = self.folded(op, inputs, params, out)
            else:
                # numbers go through the algebra too, which folds what is as short to write
                handler = HANDLERS.get(op.name, Reader.call)
                self.memo[key] = handler(self, op, args, inputs, params, out)
            self.constant[key] = constant
        return self.memo[id(array)]

    # -- constants ----------------------------------------------------------------------
    def number(self, array: np.ndarray) -> Expr:
        """A constant value: a number, or an array written out."""
        a = np.asarray(array, dtype=np.float64)
        if a.size == 0:
            raise FormulaError("the derivative holds an empty array, which a formula "
                               "cannot write")
        first = a.reshape(-1)[0]
        if np.array_equal(a, np.full(a.shape, first), equal_nan=True):
            return self.algebra.symbol(float(first)) or self.algebra.num(float(first))
        if a.size > LITERAL_LIMIT:
            raise FormulaError(f"the derivative holds a constant array of {a.size} elements, "
                               "too many to write out in a formula")
        return self._array_literal(a)

    def _array_literal(self, a: np.ndarray) -> Expr:
        if a.ndim == 0:
            return self.algebra.symbol(float(a)) or self.algebra.num(float(a))
        rows = [self._array_literal(row) for row in a]
        return self.algebra.literal(rows, a.shape)

    def folded(self, op: OpDef, inputs: tuple[np.ndarray, ...], params: dict[str, Any],
               out: np.ndarray) -> Expr:
        """A constant computed by an op: its number, or the call when that says it better
        (log(2) rather than 0.6931471805599453)."""
        value = self.number(out)
        if (value.kind == NUM and op.kind == "elementwise" and op.public and len(inputs) == 1
                and np.asarray(inputs[0]).size == 1 and not short_number(value.value)):
            argument = self.number(inputs[0])
            if argument.kind == NUM and short_number(argument.value):
                return self.algebra.call(op.name, _frozen_params(op, params), (argument,), ())
        return value

    # -- ops --------------------------------------------------------------------------------
    def call(self, op: OpDef, args: list[Expr], inputs: tuple[np.ndarray, ...],
             params: dict[str, Any], out: np.ndarray) -> Expr:
        """Any op without a rule of its own: a call of it, by name."""
        if not op.public and op.printed is None:
            raise FormulaError(f"the derivative uses {op.name}, which gradcli's language "
                               "cannot write", hint="diff writes the ops the language has")
        if not (op.broadcasting or op.kind == "elementwise"):
            args = [self.algebra.fit(e, x.shape) for e, x in zip(args, inputs, strict=True)]
        frozen = _frozen_params(op, params)
        if op.name == "where":
            return self.algebra.where(args[0], args[1], args[2])
        if op.name in COMPARISONS:
            return self.algebra.compare(op.name, frozen, args[0], args[1], out.shape,
                                        COMPARISONS[op.name])
        return self.algebra.call(op.name, frozen, tuple(args), out.shape)

    def add(self, op: OpDef, args: list[Expr], *_: Any) -> Expr:
        return self.algebra.add(*args)

    def sub(self, op: OpDef, args: list[Expr], *_: Any) -> Expr:
        return self.algebra.add(args[0], self.algebra.neg(args[1]))

    def mul(self, op: OpDef, args: list[Expr], *_: Any) -> Expr:
        return self.algebra.mul(*args)

    def div(self, op: OpDef, args: list[Expr], *_: Any) -> Expr:
        return self.algebra.mul(args[0], self.algebra.power(args[1], self.algebra.minus_one))

    def neg(self, op: OpDef, args: list[Expr], *_: Any) -> Expr:
        return self.algebra.neg(args[0])

    def pow(self, op: OpDef, args: list[Expr], *_: Any) -> Expr:
        return self.algebra.power(args[0], args[1])

    def square(self, op: OpDef, args: list[Expr], *_: Any) -> Expr:
        return self.algebra.power(args[0], self.algebra.num(2.0))

    def same_values(self, op: OpDef, args: list[Expr], *_: Any) -> Expr:
        """broadcast_to, clone: the same values; a consumer that needs the shape fits it."""
        return args[0]

    def reshape(self, op: OpDef, args: list[Expr], inputs: tuple[np.ndarray, ...],
                params: dict[str, Any], out: np.ndarray) -> Expr:
        if inputs[0].size == 1:
            if args[0].shape == () or out.shape != ():
                return args[0]  # one value in another shape: broadcasting does the rest
            return self.algebra.raw_call("sum", (), (args[0],), ())  # the one element
        if inputs[0].shape == out.shape:
            return args[0]
        fitted = self.algebra.fit(args[0], inputs[0].shape)
        return self.algebra.raw_call("reshape", (("shape", out.shape),), (fitted,), out.shape)

    def sum_to(self, op: OpDef, args: list[Expr], inputs: tuple[np.ndarray, ...],
               params: dict[str, Any], out: np.ndarray) -> Expr:
        """The VJP of broadcasting: a sum over the broadcast axes."""
        source, target = inputs[0].shape, out.shape
        e = args[0]
        if source == target:
            return e
        if e.shape == ():
            return self.algebra.mul(e, self.algebra.num(inputs[0].size / max(out.size, 1)))
        if len(source) == 1 and out.size == 1:
            weighted = self._weighted_sum(e, source)
            if weighted is not None:
                return weighted
        lead = len(source) - len(target)
        kept = [i + lead for i, s in enumerate(target) if s == 1 and source[i + lead] != 1]
        e = self.algebra.fit(e, source)
        shape = list(source)
        for axis in reversed(kept):
            shape[axis] = 1
            e = self._sum(e, axis, True, tuple(shape))
        for axis in reversed(range(lead)):
            del shape[axis]
            e = self._sum(e, axis, False, tuple(shape))
        return e

    def _weighted_sum(self, e: Expr, source: tuple[int, ...]) -> Expr | None:
        """sum(rest*[c0, c1, ...]) with numbers c_i: the sum of c_i*rest[i], written out (the
        one-hot rows a Hessian's seeds make become single elements)."""
        if e.kind != PRODUCT:
            return None
        for k, (factor, exponent) in enumerate(zip(e.args, e.exps, strict=True)):
            if exponent is self.algebra.one and _is_literal(factor) and \
                    all(a.kind == NUM for a in factor.args):
                rest = self.algebra.mul(self.algebra.num(e.value), *(
                    self.algebra.power(b, x) for j, (b, x) in enumerate(
                        zip(e.args, e.exps, strict=True)) if j != k))
                terms = []
                for i, weight in enumerate(factor.args):
                    if weight.value != 0.0:
                        element = rest if rest.shape == () else \
                            self._element(rest, (i,), source)
                        if element is None:
                            return None
                        terms.append(self.algebra.mul(weight, element))
                return self.algebra.add(*terms)
        return None

    def _scatter_slice(self, g: Expr, g_shape: tuple[int, ...], n: int, part: slice) -> Expr:
        """zeros(n) with g added at a slice, written out element by element."""
        algebra = self.algebra
        flat = [algebra.zero] * n
        for j, position in enumerate(range(n)[part]):
            element = g if g.shape == () else self._element(g, (j,), g_shape)
            if element is None:
                element = algebra.raw_call("getitem", (("index", (j,)),),
                                           (algebra.fit(g, g_shape),), ())
            flat[position] = algebra.add(flat[position], element)
        return _nested_literal(algebra, flat, (n,))

    def _sum(self, e: Expr, axis: int, keepdims: bool, shape: tuple[int, ...]) -> Expr:
        return self.algebra.raw_call("sum", (("axis", (axis,)), ("keepdims", keepdims)),
                                     (e,), shape)

    def getitem(self, op: OpDef, args: list[Expr], inputs: tuple[np.ndarray, ...],
                params: dict[str, Any], out: np.ndarray) -> Expr:
        e, index = args[0], _without_ellipsis(params["index"], inputs[0].ndim)
        if e.shape == () and inputs[0].shape != ():
            return e  # an element of a broadcast value is the value
        if all(isinstance(i, int) for i in index):
            picked = self._element(e, index, inputs[0].shape)
            if picked is not None:
                return picked
        fitted = self.algebra.fit(e, inputs[0].shape)
        return self.algebra.raw_call("getitem", (("index", index),), (fitted,), out.shape)

    def _element(self, e: Expr, index: tuple[int, ...], shape: tuple[int, ...]
                 ) -> Expr | None:
        """e[index] pushed through literals and elementwise arithmetic, where it can be."""
        while index and _is_literal(e):
            e, index, shape = e.args[index[0]], index[1:], shape[1:]
        if not index:
            return e
        if e.kind == VAR:
            return None
        if e.kind in (SUM, PRODUCT) and e.shape == shape:
            from gradcli.formula.simplify import rebuild

            def leaf(node: Expr) -> Expr | None:
                if node.shape == ():
                    return node
                if _is_literal(node) and node.shape == shape:
                    return self._element(node, index, shape)
                if node.kind in (SUM, PRODUCT):
                    return None
                if node.shape != shape:
                    raise _NoPushdown
                return self._getitem(node, index, shape)

            try:
                return rebuild(self.algebra, e, leaf)
            except _NoPushdown:
                return None
        return None

    def _getitem(self, node: Expr, index: tuple[int, ...], shape: tuple[int, ...]) -> Expr:
        """node[index] for whole-number indices (fewer than the axes leave a row); an
        index into an element pick joins it: b[1][0] is b[1, 0]."""
        if node.kind == CALL and node.value[0] == "getitem":
            inner = dict(node.value[1])["index"]
            if all(isinstance(i, int) for i in inner):
                index = (*inner, *index)
                node = node.args[0]
                shape = node.shape
        return self.algebra.raw_call("getitem", (("index", index),), (node,),
                                     shape[len(index):])

    def prod_others(self, op: OpDef, args: list[Expr], inputs: tuple[np.ndarray, ...],
                    params: dict[str, Any], out: np.ndarray) -> Expr:
        """prod's derivative, the product of the other elements: written out element by
        element, as a person writes it ([a[1]*a[2], a[0]*a[2], a[0]*a[1]]); exact at zeros."""
        shape = inputs[0].shape
        axis = params.get("axis")
        if (axis is not None and tuple(axis) != tuple(range(len(shape)))) or \
                math.prod(shape) > LITERAL_LIMIT:
            raise FormulaError("the derivative of a product along some axes, or of more than "
                               f"{LITERAL_LIMIT} elements, cannot be written out",
                               hint="take prod over all elements of a small array")
        algebra = self.algebra
        positions = list(np.ndindex(*shape))
        elements = [self._pick(args[0], position, shape) for position in positions]
        flat = [algebra.mul(*(e for j, e in enumerate(elements) if j != k))
                for k in range(len(elements))]
        return _nested_literal(algebra, flat, shape)

    def _pick(self, e: Expr, position: tuple[int, ...], shape: tuple[int, ...]) -> Expr:
        if e.shape == ():
            return e
        picked = self._element(e, position, shape)
        if picked is not None:
            return picked
        return self._getitem(self.algebra.fit(e, shape), position, shape)

    def scatter_add(self, op: OpDef, args: list[Expr], inputs: tuple[np.ndarray, ...],
                    params: dict[str, Any], out: np.ndarray) -> Expr:
        """The VJP of indexing: zeros with the value at the index, written out as an array."""
        shape, index = params["shape"], params["index"]
        size = math.prod(shape)
        if len(shape) == 1 and len(index) == 1 and isinstance(index[0], slice) \
                and size <= LITERAL_LIMIT:
            return self._scatter_slice(args[0], inputs[0].shape, shape[0], index[0])
        if size > LITERAL_LIMIT or not all(isinstance(i, int) for i in index) or \
                len(index) != len(shape):
            raise FormulaError("the derivative scatters values into an array in a way a "
                               "formula cannot write (slices or index arrays)",
                               hint="index single elements, e.g. v[0], to get a formula")
        algebra = self.algebra
        flat = [algebra.zero] * size
        position = int(np.ravel_multi_index(tuple(i % s for i, s in zip(index, shape,
                                                                         strict=True)), shape))
        flat[position] = args[0]
        return _nested_literal(algebra, flat, shape)


def _without_ellipsis(index: Any, ndim: int) -> Any:
    """x[..., 0] as x[:, 0]: the axes an ellipsis stands for, written out (a formula's
    language has slices but no ellipsis)."""
    if not isinstance(index, tuple) or not any(i is Ellipsis for i in index):
        return index
    at = next(k for k, i in enumerate(index) if i is Ellipsis)
    spelled = sum(1 for i in index if i is not None and i is not Ellipsis)
    return (*index[:at], *[slice(None)] * (ndim - spelled), *index[at + 1:])


def _is_literal(e: Expr) -> bool:
    return e.kind == CALL and e.value == ("stack", (("axis", 0),))


def _frozen_params(op: OpDef, params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, params[name]) for name in op.param_names if name in params)


class _NoPushdown(Exception):
    pass


def _nested_literal(algebra: Algebra, flat: list[Expr], shape: tuple[int, ...]) -> Expr:
    if not shape:
        return flat[0]
    levels: list[Expr] = flat
    for depth in range(len(shape) - 1, -1, -1):
        width = shape[depth]
        row_shape = shape[depth + 1:]
        levels = [algebra.literal(levels[k:k + width], (width, *row_shape))
                  for k in range(0, len(levels), width)]
    return levels[0]


HANDLERS: dict[str, Handler] = {
    "add": Reader.add, "sub": Reader.sub, "mul": Reader.mul, "div": Reader.div,
    "neg": Reader.neg, "pow": Reader.pow, "square": Reader.square,
    "broadcast_to": Reader.same_values, "clone": Reader.same_values,
    "reshape": Reader.reshape, "sum_to": Reader.sum_to, "getitem": Reader.getitem,
    "scatter_add": Reader.scatter_add, "prod_others": Reader.prod_others,
}
