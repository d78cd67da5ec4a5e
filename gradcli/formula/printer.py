"""Writing a formula as text in gradcli's own language, or as LaTeX.

Parentheses are the fewest the language's precedence needs (the levels below
mirror grammar/gradcli.lark: + - | * / @ | unary - | ^ | calls and atoms), and
spaces go around binary + and - only. Each op prints as its op-table entry
says (`printed`, a template such as "{0}@{1}"), or as the call `name(args)`
when it says nothing, so a new op prints with no edit here.

A sub-expression used more than once that is not tiny becomes a named step
(`a = exp(sin(x)); a*cos(x)`), the program form the language already has, so
a printed formula stays as small as the shared graph it comes from, and never
grows exponentially with the order of the derivative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from gradcli.engine.op import OPS
from gradcli.errors import FormulaError
from gradcli.formula.expr import CALL, NUM, PRODUCT, SUM, VAR, Expr

# precedence levels, loosest to tightest (grammar/gradcli.lark)
COMPARE, SUMS, PRODUCTS, SIGNED, POWER, ATOM = range(6)
INFIX_LEVEL = {"+": SUMS, "-": SUMS, "*": PRODUCTS, "/": PRODUCTS, "@": PRODUCTS, "^": POWER,
               "<": COMPARE, "<=": COMPARE, ">": COMPARE, ">=": COMPARE, "==": COMPARE,
               "!=": COMPARE}
#: a repeated sub-expression is named as a step once its text is longer than this
STEP_MIN_LENGTH = 7
#: a sub-expression whose text is longer than this is a named step even when used once:
#: the text of a deep nesting is then written in pieces, in time linear in its depth
STEP_MAX_LENGTH = 1000
#: names the language reserves (constants) besides the functions and variables
CONSTANT_NAMES = {"pi", "e", "inf", "nan"}

Piece = tuple[str, int]
COMPARISON_OPS = ("lt", "le", "gt", "ge", "eq", "ne")


def rational(value: float) -> tuple[int, int] | None:
    """value as p/q with a small q, when that is exact in floating point as p*(1/q), which
    is how a formula's p/q reads back (a quotient is a product with a reciprocal)."""
    if not math.isfinite(value):
        return None
    for q in range(1, 101):
        p = round(value * q)
        if abs(p) < 10**15 and p * (1.0 / q) == value:
            return p, q
    return None


def step_names(reserved: set[str]) -> Iterator[str]:
    """a, b, c, ... then a1, b1, ...: never a variable, a function or a constant."""
    letters = "abcdfghkmnpqrstuvw"
    round_ = 0
    while True:
        suffix = str(round_) if round_ else ""
        for letter in letters:
            name = letter + suffix
            if name not in reserved and name not in OPS and name not in CONSTANT_NAMES:
                yield name
        round_ += 1


def use_counts(root: Expr) -> tuple[list[Expr], dict[Expr, int]]:
    """Every node under root, children before parents, and how many parents use each."""
    counts: dict[Expr, int] = {root: 1}
    order: list[Expr] = []
    done: set[Expr] = set()
    expanded: set[Expr] = set()
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if node in done:
            continue
        if finished:
            done.add(node)
            order.append(node)
            continue
        stack.append((node, True))
        first = node not in expanded
        expanded.add(node)
        for child in children(node):
            if first:
                counts[child] = counts.get(child, 0) + 1
            if child not in done:
                stack.append((child, False))
    return order, counts


def inlined_products(order: list[Expr], counts: dict[Expr, int]) -> set[Expr]:
    """Products written inside the one product that has them as a factor: used once,
    with coefficient 1 and no denominator, so their factors join the outer ones."""
    inlined: set[Expr] = set()
    for node in order:
        if node.kind != PRODUCT:
            continue
        for base, exponent in zip(node.args, node.exps, strict=True):
            if (exponent.kind == NUM and exponent.value == 1.0 and base.kind == PRODUCT
                    and counts[base] == 1 and base.value == 1.0
                    and not any(e.kind == NUM and e.value < 0 for e in base.exps)):
                inlined.add(base)
    return inlined


def children(node: Expr) -> list[Expr]:
    return [*node.args, *(e for e in node.exps if isinstance(e, Expr))]


class TextWriter:
    """gradcli's language."""

    step_separator = "; "
    #: a repeated sub-expression becomes a step once its own text is longer than this
    step_min_length = STEP_MIN_LENGTH

    def __init__(self, reserved: Iterable[str] = ()):
        self.reserved = set(reserved)

    # -- the whole formula ------------------------------------------------------------------
    def write(self, root: Expr) -> str:
        steps, text = self.steps(root)
        if root.kind == CALL and root.value[0] in COMPARISON_OPS:
            text = self.indicator(text)
        return self.step_separator.join([*(self.assignment(n, t) for n, t in steps), text])

    def steps(self, root: Expr) -> tuple[list[tuple[str, str]], str]:
        order, counts = use_counts(root)
        names = step_names(self.reserved)
        pieces: dict[Expr, Piece] = {}
        self.named: set[Expr] = set()
        self.inlined = inlined_products(order, counts)
        steps: list[tuple[str, str]] = []
        for node in order:
            if node in self.inlined:
                continue  # written as part of the one product it is a factor of
            text, level = self.piece(node, pieces)
            if (node is not root and node.kind in (SUM, PRODUCT, CALL) and level != COMPARE
                    and ((counts[node] > 1 and len(text) > self.step_min_length)
                         or len(text) > STEP_MAX_LENGTH)):
                name = next(names)
                steps.append((name, text))
                pieces[node] = (self.name(name), ATOM)
                self.named.add(node)
            else:
                pieces[node] = (text, level)
        return steps, pieces[root][0]

    def assignment(self, name: str, text: str) -> str:
        return f"{name} = {text}"

    def piece(self, node: Expr, pieces: dict[Expr, Piece]) -> Piece:
        if node.kind == NUM:
            return self.number(node.value)
        if node.kind == VAR:
            return self.name(node.value), ATOM
        if node.kind == SUM:
            return self.sum(node, pieces)
        if node.kind == PRODUCT:
            return self.signed_product(node.value, *self.factors(node), pieces)
        return self.call(node, pieces)

    # -- numbers and names ------------------------------------------------------------------
    def name(self, name: str) -> str:
        return name

    def number(self, value: float) -> Piece:
        if value < 0 or (value == 0 and math.copysign(1.0, value) < 0):
            text, level = self.number(-value)
            return "-" + self.wrap((text, level), SIGNED), SIGNED
        if math.isnan(value):
            return "nan", ATOM
        if math.isinf(value):
            return "inf", ATOM
        if value.is_integer() and value < 1e15:
            return str(int(value)), ATOM
        text = repr(value)
        fraction = rational(value)
        if fraction is not None and len(text) > 4:
            return self.fraction(fraction[0], fraction[1]), PRODUCTS
        return text, ATOM

    def fraction(self, p: int, q: int) -> str:
        return f"{p}/{q}"

    def wrap(self, piece: Piece, level: int) -> str:
        text, own = piece
        if own == COMPARE:  # a comparison is a value only inside a call
            return self.indicator(text)
        return text if own >= level else self.parens(text)

    def indicator(self, comparison: str) -> str:
        return f"where({comparison}, 1, 0)"

    def parens(self, text: str) -> str:
        return f"({text})"

    # -- sums and products ---------------------------------------------------------------------
    def sum(self, node: Expr, pieces: dict[Expr, Piece]) -> Piece:
        parts: list[tuple[bool, str]] = []
        for u, c in zip(node.args, node.exps, strict=True):
            if u.kind == PRODUCT and u not in self.named:
                text, _ = self.product(abs(c) * u.value, *self.factors(u), pieces)
            else:
                text, _ = self.product(abs(c), (u,), (None,), pieces)
            parts.append((c < 0, text))
        if node.value != 0:
            parts.append((node.value < 0, self.number(abs(node.value))[0]))
        # lead with a positive term where there is one: 1 - x^2, not -x^2 + 1
        lead = next((k for k, (negative, _) in enumerate(parts) if not negative), 0)
        parts.insert(0, parts.pop(lead))
        negative, text = parts[0]
        out = [("-" if negative else "") + text]
        for negative, text in parts[1:]:
            out.append((" - " if negative else " + ") + text)
        return "".join(out), SUMS

    def factors(self, node: Expr) -> tuple[tuple[Expr, ...], tuple[Any, ...]]:
        """A product's bases and exponents, with the long products inside it spread out
        (the simplifier keeps a long product as one factor; the text needs no parentheses)."""
        if not any(b in self.inlined for b in node.args):
            return node.args, node.exps
        bases: list[Expr] = []
        exps: list[Any] = []
        stack = [(node.args, node.exps, 0)]
        while stack:
            args, powers, k = stack.pop()
            if k == len(args):
                continue
            stack.append((args, powers, k + 1))
            if args[k] in self.inlined:
                stack.append((args[k].args, args[k].exps, 0))
            else:
                bases.append(args[k])
                exps.append(powers[k])
        return tuple(bases), tuple(exps)

    def signed_product(self, coef: float, bases: tuple[Expr, ...], exps: tuple[Any, ...],
                       pieces: dict[Expr, Piece]) -> Piece:
        text, level = self.product(abs(coef), bases, exps, pieces)
        if coef < 0:  # -(x + 1): a sum under the sign keeps its parentheses
            return "-" + self.wrap((text, level), PRODUCTS), \
                PRODUCTS if level == PRODUCTS else SIGNED
        return text, level

    def product(self, coef: float, bases: tuple[Expr, ...], exps: tuple[Any, ...],
                pieces: dict[Expr, Piece]) -> Piece:
        """coef * prod(base^exp) for coef >= 0; an exp of None means 1."""
        numerator: list[Piece] = []
        denominator: list[Piece] = []
        sum_below = any(b.kind == SUM and e is not None and e.kind == NUM and e.value == -1
                        for b, e in zip(bases, exps, strict=True))
        for base, exponent in zip(bases, exps, strict=True):
            if exponent is None or (exponent.kind == NUM and exponent.value == 1.0):
                numerator.append(pieces[base])
            elif exponent.kind == NUM and exponent.value == -1.0:
                denominator.append(pieces[base])
            elif exponent.kind == NUM and exponent.value < 0:
                denominator.append(self.power(pieces[base], self.number(-exponent.value)))
            else:
                numerator.append(self.power(pieces[base], pieces[exponent]))
        fraction = rational(coef) if coef != 0 else (0, 1)
        # x/2 rather than 0.5*x; but 0.5/sqrt(x), where there is no numerator to divide
        if fraction is not None and (fraction[1] == 1 or len(repr(coef)) > 4 or numerator):
            p, q = fraction
            if p != 1 or not numerator:
                numerator.insert(0, self.number(float(p)))
            if q != 1 and sum_below:
                # x/2/(x + 1): the number stays apart from the sum below, as in the canonical form
                return self.quotient([self.quotient(numerator, [self.number(float(q))])],
                                     denominator)
            if q != 1:
                denominator.insert(0, self.number(float(q)))
        elif coef != 1 or not numerator:
            numerator.insert(0, self.number(coef))
        return self.quotient(numerator, denominator)

    def quotient(self, numerator: list[Piece], denominator: list[Piece]) -> Piece:
        top = self.join_factors(numerator)
        if not denominator:
            return top
        bottom = self.join_factors(denominator)
        return f"{self.wrap(top, PRODUCTS)}/{self.wrap(bottom, SIGNED)}", PRODUCTS

    def join_factors(self, factors: list[Piece]) -> Piece:
        if len(factors) == 1:
            return factors[0]
        return "*".join(self.wrap(f, SIGNED) for f in factors), PRODUCTS

    def power(self, base: Piece, exponent: Piece) -> Piece:
        return f"{self.wrap(base, ATOM)}^{self.wrap(exponent, SIGNED)}", POWER

    # -- calls -------------------------------------------------------------------------------
    def call(self, node: Expr, pieces: dict[Expr, Piece]) -> Piece:
        op_name, params = node.value
        args = [pieces[a] for a in node.args]
        if op_name in ("ones", "zeros") and not node.args:
            return self.carrier(op_name, dict(params)["shape"]), ATOM
        op = OPS.get(op_name)
        if op is None:
            raise FormulaError(f"no op named {op_name!r} to print")
        template = op.printed
        # parameters a template writes itself ({index}) are not keywords
        given = self.given_params(op_name, tuple(
            (k, v) for k, v in params if template is None or "{" + k + "}" not in template))
        if template is not None:
            form = self.template(template, args, dict(params), given)
            if form is not None:
                return form
        return self.function(op_name, args, given), ATOM

    def given_params(self, op_name: str, params: tuple[tuple[str, Any], ...]
                     ) -> list[tuple[str, str]]:
        defaults = dict(OPS[op_name].params)
        given = []
        for key, value in params:
            if key in defaults and _same(value, defaults[key]):
                continue
            given.append((key, self.param(key, value)))
        return given

    def param(self, key: str, value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, (tuple, list)):
            items = [self.param(key, v) for v in value]
            if key == "axis" and len(items) == 1:
                return items[0]
            if key == "axis":
                raise FormulaError("a sum over several axes at once cannot be written yet")
            return "[" + ", ".join(items) + "]"
        if isinstance(value, (int, float)):
            return self.number(float(value))[0]
        raise FormulaError(f"cannot write the parameter {key}={value!r} in a formula")

    def template(self, template: str, args: list[Piece], params: dict[str, Any],
                 given: list[tuple[str, str]]) -> Piece | None:
        if template == "[{*}]":
            if given:
                return None
            return "[" + ", ".join(a[0] for a in args) + "]", ATOM
        if template.startswith("{0}[") and len(args) == 1:
            return f"{self.wrap(args[0], ATOM)}[{self.index(params['index'])}]", ATOM
        if template.endswith("{0}") and len(args) == 1:
            prefix = template[:-3]
            return prefix + self.wrap(args[0], SIGNED), SIGNED
        if template.startswith("{0}") and template.endswith("{1}") and len(args) == 2:
            symbol = template[3:-3].strip()
            level = INFIX_LEVEL[symbol]
            return self.infix(symbol, level, args[0], args[1]), level
        return None

    def infix(self, symbol: str, level: int, left: Piece, right: Piece) -> str:
        spaced = f" {symbol} " if symbol in ("+", "-") else symbol
        if level == COMPARE:  # sum COMPARE sum
            return f"{self.wrap(left, SUMS)}{self.relation(symbol)}{self.wrap(right, SUMS)}"
        if symbol == "^":  # right-associative, its base an atom
            return self.power(left, right)[0]
        return f"{self.wrap(left, level)}{spaced}{self.wrap(right, level + 1)}"

    def relation(self, symbol: str) -> str:
        return symbol

    def index(self, index: tuple[Any, ...]) -> str:
        parts = []
        for item in index:
            if isinstance(item, int):
                parts.append(str(item))
            elif isinstance(item, slice):
                bounds = ["" if b is None else str(b) for b in (item.start, item.stop)]
                text = ":".join(bounds)
                parts.append(text if item.step is None else f"{text}:{item.step}")
            else:
                raise FormulaError("an index by arrays cannot be written in a formula yet")
        return ", ".join(parts)

    def function(self, name: str, args: list[Piece], given: list[tuple[str, str]]) -> str:
        texts = [self.argument(a) for a in args] + [f"{k}={v}" for k, v in given]
        return f"{name}({', '.join(texts)})"

    def argument(self, piece: Piece) -> str:
        return piece[0]

    def carrier(self, op_name: str, shape: tuple[int, ...]) -> str:
        return f"{op_name}({', '.join(str(s) for s in shape)})"


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, tuple) and len(value) == 1 and not isinstance(default, tuple):
        value = value[0]
    if value is None or default is None:
        return value is default
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def to_text(root: Expr, reserved: Iterable[str] = ()) -> str:
    return TextWriter(reserved).write(root)


def _expr_repr(self: Expr) -> str:
    return f"<{to_text(self)}>"


setattr(Expr, "__repr__", _expr_repr)
