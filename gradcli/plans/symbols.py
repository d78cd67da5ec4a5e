"""Arrays of scalar symbols that numpy's own functions run on.

An op's forward is numpy code. Given a `Symbols` array (an object array of
`gradcli.plans.scalar.Scalar`), numpy hands every ufunc call and every array
function to the hooks below (NEP 13 and NEP 18), which apply the ufunc one
element at a time with the scalar rule of the same name. numpy's object loops
already do that for arithmetic and for `sin`, `exp`, ... (they call the
symbols' methods); the rules here add what those loops cannot: comparisons
that give symbols rather than Python bools, `where` and `maximum` as selects,
`isfinite`, `sign`, `fmod`, `heaviside`, and the special functions the C
library has. So `np.where(x > 0, x, 2 * x)`, `np.maximum(x, 0)`,
`np.sum(a * b, axis=-1)` or `a @ b` inside an entry's forward lower to
scalar code without the entry saying anything; an entry needs its own
`scalar` form only where its forward does something symbols cannot do
(boolean-mask assignment, writing into a float array).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli.plans.scalar import NotCompilable, Scalar, constant

_INF = math.inf


def _remainder(a: Scalar, b: Scalar) -> Scalar:
    """numpy's float remainder (npy_divmod): fmod, moved to the divisor's sign."""
    mod = a.fmod(b)
    moved = ((b < 0.0) != (mod < 0.0)).select(mod + b, mod)
    zero = (b < 0.0).select(-0.0, 0.0)
    return (mod != 0.0).select(moved, (b == 0.0).select(mod, zero))


def _heaviside(x: Scalar, h0: Scalar) -> Scalar:
    return (x != x).select(x, (x == 0.0).select(h0, (x < 0.0).select(0.0, 1.0)))


def _sign(x: Scalar) -> Scalar:
    return (x > 0.0).select(1.0, (x < 0.0).select(-1.0, (x == 0.0).select(0.0, x)))


def _larger(x: Scalar, y: Scalar) -> Scalar:
    return (x >= y).select(1.0, x != x).select(x, y)


def _smaller(x: Scalar, y: Scalar) -> Scalar:
    return (x <= y).select(1.0, x != x).select(x, y)


def _log_add_exp(x: Scalar, y: Scalar) -> Scalar:
    d = x - y
    unequal = (d > 0.0).select(x + (-d).call("exp").call("log1p"),
                               (d <= 0.0).select(y + d.call("exp").call("log1p"), d))
    return (x == y).select(x + math.log(2.0), unequal)


def _libm(name: str) -> Callable[[Scalar], Scalar]:
    return lambda x: x.call(name)


#: ufuncs (numpy's and scipy.special's, by name) whose object loop does not give symbols
UFUNC_RULES: dict[str, Callable[..., Scalar]] = {
    "less": operator.lt, "less_equal": operator.le, "greater": operator.gt,
    "greater_equal": operator.ge, "equal": operator.eq, "not_equal": operator.ne,
    "logical_not": lambda a: a == 0.0,
    "logical_and": lambda a, b: (a != 0.0).select(b != 0.0, 0.0),
    "logical_or": lambda a, b: (a != 0.0).select(1.0, b != 0.0),
    "isnan": lambda a: a != a, "isfinite": lambda a: (a - a) == 0.0,
    "isinf": lambda a: abs(a) == _INF,
    "maximum": _larger, "minimum": _smaller, "sign": _sign,
    "logaddexp": _log_add_exp, "heaviside": _heaviside,
    "fmod": lambda a, b: a.fmod(b), "remainder": _remainder,
    "trunc": _libm("trunc"), "rint": _libm("rint"), "floor": _libm("floor"),
    "ceil": _libm("ceil"), "fabs": _libm("fabs"), "absolute": _libm("fabs"),
    "square": lambda a: a * a, "reciprocal": lambda a: 1.0 / a,
    "deg2rad": lambda a: a * (math.pi / 180.0), "radians": lambda a: a * (math.pi / 180.0),
    "rad2deg": lambda a: a * (180.0 / math.pi), "degrees": lambda a: a * (180.0 / math.pi),
    "power": operator.pow, "float_power": operator.pow,
    "erf": _libm("erf"), "erfc": _libm("erfc"), "gamma": _libm("tgamma"),
    "gammaln": _libm("lgamma"),
    "xlogy": lambda x, y: ((x == 0.0) * (y == y)).select(0.0, x * y.call("log")),
}
def _det(m: np.ndarray) -> Any:
    """The determinant of a small matrix of symbols, by expansion along the first row."""
    n = m.shape[0]
    if n == 1:
        return m[0, 0]
    if n == 2:
        return m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    if n > 4:
        raise NotCompilable("det of a matrix larger than 4x4")
    total: Any = None
    for j in range(n):
        minor = np.delete(np.delete(m, 0, axis=0), j, axis=1)
        term = m[0, j] * _det(minor)  # n <= 4: at most three levels
        total = term if total is None else (total + term if j % 2 == 0 else total - term)
    return total


def _inv(m: np.ndarray) -> np.ndarray:
    """The inverse of a small matrix of symbols: the adjugate over the determinant."""
    n = m.shape[0]
    if n > 3:
        raise NotCompilable("inv of a matrix larger than 3x3")
    det = _det(m)
    out = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(m, j, axis=0), i, axis=1)
            cofactor = _det(minor) if n > 1 else constant(1.0)
            out[i, j] = (cofactor if (i + j) % 2 == 0 else -cofactor) / det
    return out


def _per_matrix(rule: Callable[[np.ndarray], Any], a: np.ndarray) -> np.ndarray:
    """`rule` applied to each matrix of a stack (the last two axes)."""
    results = [rule(a[index]) for index in np.ndindex(a.shape[:-2])]
    shape = np.shape(results[0]) if results else ()
    stacked = np.empty((len(results), *shape), dtype=object)
    for k, result in enumerate(results):
        stacked[k] = result
    return stacked.reshape((*a.shape[:-2], *shape))


#: numpy.linalg's functions of a stack of matrices, for small matrices
_MATRIX_RULES: dict[str, Callable[[np.ndarray], Any]] = {"det": _det, "inv": _inv}

#: scipy.special functions the C library lacks: ops built on them run on the numpy replay
NUMPY_ONLY = ("psi", "polygamma", "beta", "erfinv", "erfcinv")
_REDUCE_RULES: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add, "multiply": operator.mul, "maximum": _larger, "minimum": _smaller,
}


def plain(value: Any) -> Any:
    """An object ndarray of symbols (constants become constant symbols), not a `Symbols`."""
    if isinstance(value, Scalar):
        return value
    array = np.asarray(value)
    if array.dtype == object:
        if any(not isinstance(v, Scalar) for v in array.flat):
            return _constants(array)
        return array
    return _constants(array)


def _constants(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    for index, v in np.ndenumerate(array):
        out[index] = v if isinstance(v, Scalar) else constant(float(v))
    return out


def symbols(value: Any) -> Symbols:
    """`value` (an array, a number, symbols) as a Symbols array."""
    return np.asarray(plain(value), dtype=object).view(Symbols)


def _wrap(result: Any) -> Any:
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, (np.ndarray, Scalar)):
        return symbols(result)
    return result


class Symbols(np.ndarray):
    """An object array of scalar symbols on which numpy's functions write scalar code."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any,
                        **kwargs: Any) -> Any:
        out = kwargs.pop("out", None)
        if kwargs.pop("where", True) is not True:
            raise NotCompilable(f"{ufunc.__name__} with where=")
        if out is not None:  # in place (`a[index] += g`): only into arrays of symbols
            (target,) = out
            if target.dtype != object or method != "__call__":
                raise NotCompilable(f"{ufunc.__name__} into an array of numbers")
            target[...] = np.asarray(self.__array_ufunc__(ufunc, method, *inputs), dtype=object)
            return target
        kwargs.pop("dtype", None)
        kwargs.pop("casting", None)
        args = [plain(i) for i in inputs]
        rule = UFUNC_RULES.get(ufunc.__name__)
        if method == "__call__":
            if rule is not None:
                return _wrap(np.frompyfunc(rule, ufunc.nin, 1)(*args))
            try:
                return _wrap(ufunc(*args, **kwargs))
            except (TypeError, AttributeError) as exc:
                raise NotCompilable(f"no scalar form of {ufunc.__name__} ({exc})") from None
        if method == "reduce" and ufunc.__name__ in _REDUCE_RULES:
            if kwargs.get("initial") is not None:
                raise NotCompilable("a reduction with an initial value")
            return _wrap(_reduce(_REDUCE_RULES[ufunc.__name__], args[0],
                                 kwargs.get("axis", 0), bool(kwargs.get("keepdims", False))))
        if method == "accumulate" and ufunc.__name__ in _REDUCE_RULES:
            step = np.frompyfunc(_REDUCE_RULES[ufunc.__name__], 2, 1)
            return _wrap(step.accumulate(args[0], axis=kwargs.get("axis", 0)))
        raise NotCompilable(f"no scalar form of {ufunc.__name__}.{method}")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func is np.where and len(args) == 3:
            condition, a, b = (plain(x) for x in args)
            return _wrap(np.frompyfunc(lambda c, x, y: c.select(x, y), 3, 1)(condition, a, b))
        matrix = _MATRIX_RULES.get(getattr(func, "__name__", ""))
        if matrix is not None and getattr(func, "__module__", "").startswith("numpy.linalg"):
            return _wrap(_per_matrix(matrix, plain(args[0])))
        implementation = getattr(func, "_implementation", func)
        return _wrap(implementation(*args, **kwargs))

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        kind = np.dtype(dtype).kind
        if kind == "b":
            return _wrap(np.frompyfunc(lambda a: a != 0.0, 1, 1)(plain(self)))
        if kind == "f":
            return self
        raise NotCompilable(f"symbols as {np.dtype(dtype)}")


def _reduce(step: Callable[[Any, Any], Any], x: np.ndarray, axis: Any,
            keepdims: bool) -> np.ndarray:
    """`step` folded over `axis` (None: all axes), in numpy's order for one axis."""
    x = np.asarray(x, dtype=object)
    axes = tuple(range(x.ndim)) if axis is None else tuple(
        a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, [*rest, *axes]).reshape([x.shape[i] for i in rest] + [-1])
    out = np.asarray(np.frompyfunc(step, 2, 1).reduce(moved, axis=-1), dtype=object)
    if keepdims:
        out = out.reshape([1 if i in axes else n for i, n in enumerate(x.shape)])
    return out
