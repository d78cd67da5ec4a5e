"""The parser's inline callbacks: each grammar rule becomes one flat instruction.

Instructions are numbered in the order the parser reduces them, which is an
order where every operand comes before its use, so evaluating a program is a
single loop over a list. Each instruction keeps its source span, for node
labels and for carets under errors. Names are resolved here, at parse time:
functions against the op table (with their argument counts and keywords),
assigned names to the instruction that computed them, everything else to a
free variable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from gradcli.engine.op import OPS, OpDef
from gradcli.errors import (
    ArgumentError,
    NameConflictError,
    Span,
    SyntaxProblem,
    UnknownFunctionError,
)
from gradcli.language.parser import Token

CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}
#: reductions that, given several values, compare them elementwise instead: max(a, b)
#: is the larger of a and b (reducing along an axis needs the keyword, max(v, axis=0))
ELEMENTWISE_FORMS = {"max": "maximum", "min": "minimum"}
COMPARISONS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
COMPARISON_OPS = frozenset(COMPARISONS.values())


class Instruction:
    __slots__ = ("args", "keywords", "kind", "label", "op", "op_span", "span", "value")

    def __init__(self, kind: str, span: Span, op: str | None = None,
                 args: tuple[int, ...] = (), keywords: tuple[tuple[str, int], ...] = (),
                 value: Any = None, op_span: Span | None = None, label: str | None = None):
        self.kind = kind  # "const" | "var" | "op" | "index"
        self.span = span
        self.op = op
        self.args = args
        self.keywords = keywords
        self.value = value
        #: where a failure of this instruction is pointed at (the operator, or the call)
        self.op_span = op_span
        self.label = label


class Ref(NamedTuple):
    """A sub-expression: the instruction holding its value, and its source span."""

    reg: int
    span: Span


class Keyword(NamedTuple):
    name: str
    ref: Ref
    span: Span


class Parsed:
    __slots__ = ("assigned", "first_use", "free", "instructions", "outputs", "statements")

    def __init__(self, instructions: list[Instruction], outputs: list[Ref],
                 free: dict[str, int], first_use: dict[str, Span], assigned: dict[str, int],
                 statements: list[Any]):
        self.instructions = instructions
        self.outputs = outputs
        self.free = free
        self.first_use = first_use
        self.assigned = assigned
        self.statements = statements


#: NamedTuples made without their Python-level __new__ (which costs a call a field):
#: Refs and Spans are made for every token and every instruction
_make = tuple.__new__


def _tspan(token: Token) -> Span:
    return _make(Span, (token.start_pos, token.end_pos))


def _as_span(item: Ref | Token | Span) -> Span:
    if isinstance(item, Ref):
        return item.span
    return item if isinstance(item, Span) else _tspan(item)


def _join(first: Ref | Token | Span, last: Ref | Token | Span) -> Span:
    return _make(Span, (_as_span(first).start, _as_span(last).end))


def language_functions() -> Mapping[str, OpDef]:
    """Every function a user may call by name: the public entries of the op table, under
    their names and their aliases (ln for log).

    Read once per call in the source, so it is built once per size of the table (ops are
    only ever added) and handed out read-only."""
    if _FUNCTIONS[0] != len(OPS):
        functions = {}
        for name, op in OPS.items():
            if op.public:
                functions[name] = op
                for alias in op.aliases:
                    functions[alias] = op
        _FUNCTIONS[:] = [len(OPS), MappingProxyType(functions)]
    return _FUNCTIONS[1]


#: (size of the op table it was built from, the name -> entry view)
_FUNCTIONS: list[Any] = [-1, MappingProxyType({})]


def suggest(name: str, choices: list[str]) -> list[str]:
    import difflib  # only on the error path

    return difflib.get_close_matches(name, choices, n=3, cutoff=0.6)


#: the binary operator rules, each the op it makes: all handled by `Builder._binary`
BINARY_RULES = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "mod": "mod",
                "matmul": "matmul", "pow": "pow"}

#: the grammar's rule and alias names this builder handles, one method each
RULES = ("number", "var", "group", "array", "factorial", "abs",
         "implicit_mul", "neg", "pos", "compare", "keyword", "text_keyword", "arguments", "call",
         "subscripts",
         "slice", "index", "assign", "result", "start", "empty")


class Builder:
    """One instance per process, reset for each parse (parsing holds a lock)."""

    def callbacks(self) -> dict[str, Any]:
        table = {name: getattr(self, name) for name in RULES}
        for rule, op in BINARY_RULES.items():  # straight to _binary: the commonest reductions
            table[rule] = partial(self._binary, op)
        return table

    def reset(self, text: str) -> None:
        self.text = text
        self.instructions: list[Instruction] = []
        self.free: dict[str, int] = {}
        self.first_use: dict[str, Span] = {}
        self.assigned: dict[str, int] = {}
        #: list literals by register: their elements (a call may take them as its list)
        self.literals: dict[int, tuple[Ref, ...]] = {}

    def _emit(self, instruction: Instruction) -> Ref:
        instructions = self.instructions
        instructions.append(instruction)
        return _make(Ref, (len(instructions) - 1, instruction.span))

    def _op(self, name: str, operands: tuple[Ref, ...], span: Span, op_span: Span) -> Ref:
        return self._emit(Instruction("op", span, name, tuple([r.reg for r in operands]), (),
                                      None, op_span))

    # -- atoms -------------------------------------------------------------------
    def number(self, c: list[Token]) -> Ref:
        token = c[0]
        span = _make(Span, (token.start_pos, token.end_pos))
        value = float(token.value)
        if math.isinf(value):  # as a point file's cell is: never a silent inf
            shown = token.value if len(token.value) <= 24 else token.value[:20] + "..."
            raise SyntaxProblem(f"the number {shown} is beyond the range of a double "
                                "(about 1.8e308)", span=span,
                                hint="write inf for infinity, or rescale the expression")
        return self._emit(Instruction("const", span, value=np.array(value)))

    def var(self, c: list[Token]) -> Ref:
        token = c[0]
        name, span = token.value, _tspan(token)
        if name in self.assigned:
            return Ref(self.assigned[name], span)
        if name in CONSTANTS:
            return self._emit(Instruction("const", span, value=np.array(CONSTANTS[name]),
                                          label=name))
        if name not in self.free:
            self.free[name] = self._emit(Instruction("var", span, value=name, label=name)).reg
            self.first_use[name] = span
        return Ref(self.free[name], span)

    def group(self, c: list[Any]) -> Ref:
        return Ref(c[1].reg, _join(c[0], c[2]))

    def array(self, c: list[Any]) -> Ref:
        elements = tuple(x for x in c if isinstance(x, Ref))
        span = _join(c[0], c[-1])
        ref = self._op("stack", elements, span, span)
        self.literals[ref.reg] = elements
        return ref

    # -- operators ---------------------------------------------------------------
    def _binary(self, name: str, c: list[Any]) -> Ref:
        left, token, right = c  # two Refs around the operator's token
        span = _make(Span, (left.span.start, right.span.end))
        instructions = self.instructions
        instructions.append(Instruction("op", span, name, (left.reg, right.reg), (), None,
                                        _make(Span, (token.start_pos, token.end_pos))))
        return _make(Ref, (len(instructions) - 1, span))

    def factorial(self, c: list[Any]) -> Ref:
        """x! is gamma(x + 1): two instructions, both pointed at the '!'."""
        operand, bang = c
        span, at = _join(operand, bang), _tspan(bang)
        one = self._emit(Instruction("const", at, value=np.array(1.0), label="1"))
        text = self.text[operand.span.start:operand.span.end]
        shifted = self._emit(Instruction(
            "op", span, op="add", args=(operand.reg, one.reg), op_span=at,
            label=f"{text} + 1" if len(text) <= 40 else None))
        return self._op("gamma", (shifted,), span, at)

    def abs(self, c: list[Any]) -> Ref:
        span = _join(c[0], c[2])
        return self._op("abs", (c[1],), span, span)

    def implicit_mul(self, c: list[Any]) -> Ref:
        left, _, right = c
        return self._op("mul", (left, right), _join(left, right), _join(left, right))

    def neg(self, c: list[Any]) -> Ref:
        return self._op("neg", (c[1],), _join(c[0], c[1]), _tspan(c[0]))

    def pos(self, c: list[Any]) -> Ref:
        return Ref(c[1].reg, _join(c[0], c[1]))

    def compare(self, c: list[Any]) -> Ref:
        left, token, right = c
        return self._op(COMPARISONS[token.value], (left, right), _join(left, right),
                        _tspan(token))

    # -- calls and indexing --------------------------------------------------------
    def keyword(self, c: list[Any]) -> Keyword:
        return Keyword(c[0].value, c[2], _join(c[0], c[2]))

    def text_keyword(self, c: list[Any]) -> Keyword:
        """name='text': a constant holding the text, for options such as ord='fro'."""
        token = c[2]
        ref = self._emit(Instruction("const", _tspan(token), value=np.array(token.value[1:-1]),
                                     label=token.value))
        return Keyword(c[0].value, ref, _join(c[0], token))

    def arguments(self, c: list[Any]) -> list[Any]:
        return [x for x in c if not isinstance(x, Token)]

    def call(self, c: list[Any]) -> Ref:
        name_token = c[0]
        name = name_token.value
        arguments = c[2] if len(c) == 4 else []
        span = _join(name_token, c[-1])
        functions = language_functions()
        op = functions.get(name)
        if op is None:
            return self._unknown_function(name, name_token, arguments)
        positional = [a for a in arguments if isinstance(a, Ref)]
        keywords = [a for a in arguments if isinstance(a, Keyword)]
        if op.name in ELEMENTWISE_FORMS and len(positional) > 1:
            self._refuse_misplaced_comparisons(op, positional)
            return self._elementwise_form(op, positional, keywords, span)
        seen_keyword = False
        for a in arguments:
            if isinstance(a, Keyword):
                seen_keyword = True
            elif seen_keyword:
                raise ArgumentError(f"{name}: a positional argument follows a keyword",
                                    span=a.span, hint=f"usage: {op.signature}")
        return self._emit(self._bind_call(op, positional, keywords, span, _tspan(name_token)))

    def _elementwise_form(self, op: OpDef, positional: list[Ref], keywords: list[Keyword],
                          span: Span) -> Ref:
        """max(a, b, ...) is the elementwise maximum, as in Python and on calculators."""
        if keywords:
            raise ArgumentError(
                f"{op.name} with several values compares them elementwise and takes no "
                f"'{keywords[0].name}'", span=keywords[0].span,
                hint=f"to reduce along an axis give one tensor: {op.name}(v, axis=0)")
        result = positional[0]
        for right in positional[1:]:
            result = self._op(ELEMENTWISE_FORMS[op.name], (result, right),
                              _join(positional[0], right), span)
        return Ref(result.reg, span)

    def _unknown_function(self, name: str, token: Token, arguments: list[Any]) -> Ref:
        close = suggest(name, sorted(language_functions()))
        hint = f"did you mean {' or '.join(close)}?" if close else \
            "run 'gradcli functions' for the list"
        if name in self.free or name in self.assigned:
            hint = f"{name} is a variable: write {name}*(...) for a product"
        raise UnknownFunctionError(f"unknown function '{name}'", span=_tspan(token), hint=hint)

    def _list_argument(self, positional: list[Ref]) -> list[Ref]:
        """stack([a, b]) and stack(a, b) are the same call: a list literal written as the
        only argument gives its elements. The literal's own instruction then becomes an
        alias of its first element, so it is never evaluated (and never fails) by itself."""
        if len(positional) != 1:
            return positional
        reg, span = positional[0]
        elements = self.literals.get(reg)
        literal = self.instructions[reg]
        if elements is None or span != literal.span:  # a name or a bracketed list: a tensor
            return positional
        first = self.instructions[elements[0].reg]
        self.instructions[reg] = Instruction("alias", first.span, args=(elements[0].reg,),
                                             label=first.label)
        del self.literals[reg]
        return list(elements)

    def _bind_call(self, op: OpDef, positional: list[Ref], keywords: list[Keyword],
                   span: Span, name_span: Span) -> Instruction:
        usage = f"usage: {op.signature}" + (f"  ({op.help})" if op.help else "")
        names = op.param_names
        if op.nin < 0:
            tensors, extra = self._list_argument(positional), []
            if not tensors:
                raise ArgumentError(f"{op.name} needs at least one argument", span=span,
                                    hint=f"usage: {op.name}(a, b, ..., axis=0)")
        elif op.name in ELEMENTWISE_FORMS and not positional:  # max(v) and max(a, b, ...)
            raise ArgumentError(
                f"{op.name} needs at least one argument, got none", span=span,
                hint=f"{op.name}(v, axis=0) reduces one tensor; {op.name}(a, b, ...) compares "
                     "several values elementwise")
        else:
            if len(positional) < op.nin or len(positional) > op.nin + len(names):
                expected = str(op.nin) if not names else f"{op.nin} to {op.nin + len(names)}"
                raise ArgumentError(
                    f"{op.name} takes {expected} argument{'s' * (expected != '1')}, "
                    f"got {len(positional)}", span=span, hint=usage)
            tensors, extra = positional[:op.nin], positional[op.nin:]
        bound: dict[str, int] = {n: r.reg for n, r in zip(names, extra, strict=False)}
        for kw in keywords:
            if kw.name not in names:
                raise ArgumentError(f"{op.name} has no argument '{kw.name}'", span=kw.span,
                                    hint=usage)
            if kw.name in bound:
                raise ArgumentError(f"{op.name} got '{kw.name}' twice", span=kw.span, hint=usage)
            bound[kw.name] = kw.ref.reg
        self._refuse_misplaced_comparisons(op, positional)
        return Instruction("op", span, op=op.name, args=tuple(r.reg for r in tensors),
                           keywords=tuple(bound.items()), op_span=span)

    def _is_comparison(self, ref: Ref) -> bool:
        instruction = self.instructions[ref.reg]
        return instruction.kind == "op" and instruction.op in COMPARISON_OPS

    def _refuse_misplaced_comparisons(self, op: OpDef, positional: list[Ref]) -> None:
        """A comparison is a condition: true/false, not a number. It fits only an input
        the op table marks as one (where's cond), so exp(x > 0) is refused as (x > 0) + 1
        is, instead of computing on booleans."""
        conditions = op.conditions if op.nin >= 0 else ()
        for k, ref in enumerate(positional):
            if k in conditions or not self._is_comparison(ref):
                continue
            raise ArgumentError(
                f"a comparison is a condition (true/false), and {op.name} does not take one "
                "here", span=self.instructions[ref.reg].op_span or ref.span,
                hint="use it as a condition, e.g. where(x > 0, x, 0); for a 0/1 number "
                     "write where(x > 0, 1, 0)")

    def subscripts(self, c: list[Any]) -> list[Any]:
        return [x for x in c if not isinstance(x, Token)]

    def slice(self, c: list[Any]) -> tuple[str, int | None, int | None, int | None]:
        parts: list[int | None] = [None]
        for child in c:
            if isinstance(child, Token):
                parts.append(None)
            else:
                parts[-1] = child.reg
        parts += [None] * (3 - len(parts))
        return ("slice", parts[0], parts[1], parts[2])

    def index(self, c: list[Any]) -> Ref:
        base, _, items, closing = c
        spec = tuple(("reg", i.reg) if isinstance(i, Ref) else i for i in items)
        span = _join(base, closing)
        return self._emit(Instruction("index", span, args=(base.reg,), value=spec,
                                      op_span=Span(_tspan(c[1]).start, _tspan(closing).end)))

    # -- statements -------------------------------------------------------------------
    def assign(self, c: list[Any]) -> tuple[str, str, Ref, Span]:
        token, _, ref = c
        name, span = token.value, _tspan(token)
        if name in CONSTANTS:
            raise NameConflictError(f"'{name}' is a constant and cannot be assigned",
                                    span=span, hint="pick another name")
        if name in language_functions():
            raise NameConflictError(f"'{name}' is a function name", span=span,
                                    hint="pick another name for this step")
        if name in self.assigned:
            raise NameConflictError(f"'{name}' is assigned twice", span=span,
                                    hint="each step needs its own name")
        if name in self.free:
            raise NameConflictError(f"'{name}' is used before it is assigned",
                                    span=self.first_use[name],
                                    hint=f"move '{name} = ...' before its first use")
        self.assigned[name] = ref.reg
        instruction = self.instructions[ref.reg]
        if instruction.kind != "var":
            instruction.label = name
        return ("assign", name, ref, _join(token, ref))

    def result(self, c: list[Any]) -> tuple[str, list[Ref], Span]:
        refs = [x for x in c if isinstance(x, Ref)]
        return ("result", refs, _join(refs[0], refs[-1]))

    def start(self, c: list[Any]) -> Parsed:
        statements = [x for x in c if isinstance(x, tuple)]
        # a bare expression is reduced to a Ref, not wrapped, when it stands alone
        for k, statement in enumerate(statements):
            if statement[0] == "result" and k != len(statements) - 1:
                raise SyntaxProblem("only the last statement can be the result",
                                    span=statement[2],
                                    hint="name this step (a = ...) or remove it")
        if not statements or statements[-1][0] != "result":
            span = statements[-1][3] if statements else Span(0, 0)
            raise SyntaxProblem("the program ends with an assignment, not a result",
                                span=span, hint="end with the expression to compute, "
                                                "e.g. a = x + 1; a^2")
        return Parsed(self.instructions, statements[-1][1], dict(self.free),
                      dict(self.first_use), dict(self.assigned), statements)

    def empty(self, c: list[Any]) -> Parsed:
        raise SyntaxProblem("the expression is empty", span=Span(0, 0),
                            hint='write an expression, e.g. "x^2 + 1"')
