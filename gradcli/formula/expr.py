"""The expression a formula is made of: immutable, interned nodes.

Five kinds of node cover every formula:

* NUM, a number; VAR, a variable of the expression;
* SUM, `value + sum(coefs[i] * args[i])` (value is the constant term);
* PRODUCT, `value * prod(args[i] ^ exps[i])` (value is the numeric coefficient);
* CALL, an op of the table applied to `args`, with its parameters.

Nodes are made only through an `Algebra` (gradcli.formula.simplify), which
interns them: two equal formulas are the same object, so a shared
sub-expression is shared in memory, equality is identity, and a formula never
grows by copying. Each node carries its shape (formulas broadcast like the
engine's values) and a deterministic structural hash that orders terms and
factors the same way in every run.
"""

from __future__ import annotations

import hashlib
from typing import Any

NUM, VAR, SUM, PRODUCT, CALL = "num", "var", "sum", "product", "call"
#: the constants the language names, kept by name in formulas (gradcli.formula.simplify)
SYMBOL_NAMES = ("pi", "e")
#: the longest ordering name a node keeps
NAME_HINT = 40


class Expr:
    """One interned node. Compare with `is`; never build one directly."""

    __slots__ = ("args", "degree", "exps", "factor_key", "hash", "id", "kind", "name", "shape",
                 "term_key", "value")

    def __init__(self, kind: str, value: Any, args: tuple[Expr, ...], exps: tuple[Any, ...],
                 shape: tuple[int, ...], ident: int):
        self.kind = kind
        self.value = value
        self.args = args
        #: SUM: the numeric coefficient of each term; PRODUCT: the exponent (an Expr) of
        #: each factor; otherwise empty
        self.exps = exps
        self.shape = shape
        self.id = ident
        self.hash = _structural_hash(kind, value, args, exps)
        #: for ordering: the name a person reads first, and the polynomial degree
        self.name, self.degree = _order_hints(kind, value, args, exps)
        #: the orders of factor_order and term_order, worked out once
        # named constants (pi) lead a product, as numbers do: 2*pi*x
        rank = -1 if kind == VAR and value in SYMBOL_NAMES and not shape else \
            {VAR: 0, CALL: 1, PRODUCT: 1, SUM: 2, NUM: 3}[kind]
        self.factor_key = (rank, self.name, self.hash)
        self.term_key = (-self.degree, self.name, self.hash)

    @property
    def is_number(self) -> bool:
        return self.kind == NUM

    # __repr__ (the formula as text) is attached by gradcli.formula.printer, which
    # imports this module: imports between the two point one way


def _structural_hash(kind: str, value: Any, args: tuple[Expr, ...], exps: tuple[Any, ...]
                     ) -> int:
    parts = [kind, repr(value)]
    parts += [str(a.hash) for a in args]
    parts += [str(e.hash) if isinstance(e, Expr) else repr(e) for e in exps]
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _order_hints(kind: str, value: Any, args: tuple[Expr, ...], exps: tuple[Any, ...]
                 ) -> tuple[str, float]:
    if kind == NUM:
        return "", 0.0
    if kind == VAR:
        return str(value), 1.0
    if kind == CALL:
        # cut short: a name only orders terms, and a deep nesting must not copy it per level
        return ((args[0].name if args else "") + "~" + str(value[0]))[:NAME_HINT], 0.0
    if kind == PRODUCT:
        degree = 0.0
        for base, exponent in zip(args, exps, strict=True):
            if exponent.kind == NUM:
                degree += base.degree * exponent.value
        return args[0].name, degree
    return args[0].name, max(a.degree for a in args)


def factor_order(e: Expr) -> tuple[int, str, int]:
    """How factors line up in a product: variables, then calls, then sums; by name."""
    return e.factor_key


def term_order(e: Expr) -> tuple[float, str, int]:
    """How terms line up in a sum: higher degree first, then by name."""
    return e.term_key
