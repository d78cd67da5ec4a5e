"""The simplifier: canonical forms, built as formulas are made.

Every node comes out of an `Algebra`'s constructors already canonical, in the
manner of SymPy's automatic evaluation:

* sums and products are flattened and their terms/factors sorted;
* numbers fold (`2*3*x` is `6*x`, `x + 0` is `x`, `x*1` is `x`, `x*0` is `0`);
* like terms collect (`(x+1) + (x+2)` is `2*x + 3`, and `a - a` is `0`);
* equal factors merge into powers (`x*x*x` is `x^3`), exponents combine
  (`x^1` is `x`, `x^0` is `1`, `(x*y)^2` is `x^2*y^2`), double negation cancels;
* a number times a sum stays a product (`2*(x + y)`, as the printer writes it and
  as reading that text back builds it, whatever order the factors came in); it is
  distributed only where it is added into a sum, so that coefficients can cancel
  (`2*(x + y) - 2*y` is `2*x`);
* `where` with a known condition or equal branches is resolved, wheres on one
  condition are merged, and inside `where(x==c, a, b)` the branch `a` has c put
  for x.

Because the constructors are canonical and nodes are interned, `simplify`
(rebuilding a formula through them) is idempotent: simplifying twice gives the
very same node. Nothing here changes a value where the original is defined;
the tests check that with hypothesis. Walks are iterative (explicit stacks),
so a formula may be arbitrarily deep.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from gradcli.engine.op import OPS
from gradcli.formula.expr import CALL, NUM, PRODUCT, SUM, VAR, Expr, factor_order, term_order

#: a sum of coefficients this close to zero, relative to the parts, is zero (rounding)
CANCEL_TOLERANCE = 8 * np.finfo(np.float64).eps
#: constants the language names, written by name (pi*x^(pi - 1), not 3.14159...*x^2.14159...)
SYMBOLS = {"pi": math.pi, "e": math.e}
#: a product with more factors than this is a single factor of a product it joins
FLATTEN_LIMIT = 16


def broadcast(shapes: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    distinct = set(shapes)
    if len(distinct) <= 1:
        return distinct.pop() if distinct else ()
    return tuple(np.broadcast_shapes(*distinct))


class Algebra:
    """Makes canonical, interned nodes. One per derivation; its nodes do not mix with
    another algebra's."""

    def __init__(self) -> None:
        self._table: dict[tuple[Any, ...], Expr] = {}
        self.zero = self.num(0.0)
        self.one = self.num(1.0)
        self.minus_one = self.num(-1.0)

    # -- leaves -------------------------------------------------------------------
    def _intern(self, kind: str, value: Any, args: tuple[Expr, ...], exps: tuple[Any, ...],
                shape: tuple[int, ...]) -> Expr:
        key = (kind, _frozen(value), tuple(a.id for a in args),
               tuple(e.id if isinstance(e, Expr) else e for e in exps), shape)
        node = self._table.get(key)
        if node is None:
            node = Expr(kind, value, args, exps, shape, len(self._table))
            self._table[key] = node
        return node

    def num(self, value: float) -> Expr:
        value = float(value)
        if value == 0.0:
            value = 0.0  # one zero, not two
        return self._intern(NUM, value, (), (), ())

    def var(self, name: str, shape: tuple[int, ...] = ()) -> Expr:
        return self._intern(VAR, name, (), (), shape)

    def symbol(self, value: float) -> Expr | None:
        """The named form of a number that is exactly one (pi, pi - 1, 1/log(5),
        2/sqrt(pi)); None for any other number."""
        if not math.isfinite(value) or value.is_integer():
            return None
        make = _named_values().get(value)
        return None if make is None else make(self)

    def named_constant(self, name: str) -> Expr:
        return self._intern(VAR, name, (), (), ())

    def call(self, op: str, params: tuple[tuple[str, Any], ...], args: tuple[Expr, ...],
             shape: tuple[int, ...]) -> Expr:
        """op(args), folded to a number when every argument is one and the number is as
        short to write (exp(0) is 1, but log(2) stays log(2))."""
        value = _folded_call(op, params, args)
        if value is not None and (short_number(value) or len(args) > 1):
            return self.num(value)
        if op in ("abs", "sign") and not params and args[0].kind == PRODUCT:
            split = self._constant_factors(args[0])
            if split is not None:
                # abs(2*pi*x) = 2*pi*abs(x), sign(-2*pi*x) = -sign(x)
                coefficient, symbols, rest = split
                inner = self.raw_call(op, params, (rest,), shape)
                if op == "sign":
                    return self.mul(self.num(math.copysign(1.0, coefficient)), inner)
                return self.mul(self.num(abs(coefficient)), symbols, inner)
        return self.raw_call(op, params, args, shape)

    def _constant_factors(self, e: Expr) -> tuple[float, Expr, Expr] | None:
        """A product as its coefficient, its named constants (pi, with number powers:
        positive) and the rest, when there is a constant part and a rest."""
        constant = [k for k, (b, x) in enumerate(zip(e.args, e.exps, strict=True))
                    if is_symbol(b) and x.kind == NUM]
        if e.value == 1.0 and not constant:
            return None
        rest = [self.power(b, x) for k, (b, x) in enumerate(zip(e.args, e.exps, strict=True))
                if k not in constant]
        if not rest:
            return None
        symbols = self.mul(*(self.power(e.args[k], e.exps[k]) for k in constant))
        return float(e.value), symbols, self.mul(*rest)

    def raw_call(self, op: str, params: tuple[tuple[str, Any], ...], args: tuple[Expr, ...],
                 shape: tuple[int, ...]) -> Expr:
        return self._intern(CALL, (op, params), args, (), shape)

    # -- shape carriers: ones(S) and zeros(S) ------------------------------------
    def fit(self, e: Expr, shape: tuple[int, ...]) -> Expr:
        """e, made to have `shape` by broadcasting (written e*ones(S), or zeros(S))."""
        if e.shape == shape:
            return e
        if e.kind == NUM and e.value == 0.0:
            return self.raw_call("zeros", (("shape", shape),), (), shape)
        ones = self.raw_call("ones", (("shape", shape),), (), shape)
        if e.kind == NUM:
            return ones if e.value == 1.0 else self._intern(PRODUCT, e.value, (ones,),
                                                             (self.one,), shape)
        if e.kind == PRODUCT:
            bases, exps = (*e.args, ones), (*e.exps, self.one)
            return self._intern(PRODUCT, e.value, bases, exps, shape)
        return self._intern(PRODUCT, 1.0, (e, ones), (self.one, self.one), shape)

    # -- sums -------------------------------------------------------------------------
    def add(self, *terms: Expr) -> Expr:
        constant = 0.0
        coefs: dict[Expr, float] = {}
        scale: dict[Expr, float] = {}
        for t in terms:
            if t.kind == NUM:
                constant += t.value
            elif t.kind == SUM:
                constant += t.value
                for u, c in zip(t.args, t.exps, strict=True):
                    constant += self._collect(coefs, scale, u, c)
            elif not _is_carrier(t, "zeros"):
                constant += self._collect(coefs, scale, t, 1.0)
        return self._sum(constant, coefs, scale)

    def _collect(self, coefs: dict[Expr, float], scale: dict[Expr, float], u: Expr,
                 c: float) -> float:
        """Adds the term c*u to coefs; returns what it adds to the constant term."""
        if u.kind == PRODUCT and (u.value != 1.0 or any(_is_carrier(b) for b in u.args)):
            c *= u.value
            u = self.mul(*(self.power(b, e) for b, e in zip(u.args, u.exps, strict=True)))
            if u.kind == NUM:  # only carriers were left
                c *= u.value
                u = self.one
            if u.kind == SUM:  # c*(a + b) inside a sum: distributed, so terms can cancel
                for term, k in zip(u.args, u.exps, strict=True):
                    self._add_term(coefs, scale, term, c * k)
                return c * u.value
        self._add_term(coefs, scale, u, c)
        return 0.0

    @staticmethod
    def _add_term(coefs: dict[Expr, float], scale: dict[Expr, float], u: Expr, c: float
                  ) -> None:
        coefs[u] = coefs.get(u, 0.0) + c
        scale[u] = max(scale.get(u, 0.0), abs(c))

    def _sum(self, constant: float, coefs: dict[Expr, float], scale: dict[Expr, float]
             ) -> Expr:
        if self.one in coefs:
            constant += coefs.pop(self.one)
        items = [(u, c) for u, c in coefs.items()
                 if abs(c) > CANCEL_TOLERANCE * scale[u] and c != 0.0]
        items = self._merge_literals(self._merge_wheres(items))
        if not items:
            return self.num(constant)
        items.sort(key=lambda item: term_order(item[0]))
        if constant == 0.0 and len(items) == 1:
            return self.scaled(items[0][0], items[0][1])
        shape = broadcast([u.shape for u, _ in items])
        return self._intern(SUM, constant, tuple(u for u, _ in items),
                            tuple(c for _, c in items), shape)

    def scaled(self, u: Expr, c: float) -> Expr:
        """c*u for a canonical u, without re-collecting it."""
        if c == 1.0:
            return u
        if c == 0.0:
            return self.zero
        if u.kind == NUM:
            return self.num(c * u.value)
        if u.kind == PRODUCT:
            return self._intern(PRODUCT, c * u.value, u.args, u.exps, u.shape)
        return self._intern(PRODUCT, c, (u,), (self.one,), u.shape)

    def _merge_wheres(self, items: list[tuple[Expr, float]]) -> list[tuple[Expr, float]]:
        """c1*where(q, a, b) + c2*where(q, d, e) = where(q, c1*a + c2*d, c1*b + c2*e)."""
        by_condition: dict[Expr, list[tuple[Expr, float]]] = {}
        for u, c in items:
            if _is_where(u):
                by_condition.setdefault(u.args[0], []).append((u, c))
        if not any(len(group) > 1 for group in by_condition.values()):
            return items
        merged = [(u, c) for u, c in items
                  if not (_is_where(u) and len(by_condition[u.args[0]]) > 1)]
        for condition, group in by_condition.items():
            if len(group) > 1:
                then = self.add(*(self.scaled(u.args[1], c) for u, c in group))
                other = self.add(*(self.scaled(u.args[2], c) for u, c in group))
                merged.append((self.where(condition, then, other, group[0][0]), 1.0))
        return merged

    def _merge_literals(self, items: list[tuple[Expr, float]]) -> list[tuple[Expr, float]]:
        """Array literals of one shape add elementwise: [a, b] + [c, d] = [a + c, b + d]."""
        literals = [(u, c) for u, c in items if _is_literal(u)]
        if len(literals) < 2 or len({u.shape for u, _ in literals}) != 1:
            return items
        rest = [(u, c) for u, c in items if not _is_literal(u)]
        first = literals[0][0]
        elements = [self.add(*(self.scaled(u.args[k], c) for u, c in literals))
                    for k in range(len(first.args))]
        return [*rest, (self.literal(elements, first.shape), 1.0)]

    def literal(self, elements: list[Expr], shape: tuple[int, ...]) -> Expr:
        """[e0, e1, ...]: an array written out, its elements fitted to one row's shape."""
        row = shape[1:]
        fitted = tuple(self.fit(e, row) if e.shape != row else e for e in elements)
        return self.raw_call("stack", (("axis", 0),), fitted, shape)

    # -- products -----------------------------------------------------------------------
    def mul(self, *factors: Expr) -> Expr:
        coef = 1.0
        bases: dict[Expr, Expr] = {}
        for f in factors:
            if f.kind == NUM:
                coef *= f.value
            elif f.kind == PRODUCT and len(f.args) > FLATTEN_LIMIT:
                # a long product joins as one factor: a chain of n factors built one at
                # a time costs n, not n^2 (a 100,000-deep sin(sin(...)) has one)
                coef *= f.value
                self._accumulate(bases, self._intern(PRODUCT, 1.0, f.args, f.exps, f.shape),
                                 self.one)
            elif f.kind == PRODUCT:
                coef *= f.value
                for b, e in zip(f.args, f.exps, strict=True):
                    self._accumulate(bases, b, e)
            elif _is_carrier(f, "zeros"):
                coef = 0.0
            else:
                self._accumulate(bases, f, self.one)
        return self._product(coef, bases)

    def _accumulate(self, bases: dict[Expr, Expr], b: Expr, e: Expr) -> None:
        if _is_carrier(b, "ones"):
            return
        bases[b] = self.add(bases[b], e) if b in bases else e

    def _product(self, coef: float, bases: dict[Expr, Expr]) -> Expr:
        if coef == 0.0:
            return self.zero
        items = [(b, e) for b, e in bases.items() if not (e.kind == NUM and e.value == 0.0)]
        if not items:
            return self.num(coef)
        if len(items) == 1 and items[0][1] is self.one:
            return self.scaled(items[0][0], coef)
        for k, (b, e) in enumerate(items):
            # x*where(q, 1, 0) is where(q, x, 0): the product goes into the branches
            if e is self.one and _is_where(b) and b.args[1].kind == NUM \
                    and b.args[2].kind == NUM:
                rest = self._product(coef, dict(items[:k] + items[k + 1:]))
                return self.where(b.args[0], self.mul(rest, b.args[1]),
                                  self.mul(rest, b.args[2]), b)
        items.sort(key=lambda item: factor_order(item[0]))
        shape = broadcast([b.shape for b, _ in items] + [e.shape for _, e in items])
        return self._intern(PRODUCT, coef, tuple(b for b, _ in items),
                            tuple(e for _, e in items), shape)

    def power(self, b: Expr, e: Expr) -> Expr:
        if e.kind == NUM:
            k = e.value
            if k == 0.0:
                return self.one
            if k == 1.0:
                return b
            if b.kind == NUM:
                with np.errstate(all="ignore"):
                    folded = float(np.power(b.value, k))
                if not math.isnan(folded):
                    return self.num(folded)
            if b.kind == PRODUCT and k.is_integer():
                bases: dict[Expr, Expr] = {}
                for base, exponent in zip(b.args, b.exps, strict=True):
                    self._accumulate(bases, base, self.mul(exponent, e))
                return self._product(float(b.value) ** k, bases)
        if b.kind == NUM and b.value == 1.0:
            return self.one
        return self._product(1.0, {b: e})

    def neg(self, e: Expr) -> Expr:
        return self.mul(self.minus_one, e)

    # -- calls ------------------------------------------------------------------------
    def where(self, condition: Expr, then: Expr, other: Expr, like: Expr | None = None
              ) -> Expr:
        """where(condition, then, other), resolved where it can be."""
        if condition.kind == NUM:
            return then if condition.value else other
        if then is other:
            return then
        # inside a branch the condition's own where is already decided
        if _is_where(then) and then.args[0] is condition:
            then = then.args[1]
        if _is_where(other) and other.args[0] is condition:
            other = other.args[2]
        pinned = _pinned_variable(condition)
        if pinned is not None:
            then = substitute(self, then, {pinned[0]: pinned[1]})
        if then is other:
            return then
        params = like.value[1] if like is not None else ()
        shape = broadcast([condition.shape, then.shape, other.shape])
        return self.raw_call("where", params, (condition, then, other), shape)

    def compare(self, op: str, params: tuple[tuple[str, Any], ...], a: Expr, b: Expr,
                shape: tuple[int, ...], decide: Callable[[float, float], bool]) -> Expr:
        # sin(1) > 0 is decided, as the reader decides it for a constant condition
        left, right = _known_value(a), _known_value(b)
        if left is not None and right is not None:
            return self.num(1.0 if decide(left, right) else 0.0)
        return self.raw_call(op, params, (a, b), shape)


def _folded_call(op: str, params: tuple[tuple[str, Any], ...], args: tuple[Expr, ...]
                 ) -> float | None:
    """The number op(args) is, when every argument is a number (or pi, e) and op is
    elementwise."""
    definition = OPS.get(op)
    if (definition is None or not args
            or definition.kind not in ("elementwise", "binary") or not definition.public):
        return None
    values = [_number_or_symbol(a) for a in args]
    if any(v is None for v in values):
        return None
    with np.errstate(all="ignore"):
        return float(np.asarray(definition.forward(
            *(np.array(v) for v in values), **{**dict(definition.params), **dict(params)})))


def _named_numbers() -> list[Callable[[Algebra], Expr]]:
    """Numbers the ops' rules compute from named constants, and their names: the value
    of each is the float those rules get (pi - 1.0, 1/math.log(5), 2/math.sqrt(pi))."""
    def shifted(name: str, k: float) -> Callable[[Algebra], Expr]:
        return lambda a: a.add(a.named_constant(name), a.num(k))

    def scaled(name: str, k: float) -> Callable[[Algebra], Expr]:
        return lambda a: a.mul(a.named_constant(name), a.num(k))

    def logarithm(n: int, power: float) -> Callable[[Algebra], Expr]:
        return lambda a: a.power(a.call("log", (), (a.num(n),), ()), a.num(power))

    def root(of: Callable[[Algebra], Expr], k: float, power: float
             ) -> Callable[[Algebra], Expr]:
        return lambda a: a.mul(a.num(k), a.power(a.call("sqrt", (), (of(a),), ()),
                                                 a.num(power)))

    made: list[Callable[[Algebra], Expr]] = []
    for name in SYMBOLS:
        made += [shifted(name, 0.0)]
        made += [shifted(name, k) for k in (1.0, 2.0, -1.0, -2.0)]
        made += [scaled(name, k) for k in (2.0, 0.5, 3.0, 4.0, 0.25)]
    made += [logarithm(n, power) for n in range(2, 11) for power in (1.0, -1.0)]
    pi = scaled("pi", 1.0)
    made += [root(pi, 1.0, -1.0), root(pi, 2.0, -1.0), root(pi, 1.0, 1.0),
             root(scaled("pi", 2.0), 1.0, -1.0), root(lambda a: a.num(2.0), 1.0, 1.0)]
    return made


def _evaluated(e: Expr) -> float | None:
    """The number a small constant formula is, worked out as its printed text reads."""
    from gradcli.formula.printer import to_text
    from gradcli.language.program import parse

    with np.errstate(all="ignore"):
        value = float(parse(to_text(e)).evaluate({}).data)
    return value if math.isfinite(value) else None


_NAMED: dict[float, Callable[[Algebra], Expr]] = {}


def _named_values() -> dict[float, Callable[[Algebra], Expr]]:
    """Each named number's value, worked out once per process."""
    if not _NAMED:
        algebra = Algebra()
        for make in _named_numbers():
            number = _evaluated(make(algebra))
            if number is not None:
                _NAMED.setdefault(number, make)
    return _NAMED


def _number_or_symbol(e: Expr) -> float | None:
    if e.kind == NUM:
        return float(e.value)
    if is_symbol(e):
        return SYMBOLS[e.value]
    return None


def is_symbol(e: Expr) -> bool:
    """Whether e is a constant the language names (pi, e), kept by name in formulas."""
    return e.kind == VAR and e.shape == () and e.value in SYMBOLS


def _known_value(e: Expr) -> float | None:
    """The number a constant node is: a number, or a call on numbers kept as a call
    because it is shorter to write (sin(1))."""
    if e.kind == NUM or is_symbol(e):
        return _number_or_symbol(e)
    if e.kind == CALL:
        return _folded_call(e.value[0], e.value[1], e.args)
    return None


def short_number(value: float) -> bool:
    """Whether a number is as short to write as a call would be."""
    return not math.isfinite(value) or float(value).is_integer() or len(repr(value)) <= 6


def _frozen(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.tobytes())
    if isinstance(value, (tuple, list)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def _is_carrier(e: Expr, which: str | None = None) -> bool:
    return e.kind == CALL and e.value[0] in ((which,) if which else ("ones", "zeros")) \
        and not e.args


def _is_where(e: Expr) -> bool:
    return e.kind == CALL and e.value[0] == "where"


def _is_literal(e: Expr) -> bool:
    return e.kind == CALL and e.value[0] == "stack" and e.value[1] == (("axis", 0),)


def _pinned_variable(condition: Expr) -> tuple[Expr, Expr] | None:
    """For `x == c` (a variable and a number, scalar): (x, c)."""
    if condition.kind == CALL and condition.value[0] == "eq":
        a, b = condition.args
        if a.kind == VAR and b.kind == NUM and a.shape == ():
            return a, b
        if b.kind == VAR and a.kind == NUM and b.shape == ():
            return b, a
    return None


# -- rebuilding -------------------------------------------------------------------------
#: per kind of CALL, how the algebra remakes it from new arguments
Remake = Callable[[Algebra, Expr, tuple[Expr, ...]], Expr]


def _remake_call(algebra: Algebra, node: Expr, args: tuple[Expr, ...]) -> Expr:
    op, params = node.value
    if op == "where":
        return algebra.where(args[0], args[1], args[2], node)
    if op in COMPARISONS:
        return algebra.compare(op, params, args[0], args[1], node.shape, COMPARISONS[op])
    if op == "stack" and params == (("axis", 0),):
        return algebra.literal(list(args), node.shape)
    return algebra.call(op, params, args, node.shape)


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
}


def rebuild(algebra: Algebra, root: Expr, leaf: Callable[[Expr], Expr | None]) -> Expr:
    """`root` remade bottom-up through the algebra's constructors, with `leaf(node)`
    replacing any node for which it returns something (an explicit-stack walk)."""
    done: dict[Expr, Expr] = {}
    stack: list[Expr] = [root]
    while stack:
        node = stack[-1]
        if node in done:
            stack.pop()
            continue
        replaced = leaf(node)
        if replaced is not None:
            done[node] = replaced
            stack.pop()
            continue
        children = [*node.args, *(e for e in node.exps if isinstance(e, Expr))]
        pending = [c for c in children if c not in done]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        args = tuple(done[a] for a in node.args)
        if node.kind in (NUM, VAR):
            done[node] = node
        elif node.kind == SUM:
            done[node] = algebra.add(algebra.num(node.value),
                                     *(algebra.mul(algebra.num(c), a)
                                       for a, c in zip(args, node.exps, strict=True)))
        elif node.kind == PRODUCT:
            if any(_is_carrier(a) for a in args):  # a fitted value keeps its shape
                done[node] = node
            else:
                done[node] = algebra.mul(algebra.num(node.value),
                                         *(algebra.power(a, done[e])
                                           for a, e in zip(args, node.exps, strict=True)))
        else:
            done[node] = _remake_call(algebra, node, args)
    return done[root]


def simplify(algebra: Algebra, root: Expr) -> Expr:
    """The canonical form of `root` (its own node, when it already is one)."""
    return rebuild(algebra, root, lambda node: None)


def substitute(algebra: Algebra, root: Expr, values: dict[Expr, Expr]) -> Expr:
    """`root` with each key node replaced by its value, simplified."""
    if not values:
        return root
    return rebuild(algebra, root, values.get)
