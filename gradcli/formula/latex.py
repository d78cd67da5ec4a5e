"""Writing a formula as LaTeX (amsmath), from the same canonical form as the text.

Quotients are `\\frac`, `sqrt` is `\\sqrt`, `exp(u)` is `e^{u}`, the usual
functions are `\\sin`, `\\log`..., others `\\operatorname{name}`; a product is
written side by side, with `\\cdot` only between two numbers; `where` is a
`cases` block and an array a `bmatrix`. The result compiles inside any math
environment of a document that loads amsmath.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gradcli.formula.expr import Expr
from gradcli.formula.printer import ATOM, POWER, PRODUCTS, SIGNED, Piece, TextWriter

#: functions LaTeX has an operator for (gradcli name -> command)
OPERATORS = {"sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "sinh": r"\sinh",
             "cosh": r"\cosh", "tanh": r"\tanh", "asin": r"\arcsin", "acos": r"\arccos",
             "atan": r"\arctan", "log": r"\log", "exp": r"\exp", "max": r"\max",
             "min": r"\min"}
RELATIONS = {"<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq", "==": "=", "!=": r"\neq"}


class LatexWriter(TextWriter):
    step_separator = r";\quad "
    #: LaTeX spells the same sub-expression longer (x^{2} + 1 for x^2 + 1)
    step_min_length = 12

    def name(self, name: str) -> str:
        return latex_name(name)

    def number(self, value: float) -> Piece:
        text, level = super().number(value)
        if text.endswith("inf"):
            return text.replace("inf", r"\infty"), level
        if "e" in text and "nan" not in text:
            mantissa, _, exponent = text.partition("e")
            return rf"{mantissa} \times 10^{{{int(exponent)}}}", PRODUCTS
        if text == "nan":
            return r"\mathrm{NaN}", ATOM
        return text, level

    def fraction(self, p: int, q: int) -> str:
        return rf"\frac{{{p}}}{{{q}}}"

    def parens(self, text: str) -> str:
        return rf"\left({text}\right)"

    def indicator(self, comparison: str) -> str:
        return rf"[{comparison}]"

    def quotient(self, numerator: list[Piece], denominator: list[Piece]) -> Piece:
        top = self.join_factors(numerator)
        if not denominator:
            return top
        bottom = self.join_factors(denominator)
        return rf"\frac{{{top[0]}}}{{{bottom[0]}}}", ATOM

    def join_factors(self, factors: list[Piece]) -> Piece:
        if len(factors) == 1:
            return factors[0]
        out = self.wrap(factors[0], SIGNED)
        for factor in factors[1:]:
            text = self.wrap(factor, SIGNED)
            joiner = r" \cdot " if text[:1].isdigit() or text.startswith("-") else " "
            out += joiner + text
        return out, PRODUCTS

    def power(self, base: Piece, exponent: Piece) -> Piece:
        text, level = base
        if level < ATOM or text.startswith(r"\frac") or "^" in text:
            text = self.parens(text)
        return f"{text}^{{{exponent[0]}}}", POWER

    def function(self, name: str, args: list[Piece], given: list[tuple[str, str]]) -> str:
        texts = [a[0] for a in args]
        if name == "exp" and len(texts) == 1 and not given:
            return f"e^{{{texts[0]}}}"
        if name == "sqrt" and len(texts) == 1:
            return rf"\sqrt{{{texts[0]}}}"
        if name == "abs" and len(texts) == 1:
            return rf"\left|{texts[0]}\right|"
        if name == "where" and len(texts) == 3:
            return (rf"\begin{{cases}} {texts[1]} & \text{{if }} {texts[0]} \\ "
                    rf"{texts[2]} & \text{{otherwise}} \end{{cases}}")
        head = OPERATORS.get(name) or r"\operatorname{" + name.replace("_", r"\_") + "}"
        extra = [rf"\mathrm{{{k}}}={v}" for k, v in given]
        return head + "(" + ", ".join(texts + extra) + ")"

    def template(self, template: str, args: list[Piece], params: dict[str, Any],
                 given: list[tuple[str, str]]) -> Piece | None:
        if template == "[{*}]" and not given:
            return matrix_column([a[0] for a in args]), ATOM
        if template.startswith("{0}[") and len(args) == 1:
            return f"{self.wrap(args[0], ATOM)}_{{{self.index(params['index'])}}}", ATOM
        if template == "{0}@{1}":
            return f"{self.wrap(args[0], PRODUCTS)} {self.wrap(args[1], SIGNED)}", PRODUCTS
        return super().template(template, args, params, given)

    def relation(self, symbol: str) -> str:
        return f" {RELATIONS[symbol]} "

    def carrier(self, op_name: str, shape: tuple[int, ...]) -> str:
        symbol = r"\mathbf{1}" if op_name == "ones" else r"\mathbf{0}"
        return symbol + "_{" + r" \times ".join(str(s) for s in shape) + "}"


def latex_name(name: str) -> str:
    return name if len(name) == 1 else r"\mathrm{" + name.replace("_", r"\_") + "}"


def matrix_column(entries: list[str]) -> str:
    return r"\begin{bmatrix} " + r" \\ ".join(entries) + r" \end{bmatrix}"


def matrix(rows: list[list[str]]) -> str:
    body = r" \\ ".join(" & ".join(row) for row in rows)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def to_latex(root: Expr, reserved: Iterable[str] = ()) -> str:
    return LatexWriter(reserved).write(root)

