"""Neural-network activations: log_sigmoid, gelu, silu, softsign, elu.

Each is written so that neither tail overflows, and each derivative is Tensor
code over other entries (sigmoid, erfc, exp), so second derivatives work.
Where a derivative is a choice at a kink, the entry's note says which.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.batching import elementwise
from gradcli.engine.tensor import Tensor
from gradcli.errors import ArgumentError
from gradcli.ops import special
from gradcli.ops._define import defop, evaluate, fn, unary

ACTIVATIONS = "activations"
INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


unary("log_sigmoid", _log_sigmoid, lambda x, out: fn.sigmoid(-x), group=ACTIVATIONS,
      help="log(sigmoid(x)) = -softplus(-x), without overflow")


def _gelu(x: np.ndarray) -> np.ndarray:
    # x * Phi(x), with Phi(x) = erfc(-x/sqrt 2)/2: accurate in the left tail too
    return 0.5 * x * special.erfc(-x * INV_SQRT2)


unary("gelu", _gelu,
      lambda x, out: 0.5 * fn.erfc(-x * INV_SQRT2) + x * fn.exp(-0.5 * x * x) * INV_SQRT_2PI,
      group=ACTIVATIONS, help="x * Phi(x), the exact (erf) form of GELU",
      scalar=lambda x: 0.5 * x * (-x * INV_SQRT2).call("erfc"))


def _silu(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return x * np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _silu_derivative(x: Tensor, out: Tensor) -> Tensor:
    # 1 - s written as sigmoid(-x), which keeps its precision where s rounds to 1
    s = fn.sigmoid(x)
    return s * (1.0 + x * fn.sigmoid(-x))


unary("silu", _silu, _silu_derivative, group=ACTIVATIONS,
      help="x * sigmoid(x) (also called swish)")
unary("softsign", lambda x: x / (1.0 + np.abs(x)),
      lambda x, out: (1.0 + fn.abs(x)) ** -2.0, group=ACTIVATIONS, help="x / (1 + |x|)",
      note="smooth to first order; at x = 0 the second derivative is 0 (the mean of -2 and 2)")


def _elu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _elu_derivative(x: Tensor, out: Tensor, alpha: float) -> Tensor:
    # alpha e^x, not out + alpha: that sum cancels to 0 once e^x < 1e-16 (x < -37). The
    # exponent is capped at 0 so the branch not taken never overflows
    return fn.where(x > 0.0, 1.0, alpha * fn.exp(fn.where(x > 0.0, 0.0, x)))


def _elu_linear(out: np.ndarray, x: np.ndarray, alpha: float) -> list[Any]:
    return [evaluate(lambda a, b: _elu_derivative(a, b, alpha), x, out)]


def _alpha(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    alpha = params["alpha"]
    if isinstance(alpha, Tensor) and alpha.size == 1:
        alpha = alpha.item()
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise ArgumentError(f"elu: alpha must be a number, got {alpha!r}")
    params["alpha"] = float(alpha)
    return tensors, params


defop("elu", _elu, vjp=(lambda g, out, x, alpha: g * _elu_derivative(x, out, alpha),),
      jvp=None, linear=_elu_linear, params=(("alpha", 1.0),),
      prepare=_alpha, kind="elementwise", method=True, group=ACTIVATIONS, batch=elementwise,
      help="x for x > 0, alpha*(e^x - 1) below",
      note="at x = 0 the derivative is alpha (the left side, as PyTorch)")
