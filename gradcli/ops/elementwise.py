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


unary("neg", np.negative, lambda x, out: -1.0, help="negation, -x", printed="-{0}",
      curvature="linear")
unary("exp", np.exp, lambda x, out: out, help="e to the power x")
# expm1' = exp(x), not out + 1: that sum rounds to 0 (and loses the tail) once x < -37
unary("expm1", np.expm1, lambda x, out: fn.exp(x), help="exp(x) - 1, accurate for small x")
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
def _one_minus_square(x: Tensor) -> Tensor:
    """1 - x^2 to full precision for |x| <= 1, with a derivative that is as accurate.

    Near |x| = 1 it is (1 - x)(1 + x), whose factor 1 - x is exact there; near 0
    it is 1 - x*x, whose derivative -2x does not come from two rounded terms
    cancelling (as -(1 + x) + (1 - x) would)."""
    return fn.where(fn.abs(x) < 0.5, 1.0 - x * x, (1.0 - x) * (1.0 + x))


# derivatives written so that the values near the branch points (|x| = 1) and the
# tails (|x| up to 1e300) keep full precision: no 1 - x*x at x ~ 1, no x*x at 1e300
unary("asin", np.arcsin, lambda x, out: 1.0 / fn.sqrt(_one_minus_square(x)),
      help="inverse sine", aliases=("arcsin",), domain="-1 <= x <= 1", sample=(-0.9, 0.9))
unary("acos", np.arccos, lambda x, out: -1.0 / fn.sqrt(_one_minus_square(x)),
      help="inverse cosine", aliases=("arccos",), domain="-1 <= x <= 1", sample=(-0.9, 0.9))
unary("atan", np.arctan, lambda x, out: 1.0 / (1.0 + x * x), help="inverse tangent",
      aliases=("arctan",),
      note="for 1e77 < |x| < 1e102 the second derivative, -2x/(1 + x^2)^2 (below 1e-231), "
           "is computed through 1/(1 + x^2)^2, which underflows: 0 there")
unary("sinh", np.sinh, lambda x, out: fn.cosh(x), help="hyperbolic sine")
unary("cosh", np.cosh, lambda x, out: fn.sinh(x), help="hyperbolic cosine")
def _sech_squared(x: Tensor, out: Tensor) -> Tensor:
    # tanh' = sech(x)^2. Not 1 - tanh^2, which cancels to 0 once tanh rounds to 1
    # (|x| > 19), nor 4 sigmoid(2x) sigmoid(-2x), whose own derivative is two terms
    # near 2 cancelling to -2x (8e-8 relative at 1e-10). sech^2's derivative is
    # -2 sinh/cosh^3: accurate at any x, and it underflows only where the truth does.
    sech = 1.0 / fn.cosh(x)
    return sech * sech


unary("tanh", np.tanh, _sech_squared, help="hyperbolic tangent")
# 1/hypot(x, 1), not 1/sqrt(x^2 + 1): x^2 overflows at 1e300 (derivative 1e-300, not 0)
unary("asinh", np.arcsinh, lambda x, out: 1.0 / fn.hypot(x, 1.0),
      help="inverse hyperbolic sine", aliases=("arcsinh",))
# sqrt(x - 1) sqrt(x + 1): x - 1 is exact near 1, and nothing squares x at 1e300
unary("acosh", np.arccosh, lambda x, out: 1.0 / (fn.sqrt(x - 1.0) * fn.sqrt(x + 1.0)),
      help="inverse hyperbolic cosine", domain="x >= 1", sample=(1.2, 3.0), aliases=("arccosh",))
unary("atanh", np.arctanh, lambda x, out: 1.0 / _one_minus_square(x),
      help="inverse hyperbolic tangent", domain="-1 < x < 1", sample=(-0.9, 0.9),
      aliases=("arctanh",))
def _sigmoid_derivative(x: Tensor, out: Tensor) -> Tensor:
    # sigmoid' = (sech(x/2)/2)^2. Not out * (1 - out), which cancels for large x, nor
    # sigmoid(x) sigmoid(-x), whose own derivative is two terms near 1/4 cancelling to
    # -x/8 near 0 (4e8 ulps at 1e-10)
    half = 0.5 / fn.cosh(0.5 * x)
    return half * half


unary("sigmoid", _sigmoid, _sigmoid_derivative,
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
unary("deg2rad", np.deg2rad, lambda x, out: DEGREE, curvature="linear",
      help="degrees to radians, x*pi/180", sample=(-180.0, 180.0))
unary("rad2deg", np.rad2deg, lambda x, out: 1.0 / DEGREE, curvature="linear",
      help="radians to degrees, x*180/pi")
