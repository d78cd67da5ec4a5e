"""Scalar symbols: numpy arrays of these, run through an op's forward, write LLVM IR.

A compiled plan computes one point per loop iteration. To find that
iteration's code, the lowering (`gradcli.plans.lower`) fills numpy object
arrays with `Scalar`s and calls each op's forward on them, or its entry's
`scalar` form where the forward needs real numbers (a mask, `np.zeros`).
numpy's object loops call the symbols' operators and methods (`np.sin` calls
`x.sin()`, `np.add` calls `x + y`, `np.sum` and `np.matmul` add and multiply
element by element), and each of those appends one instruction to the
`Emitter`. So reshapes, indexing, broadcasting, sums and matrix products of
small per-point arrays turn into straight-line scalar code for free, and the
op table stays the only place that knows what an op computes.

Semantics follow numpy's float64 exactly: no fast-math, no contraction into
fused multiply-adds, comparisons give 0.0 or 1.0, and `select` treats any
non-zero (and NaN) as true, like `astype(bool)`. Two constants fold at
generation time through numpy itself. Transcendentals call our own
vectorizable functions (`gradcli.vecmath`, within 1 ulp) where the emitter's
math mode asks for them (the default), else the C library (glibc's `sin`,
`exp`, ...), as numpy does where it has no SIMD loop of its own.

A plan is lowered on a block of two points: the first is real, the second is
`PHANTOM`. Anything that combines the two rows (a sum over the batch axis) is
a dependency between points, and raises `NotCompilable`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import numpy as np


class NotCompilable(Exception):
    """This plan (or op) has no scalar form: the numpy replay runs it instead."""


#: libm functions of one argument, by the numpy name numpy's object loops call
_LIBM_UNARY = {
    "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
    "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh",
    "arccosh": "acosh", "arctanh": "atanh", "exp": "exp", "expm1": "expm1", "exp2": "exp2",
    "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10", "cbrt": "cbrt",
    "erf": "erf", "erfc": "erfc", "tgamma": "tgamma", "lgamma": "lgamma",
}
#: operations LLVM knows as intrinsics: exact ones, and libm calls it may combine
#: (sin and cos of one argument become one `sincos` call, as fast as either alone)
_INTRINSIC_UNARY = {"sqrt": "llvm.sqrt.f64", "fabs": "llvm.fabs.f64",
                    "floor": "llvm.floor.f64", "ceil": "llvm.ceil.f64", "rint": "llvm.rint.f64",
                    "trunc": "llvm.trunc.f64",
                    "sin": "llvm.sin.f64", "cos": "llvm.cos.f64"}
_LIBM_BINARY = {"pow": "pow", "arctan2": "atan2", "hypot": "hypot"}
#: how a constant argument folds, where numpy has no function of that name
_FOLD: dict[str, Callable[[float], float]] = {"erf": math.erf, "erfc": math.erfc,
                                              "tgamma": math.gamma, "lgamma": math.lgamma}
_COMPARE = {"lt": ("olt", np.less), "le": ("ole", np.less_equal), "gt": ("ogt", np.greater),
            "ge": ("oge", np.greater_equal), "eq": ("oeq", np.equal),
            "ne": ("une", np.not_equal)}


def literal(value: float) -> str:
    """A double as LLVM IR writes it exactly: its 64 bits in hex."""
    bits = struct.unpack("<Q", struct.pack("<d", float(value)))[0]
    return f"0x{bits:016X}"


class Emitter:
    """The loop body being written: numbered instructions, each written once."""

    def __init__(self, math: str = "accurate", vector_width: int = 8) -> None:
        self.lines: list[str] = []
        self.declared: dict[str, str] = {}
        self._seen: dict[str, str] = {}
        #: where transcendentals come from (--math: accurate, fast or libm)
        self.math = math
        #: doubles per vector on the target (0: no fma there)
        self.vector_width = vector_width
        #: our vectorizable functions the body calls, by the C library's name
        self.vecmath: set[str] = set()

    def math_call(self, name: str, *args: str, fallback: str | None = None) -> str:
        """A call to the C library's `name` (or `fallback`, an intrinsic), or to our
        own vectorizable function where the math mode and the host allow."""
        from gradcli import vecmath

        own = vecmath.provides(name, self.math, self.vector_width)
        if own is None:
            return self.call(fallback or name, *args)
        self.vecmath.add(name)
        operands = ", ".join(f"double {a}" for a in args)
        return self.emit(f"call double @{own}({operands})")

    def emit(self, text: str, kind: str = "double") -> str:
        """The name of a value computed by `text` (an instruction without its `%t =`)."""
        name = self._seen.get(text)
        if name is None:
            name = f"%t{len(self.lines)}"
            self.lines.append(f"  {name} = {text}")
            self._seen[text] = name
        return name

    def call(self, function: str, *args: str) -> str:
        self.declared[function] = (f"declare double @{function}"
                                   f"({', '.join(['double'] * len(args))}) nounwind")
        operands = ", ".join(f"double {a}" for a in args)
        return self.emit(f"call double @{function}({operands})")


class Scalar:
    """One float64 of one point, as an IR operand; `value` is set for constants."""

    __slots__ = ("emitter", "flag", "ref", "value")

    def __init__(self, emitter: Emitter | None, ref: str, value: float | None = None,
                 flag: str | None = None):
        self.emitter = emitter
        self.ref = ref
        self.value = value
        self.flag = flag  # for comparison results: the i1 it came from

    # -- building ------------------------------------------------------------
    def _emitter(self, *others: Any) -> Emitter:
        for s in (self, *others):
            if s.emitter is not None:
                return s.emitter
        raise NotCompilable("no emitter")

    def _operands(self, other: Any) -> Scalar:
        if isinstance(other, Scalar):
            if (other is PHANTOM) != (self is PHANTOM) and not (
                    self.value is not None or other.value is not None):
                raise NotCompilable("a step combines different points")
            return other
        if isinstance(other, (bool, int, float, np.number, np.bool_)):
            return constant(float(other))
        raise NotCompilable(f"cannot combine a scalar symbol with {type(other).__name__}")

    def _binary(self, other: Any, instruction: str, fold: Callable[..., Any],
                swap: bool = False) -> Scalar:
        o = self._operands(other)
        a, b = (o, self) if swap else (self, o)
        if a is PHANTOM or b is PHANTOM:
            return PHANTOM
        if a.value is not None and b.value is not None:
            with np.errstate(all="ignore"):
                return constant(float(fold(np.float64(a.value), np.float64(b.value))))
        e = self._emitter(o)
        return Scalar(e, e.emit(f"{instruction} double {a.ref}, {b.ref}"))

    def __add__(self, o: Any) -> Scalar:
        return self._binary(o, "fadd", np.add)

    def __radd__(self, o: Any) -> Scalar:
        return self._binary(o, "fadd", np.add, swap=True)

    def __sub__(self, o: Any) -> Scalar:
        return self._binary(o, "fsub", np.subtract)

    def __rsub__(self, o: Any) -> Scalar:
        return self._binary(o, "fsub", np.subtract, swap=True)

    def __mul__(self, o: Any) -> Scalar:
        return self._binary(o, "fmul", np.multiply)

    def __rmul__(self, o: Any) -> Scalar:
        return self._binary(o, "fmul", np.multiply, swap=True)

    def __truediv__(self, o: Any) -> Scalar:
        return self._binary(o, "fdiv", np.divide)

    def __rtruediv__(self, o: Any) -> Scalar:
        return self._binary(o, "fdiv", np.divide, swap=True)

    def __pow__(self, o: Any) -> Scalar:
        return self._call2("pow", o)

    def __rpow__(self, o: Any) -> Scalar:
        return self._operands(o)._call2("pow", self)

    def __neg__(self) -> Scalar:
        if self is PHANTOM:
            return PHANTOM
        if self.value is not None:
            return constant(-self.value)
        return Scalar(self.emitter, self._emitter().emit(f"fneg double {self.ref}"))

    def __pos__(self) -> Scalar:
        return self

    def __abs__(self) -> Scalar:
        return self.call("fabs")

    def __bool__(self) -> bool:
        raise NotCompilable("a data-dependent branch needs a select (give the op a scalar form)")

    def __float__(self) -> float:
        if self.value is None:
            raise NotCompilable("a symbol used as a number")
        return self.value

    # -- comparisons: 0.0 or 1.0, remembering the i1 for selects ----------------
    def compare(self, other: Any, name: str) -> Scalar:
        predicate, fold = _COMPARE[name]
        o = self._operands(other)
        if self is PHANTOM or o is PHANTOM:
            return PHANTOM
        if self.value is not None and o.value is not None:
            return constant(float(fold(self.value, o.value)))
        e = self._emitter(o)
        flag = e.emit(f"fcmp {predicate} double {self.ref}, {o.ref}")
        return Scalar(e, e.emit(f"uitofp i1 {flag} to double"), flag=flag)

    def __lt__(self, o: Any) -> Scalar:
        return self.compare(o, "lt")

    def __le__(self, o: Any) -> Scalar:
        return self.compare(o, "le")

    def __gt__(self, o: Any) -> Scalar:
        return self.compare(o, "gt")

    def __ge__(self, o: Any) -> Scalar:
        return self.compare(o, "ge")

    def __eq__(self, o: Any) -> Scalar:  # type: ignore[override]
        return self.compare(o, "eq")

    def __ne__(self, o: Any) -> Scalar:  # type: ignore[override]
        return self.compare(o, "ne")

    __hash__ = object.__hash__

    def select(self, if_true: Any, if_false: Any) -> Scalar:
        """`if_true` where self is non-zero (or NaN), else `if_false`: numpy's where."""
        a, b = self._operands(if_true), self._operands(if_false)
        if any(s is PHANTOM for s in (self, a, b)):
            if any(s is not PHANTOM and s.value is None for s in (self, a, b)):
                raise NotCompilable("a step combines different points")
            return PHANTOM
        if self.value is not None:
            return a if self.value != 0.0 or np.isnan(self.value) else b
        e = self._emitter(a, b)
        flag = self.flag or e.emit(f"fcmp une double {self.ref}, {literal(0.0)}")
        return Scalar(e, e.emit(f"select i1 {flag}, double {a.ref}, double {b.ref}"))

    # -- functions -----------------------------------------------------------
    def call(self, name: str) -> Scalar:
        """A function of one argument by numpy's name (sin, arctan, log1p, fabs, erf ...)."""
        if self is PHANTOM:
            return PHANTOM
        if name not in _INTRINSIC_UNARY and name not in _LIBM_UNARY:
            raise NotCompilable(f"no scalar function {name}")
        if self.value is not None:
            fold = _FOLD.get(name) or getattr(np, name)
            try:
                with np.errstate(all="ignore"):
                    return constant(float(fold(np.float64(self.value))))
            except (ValueError, OverflowError):  # math's gamma at a pole, ...
                pass
        e = self._emitter()
        libm = _LIBM_UNARY.get(name)
        if libm is None:
            return Scalar(self.emitter, e.call(_INTRINSIC_UNARY[name], self.ref))
        return Scalar(self.emitter, e.math_call(libm, self.ref,
                                                fallback=_INTRINSIC_UNARY.get(name)))

    def _call2(self, name: str, other: Any) -> Scalar:
        o = self._operands(other)
        if self is PHANTOM or o is PHANTOM:
            return PHANTOM
        fold = {"pow": np.power, "arctan2": np.arctan2, "hypot": np.hypot}[name]
        if self.value is not None and o.value is not None:
            with np.errstate(all="ignore"):
                return constant(float(fold(np.float64(self.value), np.float64(o.value))))
        if name == "pow" and o.value in _EXACT_POWERS:
            return _EXACT_POWERS[o.value](self)
        e = self._emitter(o)
        return Scalar(e, e.math_call(_LIBM_BINARY[name], self.ref, o.ref))

    def fmod(self, other: Any) -> Scalar:
        """C's fmod, exact (LLVM's frem)."""
        o = self._operands(other)
        if self is PHANTOM or o is PHANTOM:
            return PHANTOM
        if self.value is not None and o.value is not None:
            with np.errstate(all="ignore"):
                return constant(float(np.fmod(self.value, o.value)))
        e = self._emitter(o)
        return Scalar(e, e.emit(f"frem double {self.ref}, {o.ref}"))

    def arctan2(self, o: Any) -> Scalar:
        return self._call2("arctan2", o)

    def hypot(self, o: Any) -> Scalar:
        return self._call2("hypot", o)

    def rint(self) -> Scalar:
        return self.call("rint")

    def __floor__(self) -> Scalar:
        return self.call("floor")

    def __ceil__(self) -> Scalar:
        return self.call("ceil")

    def conjugate(self) -> Scalar:
        return self

    @property
    def real(self) -> Scalar:
        return self

    def __repr__(self) -> str:
        return "PHANTOM" if self is PHANTOM else f"Scalar({self.ref})"


for _numpy_name in [*_LIBM_UNARY, "sqrt"]:
    if _numpy_name not in ("erf", "erfc"):
        setattr(Scalar, _numpy_name,
                (lambda name: lambda self: self.call(name))(_numpy_name))


#: whole exponents whose power is one correctly rounded operation: the same bits as
#: pow (and as numpy's own fast paths for them), without a call in the loop
_EXACT_POWERS: dict[float, Callable[[Scalar], Scalar]] = {
    0.0: lambda x: constant(1.0), 1.0: lambda x: x, 2.0: lambda x: x * x,
    -1.0: lambda x: 1.0 / x}


def constant(value: float) -> Scalar:
    return Scalar(None, literal(value), value=value)


#: the second point of a lowering block: present, but never computed
PHANTOM = Scalar(None, "phantom")
