"""Elementwise functions of one argument: one entry each, derivative as Tensor code.

`derivative(x, out)` is f'(x); it may use the output (`out`) where that is
cheaper, as exp does. Entries whose derivative is a choice (a kink, a jump)
say which one is used and why, next to the entry.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.batching import elementwise
from gradcli.engine.tensor import Tensor
from gradcli.errors import ArgumentError
from gradcli.ops import special
from gradcli.ops._define import defop, fn, unary

LN2 = math.log(2.0)
LN10 = math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
DEGREE = math.pi / 180.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # written this way so that neither branch overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _logit(x: np.ndarray) -> np.ndarray:
    return np.log(x) - np.log1p(-x)


unary("neg", np.negative, lambda x, out: -1.0, help="negation, -x", printed="-{0}")
unary("exp", np.exp, lambda x, out: out, help="e to the power x")
unary("expm1", np.expm1, lambda x, out: out + 1.0, help="exp(x) - 1, accurate for small x")
unary("exp2", np.exp2, lambda x, out: out * LN2, help="2 to the power x")
def _log(x: np.ndarray, base: float | None) -> np.ndarray:
    return np.log(x) if base is None else np.log(x) / math.log(base)


def _log_scale(base: float | None) -> float:
    return 1.0 if base is None else 1.0 / math.log(base)


def _log_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    base = params["base"]
    if base is not None:
        base = base.item() if isinstance(base, Tensor) else base
        if isinstance(base, (bool, str)) or not isinstance(base, (int, float)):
            raise ArgumentError(f"log: base must be a number, got {base!r}")
        base = float(base)
        if not base > 0 or base == 1.0:
            raise ArgumentError(f"log: base must be > 0 and not 1, got {base}")
    params["base"] = base
    return tensors, params


defop("log", _log, vjp=(lambda g, out, x, base: g * (_log_scale(base) / x),),
      jvp=None,
      linear=lambda out, x, base: [_log_scale(base) / x], params=(("base", None),),
      prepare=_log_prepare, kind="elementwise", method=True, domain="x > 0", batch=elementwise,
      aliases=("ln",),
      sample=((0.2, 3.0),), help="natural logarithm; log(x, base=b) for base b")
unary("log1p", np.log1p, lambda x, out: 1.0 / (x + 1.0), help="log(1 + x), accurate for small x",
      domain="x > -1", sample=(-0.8, 3.0))
unary("log2", np.log2, lambda x, out: 1.0 / (x * LN2), help="base-2 logarithm",
      domain="x > 0", sample=(0.2, 3.0))
unary("log10", np.log10, lambda x, out: 1.0 / (x * LN10), help="base-10 logarithm",
      domain="x > 0", sample=(0.2, 3.0))
unary("sqrt", np.sqrt, lambda x, out: 0.5 / out, help="square root",
      domain="x >= 0", sample=(0.2, 3.0),
      note="at x = 0 the derivative is +inf, as in PyTorch")
unary("cbrt", np.cbrt, lambda x, out: 1.0 / (3.0 * out * out), help="cube root",
      sample=(0.2, 3.0), note="at x = 0 the derivative is +inf")
unary("square", np.square, lambda x, out: 2.0 * x, help="x * x")
unary("abs", np.abs, lambda x, out: fn.sign(x), help="absolute value",
      note="at x = 0 the derivative is 0 (the subgradient PyTorch uses)")
unary("sign", np.sign, None, help="-1, 0 or 1", sample=(0.1, 2.0),
      note="piecewise constant: derivative 0 everywhere, as in PyTorch")
unary("sin", np.sin, lambda x, out: fn.cos(x), help="sine (radians)")
unary("cos", np.cos, lambda x, out: -fn.sin(x), help="cosine (radians)")
unary("tan", np.tan, lambda x, out: 1.0 + out * out, help="tangent (radians)",
      domain="x != pi/2 + k*pi", sample=(-1.2, 1.2))
unary("asin", np.arcsin, lambda x, out: 1.0 / fn.sqrt(1.0 - x * x), help="inverse sine",
      aliases=("arcsin",),
      domain="-1 <= x <= 1", sample=(-0.9, 0.9))
unary("acos", np.arccos, lambda x, out: -1.0 / fn.sqrt(1.0 - x * x), help="inverse cosine",
      aliases=("arccos",),
      domain="-1 <= x <= 1", sample=(-0.9, 0.9))
unary("atan", np.arctan, lambda x, out: 1.0 / (1.0 + x * x), help="inverse tangent",
      aliases=("arctan",))
unary("sinh", np.sinh, lambda x, out: fn.cosh(x), help="hyperbolic sine")
unary("cosh", np.cosh, lambda x, out: fn.sinh(x), help="hyperbolic cosine")
# tanh' = 1 - tanh^2 cancels to 0 once tanh rounds to 1 (|x| > 19); the same number
# written as 4 sigmoid(2x) sigmoid(-2x) keeps its relative precision at any x
unary("tanh", np.tanh, lambda x, out: 4.0 * fn.sigmoid(2.0 * x) * fn.sigmoid(-2.0 * x),
      help="hyperbolic tangent")
unary("asinh", np.arcsinh, lambda x, out: 1.0 / fn.sqrt(x * x + 1.0),
      help="inverse hyperbolic sine", aliases=("arcsinh",))
unary("acosh", np.arccosh, lambda x, out: 1.0 / fn.sqrt(x * x - 1.0),
      help="inverse hyperbolic cosine", domain="x >= 1", sample=(1.2, 3.0), aliases=("arccosh",))
unary("atanh", np.arctanh, lambda x, out: 1.0 / (1.0 - x * x),
      help="inverse hyperbolic tangent", domain="-1 < x < 1", sample=(-0.9, 0.9),
      aliases=("arctanh",))
# sigmoid' = sigmoid(x) sigmoid(-x), not out * (1 - out), which cancels for large x
unary("sigmoid", _sigmoid, lambda x, out: out * fn.sigmoid(-x),
      help="logistic function 1/(1+e^-x)", group="activations")
unary("logit", _logit, lambda x, out: 1.0 / (x * (1.0 - x)),
      help="inverse of sigmoid, log(x/(1-x))", domain="0 < x < 1", sample=(0.1, 0.9))
unary("softplus", _softplus, lambda x, out: fn.sigmoid(x), help="log(1 + e^x), a smooth relu",
      group="activations")
unary("relu", lambda x: np.maximum(x, 0.0), lambda x, out: fn.where(x > 0.0, 1.0, 0.0),
      help="max(x, 0)", note="at x = 0 the derivative is 0, as in PyTorch", group="activations")
unary("erf", special.erf, lambda x, out: TWO_OVER_SQRT_PI * fn.exp(-x * x),
      help="error function", group="special functions", scalar=lambda x: x.call("erf"))
unary("erfc", special.erfc, lambda x, out: -TWO_OVER_SQRT_PI * fn.exp(-x * x),
      help="complementary error function, 1 - erf(x)", group="special functions",
      scalar=lambda x: x.call("erfc"))
unary("floor", np.floor, None, help="largest integer <= x", sample=(0.1, 0.9),
      note="piecewise constant: derivative 0 everywhere, as in PyTorch")
unary("ceil", np.ceil, None, help="smallest integer >= x", sample=(0.1, 0.9),
      note="piecewise constant: derivative 0 everywhere, as in PyTorch")
unary("round", np.round, None, help="nearest integer (halves to even)", sample=(0.1, 0.4),
      note="piecewise constant: derivative 0 everywhere, as in PyTorch")
unary("trunc", np.trunc, None, help="x with its fractional part dropped (towards 0)",
      sample=(0.1, 0.9), note="piecewise constant: derivative 0 everywhere, as in PyTorch")
unary("sec", lambda x: 1.0 / np.cos(x), lambda x, out: out * fn.tan(x), help="secant, 1/cos(x)",
      domain="x != pi/2 + k*pi", sample=(-1.2, 1.2))
unary("csc", lambda x: 1.0 / np.sin(x), lambda x, out: -out * fn.cot(x),
      help="cosecant, 1/sin(x)", domain="x != k*pi", sample=(0.3, 2.8))
unary("cot", lambda x: np.cos(x) / np.sin(x), lambda x, out: -(1.0 + out * out),
      help="cotangent, cos(x)/sin(x)", domain="x != k*pi", sample=(0.3, 2.8))
unary("deg2rad", np.deg2rad, lambda x, out: DEGREE, help="degrees to radians, x*pi/180",
      sample=(-180.0, 180.0))
unary("rad2deg", np.rad2deg, lambda x, out: 1.0 / DEGREE, help="radians to degrees, x*180/pi")
