"""A small writer of branch-free scalar LLVM IR, for the math functions.

The functions of `gradcli.vecmath` are written in Python against `Function`
and `Value`: each operation appends one SSA instruction. Arithmetic on
doubles never contracts (`fma` is always spelled out), comparisons are
ordered unless named otherwise, and choices are `select`s, so the loop
vectorizer can turn a compiled plan's point loop into vector code at the
host's width once the functions are inlined into it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

DOUBLE, I64, I1 = "double", "i64", "i1"


def double_literal(value: float) -> str:
    """A double as LLVM IR writes it exactly: its 64 bits in hex."""
    bits = struct.unpack("<Q", struct.pack("<d", float(value)))[0]
    return f"0x{bits:016X}"


class Value:
    """One SSA value (or constant) of a function being written."""

    __slots__ = ("fn", "ref", "type")

    def __init__(self, fn: Function, ref: str, type_: str):
        self.fn, self.ref, self.type = fn, ref, type_

    def _other(self, other: Value | float | int) -> Value:
        if isinstance(other, Value):
            return other
        return self.fn.const(other) if self.type == DOUBLE else self.fn.i64(int(other))

    def _op(self, float_op: str, int_op: str, other: Value | float | int,
            swap: bool = False) -> Value:
        o = self._other(other)
        a, b = (o, self) if swap else (self, o)
        op = float_op if self.type == DOUBLE else int_op
        return self.fn.emit(f"{op} {self.type} {a.ref}, {b.ref}", self.type)

    def __add__(self, o: Value | float | int) -> Value:
        return self._op("fadd", "add", o)

    def __radd__(self, o: Value | float | int) -> Value:
        return self._op("fadd", "add", o, swap=True)

    def __sub__(self, o: Value | float | int) -> Value:
        return self._op("fsub", "sub", o)

    def __rsub__(self, o: Value | float | int) -> Value:
        return self._op("fsub", "sub", o, swap=True)

    def __mul__(self, o: Value | float | int) -> Value:
        return self._op("fmul", "mul", o)

    def __rmul__(self, o: Value | float | int) -> Value:
        return self._op("fmul", "mul", o, swap=True)

    def __truediv__(self, o: Value | float | int) -> Value:
        return self._op("fdiv", "sdiv", o)

    def __rtruediv__(self, o: Value | float | int) -> Value:
        return self._op("fdiv", "sdiv", o, swap=True)

    def __neg__(self) -> Value:
        if self.type == DOUBLE:
            return self.fn.emit(f"fneg double {self.ref}", DOUBLE)
        return self.fn.integer(0, self.type) - self

    def __and__(self, o: Value | int) -> Value:
        return self._op("and", "and", o)

    def __or__(self, o: Value | int) -> Value:
        return self._op("or", "or", o)

    def __xor__(self, o: Value | int) -> Value:
        return self._op("xor", "xor", o)

    def __lshift__(self, o: Value | int) -> Value:
        return self._op("shl", "shl", o)

    def __rshift__(self, o: Value | int) -> Value:
        """Arithmetic shift right (the sign is kept)."""
        return self._op("ashr", "ashr", o)

    def lshr(self, o: Value | int) -> Value:
        return self._op("lshr", "lshr", o)

    # comparisons give i1 values
    def _compare(self, predicate: str, o: Value | float | int) -> Value:
        other = self._other(o)
        if self.type == DOUBLE:
            return self.fn.emit(f"fcmp {predicate} double {self.ref}, {other.ref}", I1)
        signed = {"olt": "slt", "ole": "sle", "ogt": "sgt", "oge": "sge", "oeq": "eq",
                  "une": "ne", "ult": "ult", "ugt": "ugt"}[predicate]
        return self.fn.emit(f"icmp {signed} {self.type} {self.ref}, {other.ref}", I1)

    def lt(self, o: Value | float | int) -> Value:
        return self._compare("olt", o)

    def le(self, o: Value | float | int) -> Value:
        return self._compare("ole", o)

    def gt(self, o: Value | float | int) -> Value:
        return self._compare("ogt", o)

    def ge(self, o: Value | float | int) -> Value:
        return self._compare("oge", o)

    def eq(self, o: Value | float | int) -> Value:
        return self._compare("oeq", o)

    def ne(self, o: Value | float | int) -> Value:
        """Unordered not-equal: true for NaN."""
        return self._compare("une", o)

    def is_nan(self) -> Value:
        return self.fn.emit(f"fcmp uno double {self.ref}, {self.ref}", I1)


class Function:
    """One IR function being written: `define internal double @name(double %x, ...)`."""

    def __init__(self, name: str, params: Sequence[str] = ("x",), returns: str = DOUBLE,
                 param_type: str = DOUBLE):
        self.name = name
        self.returns = returns
        self.param_type = param_type
        self.params = [Value(self, f"%{p}", param_type) for p in params]
        #: the value the function returns, set by whoever writes it
        self.result: Value | None = None
        self.lines: list[str] = []
        self.uses: set[str] = set()  # other functions of ours this one calls
        self.intrinsics: set[str] = set()
        self.globals: set[str] = set()

    # -- values ---------------------------------------------------------------
    def emit(self, text: str, type_: str) -> Value:
        ref = f"%v{len(self.lines)}"
        self.lines.append(f"  {ref} = {text}")
        return Value(self, ref, type_)

    def const(self, x: float) -> Value:
        return Value(self, double_literal(x), DOUBLE)

    def i64(self, i: int) -> Value:
        return Value(self, str(int(i)), I64)

    def true(self) -> Value:
        return Value(self, "true", I1)

    def integer(self, i: int, type_: str) -> Value:
        return Value(self, str(int(i)), type_)

    def convert(self, op: str, a: Value, type_: str) -> Value:
        """A cast instruction (`zext`, `trunc`, `sitofp`, ...) of `a` to `type_`."""
        return self.emit(f"{op} {a.type} {a.ref} to {type_}", type_)

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")

    def branch(self, condition: Value, if_true: str, if_false: str) -> None:
        self.lines.append(f"  br i1 {condition.ref}, label %{if_true}, label %{if_false}")

    def jump(self, to: str) -> None:
        self.lines.append(f"  br label %{to}")

    def phi(self, type_: str, *incoming: tuple[Value, str]) -> Value:
        pairs = ", ".join(f"[ {v.ref}, %{block} ]" for v, block in incoming)
        return self.emit(f"phi {type_} {pairs}", type_)

    def cold_call(self, condition: Value, function: str, args: Sequence[Value],
                  otherwise: Value, after: str, attributes: str = "") -> Value:
        """`function(*args)` where `condition` holds, else `otherwise`: a real branch,
        for a rare path too long to compute in every lane. `after` is the label of
        the block before the branch (where `otherwise` was computed)."""
        tag = len(self.lines)
        self.branch(condition, f"cold{tag}", f"join{tag}")
        self.label(f"cold{tag}")
        rare = self.call(function, *args, attributes=attributes)
        self.jump(f"join{tag}")
        self.label(f"join{tag}")
        return self.phi(otherwise.type, (otherwise, after), (rare, f"cold{tag}"))

    def _intrinsic(self, name: str, args: Sequence[Value], type_: str = DOUBLE) -> Value:
        suffix = "f64" if type_ == DOUBLE else type_
        function = f"llvm.{name}.{suffix}"
        self.intrinsics.add(f"declare {type_} @{function}("
                            f"{', '.join([type_] * len(args))})")
        operands = ", ".join(f"{type_} {a.ref}" for a in args)
        return self.emit(f"call {type_} @{function}({operands})", type_)

    # -- operations -----------------------------------------------------------
    def fma(self, a: Value, b: Value | float, c: Value | float) -> Value:
        """a * b + c with one rounding."""
        return self._intrinsic("fma", [a, a._other(b), a._other(c)])

    def fabs(self, a: Value) -> Value:
        return self._intrinsic("fabs", [a])

    def rint(self, a: Value) -> Value:
        """The nearest integer, ties to even (the default rounding mode)."""
        return self._intrinsic("rint", [a])

    def trunc(self, a: Value) -> Value:
        return self._intrinsic("trunc", [a])

    def sqrt(self, a: Value) -> Value:
        return self._intrinsic("sqrt", [a])

    def copysign(self, magnitude: Value, sign: Value) -> Value:
        return self._intrinsic("copysign", [magnitude, sign])

    def minimum(self, a: Value, b: Value | float) -> Value:
        """The smaller, keeping NaN in `a` (`select`, not minnum)."""
        o = a._other(b)
        return self.select(o.lt(a), o, a)

    def maximum(self, a: Value, b: Value | float) -> Value:
        o = a._other(b)
        return self.select(o.gt(a), o, a)

    def select(self, condition: Value, if_true: Value | float | int,
               if_false: Value | float | int) -> Value:
        probe = if_true if isinstance(if_true, Value) else if_false
        if not isinstance(probe, Value):
            both_ints = isinstance(if_true, int) and isinstance(if_false, int)
            probe = self.i64(0) if both_ints else self.const(0.0)
        a, b = probe._other(if_true), probe._other(if_false)
        return self.emit(f"select i1 {condition.ref}, {a.type} {a.ref}, {b.type} {b.ref}",
                         a.type)

    def both(self, a: Value, b: Value) -> Value:
        return self.emit(f"and i1 {a.ref}, {b.ref}", I1)

    def either(self, a: Value, b: Value) -> Value:
        return self.emit(f"or i1 {a.ref}, {b.ref}", I1)

    def bits(self, a: Value) -> Value:
        """The 64 bits of a double as an integer."""
        return self.emit(f"bitcast double {a.ref} to i64", I64)

    def from_bits(self, a: Value) -> Value:
        return self.emit(f"bitcast i64 {a.ref} to double", DOUBLE)

    def to_int(self, a: Value) -> Value:
        """A double holding a whole number (of moderate size) as an i64."""
        return self.emit(f"fptosi double {a.ref} to i64", I64)

    def to_double(self, a: Value) -> Value:
        return self.emit(f"sitofp i64 {a.ref} to double", DOUBLE)

    def call(self, function: Function | str, *args: Value, returns: str = DOUBLE,
             attributes: str = "") -> Value:
        """A call to another function of ours (inlined, unless it is a cold path)."""
        name = function if isinstance(function, str) else function.name
        self.uses.add(name)
        operands = ", ".join(f"{a.type} {a.ref}" for a in args)
        return self.emit(f"call {returns} @{name}({operands}){attributes}", returns)

    # -- the text -------------------------------------------------------------
    def define(self, attributes: str = "alwaysinline nounwind") -> str:
        """The function's text; it has an entry label, so it may branch."""
        if self.result is None:
            raise ValueError(f"{self.name} has no result")
        result = self.result
        params = ", ".join(f"{p.type} {p.ref}" for p in self.params)
        return "\n".join([f"define internal {self.returns} @{self.name}({params}) "
                          f"{attributes} {{", "entry:", *self.lines,
                          f"  ret {self.returns} {result.ref}", "}"])


# -- exact arithmetic on pairs of doubles (error-free transformations) ------------
def two_sum(fn: Function, a: Value, b: Value) -> tuple[Value, Value]:
    """s + e == a + b exactly, s the rounded sum (Knuth, any magnitudes)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def fast_two_sum(fn: Function, a: Value, b: Value) -> tuple[Value, Value]:
    """s + e == a + b exactly, given |a| >= |b| (or a == 0)."""
    s = a + b
    return s, b - (s - a)


def two_product(fn: Function, a: Value, b: Value | float) -> tuple[Value, Value]:
    """p + e == a * b exactly (barring underflow), through one fma."""
    p = a * b
    return p, fn.fma(a, b, -p)


def horner(fn: Function, x: Value, coefficients: Sequence[float]) -> Value:
    """c0 + c1 x + c2 x^2 + ... with fmas, highest power first."""
    acc = fn.const(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        acc = fn.fma(acc, x, c)
    return acc
