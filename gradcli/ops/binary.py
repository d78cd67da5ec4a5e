"""Broadcasting functions of several arguments, and the Tensor operators.

Partials are written as (x, y, out) -> Tensor. The engine sums each input's
gradient back to that input's shape, so no rule here deals with broadcasting.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.batching import elementwise
from gradcli.engine.tensor import Tensor, apply, operand
from gradcli.ops._define import binary, defop, fn


def _elementwise(name: str, forward: Any, vjp: Any, linear: Any, **kwargs: Any) -> Any:
    """An entry whose JVP, dense or sparse, follows from its linear coefficients."""
    return defop(name, forward, vjp=vjp, jvp=None, linear=linear,
                 broadcasting=True, batch=elementwise, **kwargs)


ADD = _elementwise("add", np.add, (lambda g, out, x, y: g, lambda g, out, x, y: g),
                   lambda out, x, y: [1.0, 1.0], nin=2, kind="binary", help="x + y",
                   curvature="linear", printed="{0} + {1}")
SUB = _elementwise("sub", np.subtract, (lambda g, out, x, y: g, lambda g, out, x, y: -g),
                   lambda out, x, y: [1.0, -1.0], nin=2, kind="binary", help="x - y",
                   curvature="linear", printed="{0} - {1}")
MUL = binary("mul", np.multiply, (lambda x, y, out: y, lambda x, y, out: x), help="x * y",
             printed="{0}*{1}", taylor="bilinear", curvature="bilinear")
DIV = _elementwise(
    "div", np.divide, (lambda g, out, x, y: g / y, lambda g, out, x, y: -g * out / y),
    lambda out, x, y: [1.0 / y, -out / y],
    nin=2, kind="binary", help="x / y", domain="y != 0", sample=((-2, 2), (0.5, 2)),
    printed="{0}/{1}", taylor="quotient")
def _pow_base_partial(x: Tensor, y: Tensor, out: Tensor) -> Tensor | float:
    if not y.requires_grad and y.data.ndim == 0:
        # a constant exponent, the common case (x^2, x^3): fewer recorded ops
        k = float(y.data)
        if k == 0.0:
            return 0.0  # PyTorch's choice: d/dx x^0 = 0, also at x = 0
        if k == 1.0:
            return 1.0
        if k == 2.0:
            return 2.0 * x
        return k * x ** (k - 1.0)
    # y x^(y-1) is already 0 at y = 0 for x != 0, so only 0^0 needs PyTorch's mask
    # (derivative 0, not 0 * inf). A mask on y == 0 alone would also zero this
    # partial's y-derivative there, x^(y-1), and the Hessian would not be symmetric.
    general = y * x ** (y - 1.0)
    return fn.where(x == 0.0, fn.where(y == 0.0, 0.0, general), general)


def _pow_exponent_partial(x: Tensor, y: Tensor, out: Tensor) -> Tensor:
    # at base 0: 0 for exponent >= 0 (PyTorch's choice) and -inf below (0^y log 0). Both
    # are constants, and the other branch takes log(1) there: a branch not taken that
    # held 0 * log(0) = nan would come back as nan in second derivatives
    at_zero = fn.where(y >= 0.0, 0.0, -math.inf)
    return fn.where(x == 0.0, at_zero, out * fn.log(fn.where(x == 0.0, 1.0, x)))


POW = binary(
    "pow", np.power,
    (
        _pow_base_partial,
        lambda x, y, out: _pow_exponent_partial(x, y, out),
    ),
    help="x to the power y (also written x^y or x**y)", domain="x > 0 unless y is whole",
    sample=((0.3, 2.0), (-2.0, 2.0)),
    note="d/dx at y = 0 is 0 (y x^(y-1) there, and 0 at x = 0 too), and d/dy at x = 0 "
         "(y >= 0) is 0, as in PyTorch",
    inputs=("x", "y"), printed="{0}^{1}", taylor="power")
# x/(x^2 + y^2) written as (x/r)/r with r = hypot(y, x): x^2 + y^2 underflows to 0
# at 1e-300 (and overflows at 1e200), the scaled form does neither
binary("atan2", np.arctan2,
       (lambda y, x, out: x / fn.hypot(y, x) / fn.hypot(y, x),
        lambda y, x, out: -y / fn.hypot(y, x) / fn.hypot(y, x)),
       help="angle of the point (x, y), in (-pi, pi]", inputs=("y", "x"),
       sample=((0.2, 2.0), (0.2, 2.0)),
       note="undefined at (0, 0): the derivative is nan. Where x^2 + y^2 is below about "
            "1e-308 the second derivatives (of size 1/(x^2 + y^2)) overflow, and a mixed "
            "partial that is 0 there is the difference of two such terms: nan")
binary("hypot", np.hypot, (lambda x, y, out: x / out, lambda x, y, out: y / out),
       help="sqrt(x^2 + y^2) without overflow", sample=((0.2, 2.0), (0.2, 2.0)),
       note="at (0, 0) the derivative is nan, as in PyTorch")
binary("maximum", np.maximum,
       (lambda x, y, out: fn.where(x > y, 1.0, fn.where(x == y, 0.5, 0.0)),
        lambda x, y, out: fn.where(y > x, 1.0, fn.where(x == y, 0.5, 0.0))),
       help="elementwise larger of x and y", note="on a tie each side gets half the gradient")
binary("minimum", np.minimum,
       (lambda x, y, out: fn.where(x < y, 1.0, fn.where(x == y, 0.5, 0.0)),
        lambda x, y, out: fn.where(y < x, 1.0, fn.where(x == y, 0.5, 0.0))),
       help="elementwise smaller of x and y", note="on a tie each side gets half the gradient")
# d/dy (x - y*floor(x/y)) = -floor(x/y), the floor being piecewise constant (as PyTorch)
binary("mod", np.mod, (lambda x, y, out: 1.0, lambda x, y, out: -fn.floor(x / y)),
       help="remainder with the divisor's sign, as Python's %; also written x % y",
       domain="y != 0", sample=((2.1, 2.9), (1.0, 1.04)),
       note="d/dx = 1 and d/dy = -floor(x/y); at multiples of y the value jumps and these "
            "one-sided values are used")
binary("fmod", np.fmod, (lambda x, y, out: 1.0, lambda x, y, out: -fn.trunc(x / y)),
       help="remainder with the dividend's sign, as C's fmod",
       domain="y != 0", sample=((2.1, 2.9), (1.0, 1.04)),
       note="d/dx = 1 and d/dy = -trunc(x/y); at multiples of y the value jumps")
binary("heaviside", np.heaviside,
       (lambda x, h0, out: 0.0, lambda x, h0, out: fn.where(x == 0.0, 1.0, 0.0)),
       inputs=("x", "h0"), help="step function: 0 for x < 0, h0 at x = 0, 1 for x > 0",
       sample=((0.1, 2.0), (0.0, 1.0)),
       note="piecewise constant in x (derivative 0); d/dh0 is 1 where x = 0")
# the partials are sigmoid(x - y) and sigmoid(y - x), not exp(x - out): x - out is
# rounded where out is large, and the second derivative, p(1 - p), then cancels
binary("logaddexp", np.logaddexp,
       (lambda x, y, out: fn.sigmoid(x - y), lambda x, y, out: fn.sigmoid(y - x)),
       help="log(e^x + e^y) without overflow")


def _where(cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(cond.astype(bool), x, y)


def _where_linear(out: np.ndarray, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[Any]:
    mask = cond.astype(bool)
    return [None, mask.astype(np.float64), (~mask).astype(np.float64)]


_elementwise("where", _where,
             (lambda g, out, c, x, y: None,
              lambda g, out, c, x, y: fn.where(c, g, 0.0),
              lambda g, out, c, x, y: fn.where(c, 0.0, g)),
             _where_linear, nin=3, kind="binary", inputs=("cond", "x", "y"),
             conditions=("cond",), curvature="linear",
             help="x where cond is true, else y", sample=((0.0, 1.0), (-2, 2), (-2, 2)),
             note="the condition gets no gradient; the branch not taken gets exactly 0")


def _clip_masks(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[Any, Any, Any]:
    return (x >= lo) & (x <= hi), x < lo, x > hi


_elementwise(
    "clip", lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
    (lambda g, out, x, lo, hi: g * fn.where(x >= lo, fn.where(x <= hi, 1.0, 0.0), 0.0),
     lambda g, out, x, lo, hi: g * fn.where(x < lo, 1.0, 0.0),
     lambda g, out, x, lo, hi: g * fn.where(x > hi, 1.0, 0.0)),
    lambda out, x, lo, hi: [m.astype(np.float64) for m in _clip_masks(x, lo, hi)],
    nin=3, kind="binary", inputs=("x", "lo", "hi"), help="x limited to [lo, hi]",
    sample=((-2, 2), (-3, -2.5), (2.5, 3)),
    note="at x = lo or x = hi the gradient goes to x, as in PyTorch's clamp")

_COMPARISONS = {
    "lt": (np.less, "x < y"), "le": (np.less_equal, "x <= y"),
    "gt": (np.greater, "x > y"), "ge": (np.greater_equal, "x >= y"),
    "eq": (np.equal, "x == y"), "ne": (np.not_equal, "x != y"),
}
for _name, (_forward, _text) in _COMPARISONS.items():
    defop(_name, _forward, vjp=None, jvp=None, nin=2, kind="comparison",
          help=f"{_text}, elementwise (true/false, no gradient)", broadcasting=True,
          differentiable=False, public=False, batch=elementwise,
          printed=_text.replace(" ", "").replace("x", "{0}").replace("y", "{1}"))


# -- Tensor operators: the hot path, so they call `apply` directly -------------
_NONE: dict[str, Any] = {}


def _operator(op_name: str, reflected: bool = False) -> Any:
    from gradcli.engine.op import lookup

    op = lookup(op_name)
    if reflected:
        return lambda self, other: apply(op, (operand(other), self), _NONE)
    return lambda self, other: apply(op, (self, operand(other)), _NONE)


for _dunder, _name in {"add": "add", "sub": "sub", "mul": "mul", "truediv": "div",
                       "pow": "pow", "matmul": "matmul"}.items():
    if _name == "matmul":
        continue  # installed by gradcli.ops.arrays, which defines matmul
    setattr(Tensor, f"__{_dunder}__", _operator(_name))
    setattr(Tensor, f"__r{_dunder}__", _operator(_name, reflected=True))
for _dunder, _name in {"lt": "lt", "le": "le", "gt": "gt", "ge": "ge", "eq": "eq",
                       "ne": "ne"}.items():
    setattr(Tensor, f"__{_dunder}__", _operator(_name))
setattr(Tensor, "__neg__", lambda self: fn.neg(self))
setattr(Tensor, "__pos__", lambda self: self)
