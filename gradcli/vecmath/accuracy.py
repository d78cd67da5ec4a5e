"""How close our math functions are to the truth: the checks the tests and
`benchmarks/vecmath.py` share.

The reference is mpmath (the `test` extra) at 200 bits. An error is in ulps
of the true value: |ours - exact| / 2^(e - 52), e the exact value's binary
exponent (2^-1074 in the subnormal range), with an infinity counted as
2^1024, so an overflow one ulp early or late is measured, not excused.
The points are random over each function's useful range, and the edges
where argument reduction goes wrong if it can: huge |x|, doubles next to
multiples of pi/2, subnormals, the ends of the range, zeros, +-inf, NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli.batch.kernel import BatchKernel
from gradcli.language import parse

#: the exact functions, by the C library's name (mpmath imported when first used)
REFERENCES: dict[str, Callable[[Any, Any], Any]] = {
    "sin": lambda mp, x: mp.sin(x), "cos": lambda mp, x: mp.cos(x),
    "tan": lambda mp, x: mp.tan(x), "exp": lambda mp, x: mp.exp(x),
    "exp2": lambda mp, x: mp.power(2, x), "expm1": lambda mp, x: mp.expm1(x),
    "log": lambda mp, x: mp.log(x), "log2": lambda mp, x: mp.log(x, 2),
    "log10": lambda mp, x: mp.log10(x), "log1p": lambda mp, x: mp.log1p(x),
    "sinh": lambda mp, x: mp.sinh(x), "cosh": lambda mp, x: mp.cosh(x),
    "tanh": lambda mp, x: mp.tanh(x), "atan": lambda mp, x: mp.atan(x),
    "asin": lambda mp, x: mp.asin(x), "acos": lambda mp, x: mp.acos(x),
}
#: numpy's function of the same name, for the special values
NUMPY = {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}
TRIG = ("sin", "cos", "tan")

_RANGES: dict[str, list[tuple[float, float]]] = {
    "trig": [(-4.0, 4.0), (-1e3, 1e3), (-1e8, 1e8), (-1e22, 1e22)],
    "exp": [(-1.0, 1.0), (-40.0, 40.0), (-745.2, 709.8)],
    "exp2": [(-1.0, 1.0), (-60.0, 60.0), (-1076.0, 1024.0)],
    "expm1": [(-0.4, 0.4), (-1e-5, 1e-5), (-40.0, 40.0), (-40.0, 709.8)],
    "log": [(0.5, 2.0), (0.0, 1e3)],
    "log1p": [(-1.0, 1.0), (-1e-6, 1e-6), (-1.0, 1e3)],
    "sinh": [(-1.0, 1.0), (-40.0, 40.0), (-711.0, 711.0)],
    "tanh": [(-1.0, 1.0), (-0.1, 0.1), (-20.0, 20.0)],
    "atan": [(-1.0, 1.0), (-10.0, 10.0), (-1e20, 1e20)],
    "asin": [(-1.0, 1.0), (-1e-3, 1e-3), (0.9, 1.0), (-1.0, -0.9)],
}
_FAMILY = {"sin": "trig", "cos": "trig", "tan": "trig", "log2": "log", "log10": "log",
           "cosh": "sinh", "acos": "asin"}


def random_points(name: str, rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` points spread over the function's ranges, and over magnitudes (log-uniform)."""
    ranges = _RANGES[_FAMILY.get(name, name)]
    per = max(1, count // (2 * len(ranges)))
    parts = []
    for low, high in ranges:
        parts.append(rng.uniform(low, high, per))
        top = max(abs(low), abs(high))
        magnitudes = top * 2.0 ** -rng.uniform(0, 60, per)
        signs = np.where(rng.random(per) < 0.5, -1.0, 1.0) if low < 0 else 1.0
        parts.append(np.clip(magnitudes * signs, low, high))
    if _FAMILY.get(name) == "log" or name == "log":
        parts.append(2.0 ** rng.uniform(-1074, 1024, per))
    if name in TRIG:
        parts.append(np.where(rng.random(per) < 0.5, -1.0, 1.0)
                     * 2.0 ** rng.uniform(27, 1023, per))
    return np.concatenate(parts)


def edge_points(name: str) -> np.ndarray:
    """Zeros, infinities, NaN, subnormals, and the function's own hard places."""
    tiny = [5e-324, 1e-320, 2.2250738585072009e-308, 2.2250738585072014e-308, 1e-300,
            2.0 ** -30, 1.1102230246251565e-16]
    common = [0.0, -0.0, math.inf, -math.inf, math.nan, *tiny, *(-t for t in tiny),
              1.0, -1.0, 0.5, -0.5]
    family = _FAMILY.get(name, name)
    extra: list[float] = []
    if family == "trig":
        for k in [*range(1, 64), *(2 ** j for j in range(6, 80, 3)), 355, 710, 103993,
                  2 ** 27 - 1, 2 ** 27 + 1]:
            near = float(k) * (math.pi / 2)
            extra += [near, math.nextafter(near, math.inf), math.nextafter(near, -math.inf)]
        extra += [6381956970095103.0 * 2.0 ** 797, 1e22, 2.0 ** 27, 2.0 ** 27 + 2.0 ** -25,
                  1.7976931348623157e308, 2.0 ** 1023, 5.319372648326541e+255]
        extra += [-v for v in extra]
    elif family in ("exp", "exp2", "expm1"):
        extra = [709.78, 709.782712893384, 709.7827128933841, 710.0, -708.39, -708.4,
                 -744.44, -745.1332191019411, -745.1332191019412, -745.2, -1074.0,
                 -1075.0, -1022.5, 1023.9, 1024.0, 0.34657359027997264, -0.34657359027997264,
                 37.0, 38.0, 53.0, -38.0, -40.0, 1e-10, -1e-10, 1e300, -1e300]
    elif family == "log":
        extra = [1.0000000000000002, 0.9999999999999999, 0.7071067811865476, 1.414213562373095,
                 1.4142135623730951, 2.0, 1e300, 1.7976931348623157e308, -1e-300, -2.0]
    elif family == "log1p":
        extra = [-0.9999999999999999, -0.99, 1e-300, -1e-300, 0.4142135623730951,
                 -0.2928932188134524, 1e300, 1.7976931348623157e308, -2.0, 9007199254740992.0]
    else:
        extra = [20.0, -20.0, 40.0, 710.0, 711.0, -711.0, 0.55, -0.55, 0.99, 1.01, 2.0,
                 1e300, -1e300, 0.9999999999999999, -0.9999999999999999]
    return np.array(common + extra, dtype=np.float64)


def compiled(name: str, x: np.ndarray, math_mode: str = "accurate"
             ) -> tuple[np.ndarray, BatchKernel]:
    """`name(x)` through a compiled plan, as `gradcli eval` over points computes it."""
    kernel = BatchKernel("eval", parse(f"{name}(x)"), {}, engine="compiled", math=math_mode)
    columns = dict(kernel.columns({"x": np.asarray(x, dtype=np.float64)}))
    if kernel.engine_used != "compiled":
        raise RuntimeError(f"{name} did not run compiled ({kernel.engine_used})")
    return np.asarray(columns["value"], dtype=np.float64), kernel


def evaluate(name: str, x: np.ndarray, math_mode: str = "accurate") -> np.ndarray:
    return compiled(name, x, math_mode)[0]


def plan_assembly(name: str) -> str:
    """The machine code (assembly text) of a compiled plan computing `name(x)`."""
    from gradcli.plans import jit

    kernel = compiled(name, np.linspace(0.1, 1.0, 64))[1]
    return jit.assembly(kernel.compiled_kernel.lowered.ir)


def ulp_errors(name: str, x: np.ndarray, ours: np.ndarray) -> np.ndarray:
    """Each result's error in ulps of the exact value (0 where both are NaN)."""
    import mpmath

    reference = REFERENCES[name]
    errors = np.zeros(len(x))
    with mpmath.workprec(200):
        huge = mpmath.mpf(2) ** 1024
        overflow = huge - mpmath.mpf(2) ** 970
        for i, (xi, yi) in enumerate(zip(x.tolist(), ours.tolist(), strict=True)):
            if math.isnan(xi) or math.isinf(xi):
                continue  # special_agrees checks these
            try:
                exact = reference(mpmath, mpmath.mpf(xi))
            except (ValueError, ZeroDivisionError):
                exact = mpmath.nan
            if not isinstance(exact, mpmath.mpf) or mpmath.isnan(exact):
                errors[i] = 0.0 if math.isnan(yi) else math.inf
                continue
            if math.isnan(yi):
                errors[i] = math.inf
                continue
            if mpmath.isinf(exact) or abs(exact) >= overflow:  # rounds to an infinity
                errors[i] = 0.0 if yi == math.copysign(math.inf, float(exact)) else math.inf
                continue
            exponent = mpmath.frexp(exact)[1] - 1 if exact != 0 else -1074
            unit = mpmath.mpf(2) ** max(exponent - 52, -1074)
            value = mpmath.mpf(yi) if not math.isinf(yi) else math.copysign(1, yi) * huge
            errors[i] = float(abs(value - exact) / unit)
    return errors


def screening_errors(name: str, x: np.ndarray, ours: np.ndarray) -> np.ndarray:
    """Each result's error in ulps against the x87 extended-precision C library
    (numpy's longdouble: 64-bit significands, 11 bits beyond a double's), all at once.

    An estimate, good to about 0.001 ulp, for picking out the points worth an exact
    check: mpmath costs tens of microseconds a point, this a few nanoseconds."""
    function = getattr(np, NUMPY.get(name, name))
    with np.errstate(all="ignore"):
        exact = function(x.astype(np.longdouble))
        exponent = np.frexp(exact)[1].astype(np.int64) - 1
        unit = np.ldexp(np.longdouble(1), np.maximum(exponent - 52, -1074))
        value = np.where(np.isinf(ours), np.copysign(np.longdouble(2.0) ** 1024, ours),
                         ours.astype(np.longdouble))
        errors = np.abs(value - exact) / unit
    overflowing = np.abs(exact) >= np.longdouble(2.0) ** 1024 - np.longdouble(2.0) ** 970
    errors = np.where(overflowing, np.where(ours == np.copysign(np.inf, exact), 0.0, np.inf),
                      errors)
    both_nan = np.isnan(exact) & np.isnan(ours)
    one_nan = np.isnan(exact) != np.isnan(ours)
    return np.where(both_nan, 0.0, np.where(one_nan, np.inf, errors)).astype(np.float64)


def special_agrees(name: str, x: np.ndarray, ours: np.ndarray) -> np.ndarray:
    """Where numpy gives NaN, an infinity or a zero, ours gives the same (sign included)."""
    with np.errstate(all="ignore"):
        expected = getattr(np, NUMPY.get(name, name))(x)
    special = np.isnan(expected) | np.isinf(expected) | (expected == 0)
    same = (np.isnan(expected) & np.isnan(ours)) | (
        (expected == ours) & (np.signbit(expected) == np.signbit(ours)))
    return ~special | same
