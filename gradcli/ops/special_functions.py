"""The gamma family, inverse error functions, beta, sinc and xlogy: one entry each.

The kernels are scipy.special's, imported on the first call of such an op, so
a command that uses none of them never pays for importing scipy. Each
derivative is Tensor code built from entries of this same table (the gamma
function's is gamma times digamma, digamma's is polygamma(1, x), polygamma's
is polygamma(n + 1, x)), so derivatives of every order stay inside the table.

erf and erfc keep gradcli's own kernel (`gradcli.ops.special`): it is accurate
to 2e-16 relative where scipy's erfc is off by up to 6e-14 in the far tail,
and it costs no scipy import at one point. scipy's is about seven times faster
over a million points; accuracy won.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.batching import elementwise
from gradcli.engine.tensor import Tensor
from gradcli.ops._define import binary, defop, evaluate, fn, unary

SPECIAL = "special functions"
HALF_SQRT_PI = 0.5 * math.sqrt(math.pi)


def scipy_special() -> Any:
    """scipy.special, imported here on first use and nowhere at start-up."""
    from scipy import special

    return special


def _gamma(x: np.ndarray) -> np.ndarray:
    return scipy_special().gamma(x)


def _lgamma(x: np.ndarray) -> np.ndarray:
    return scipy_special().gammaln(x)


def _digamma(x: np.ndarray) -> np.ndarray:
    return scipy_special().psi(x)


def _polygamma(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    n, x = np.broadcast_arrays(np.asarray(n, dtype=np.float64), np.asarray(x, dtype=np.float64))
    whole = (n >= 0) & (n == np.floor(n))
    # scipy warns and misbehaves for n that is not a whole number >= 0: those give nan
    out = scipy_special().polygamma(np.where(whole, n, 0.0).astype(np.int64), x)
    return np.where(whole, out, np.nan)


def _off_the_poles(x: np.ndarray) -> np.ndarray:
    """gamma's domain as a test: every x but 0, -1, -2, ..."""
    return ~((x <= 0) & (x == np.floor(x)))


unary("gamma", _gamma, lambda x, out: out * fn.digamma(x), group=SPECIAL,
      inside=_off_the_poles,
      help="the gamma function, (x-1)! at whole x; also written (x-1)!",
      domain="x not 0, -1, -2, ...", sample=(0.3, 4.0),
      note="at the poles 0, -1, -2, ... the value is inf or nan (as scipy), never an error")
unary("lgamma", _lgamma, lambda x, out: fn.digamma(x), group=SPECIAL, inside=_off_the_poles,
      help="log |gamma(x)|, without overflow", domain="x not 0, -1, -2, ...",
      sample=(0.3, 6.0), note="at the poles the value is +inf")
unary("digamma", _digamma, lambda x, out: fn.polygamma(1.0, x), group=SPECIAL,
      inside=_off_the_poles,
      help="d/dx lgamma(x), the psi function", domain="x not 0, -1, -2, ...",
      sample=(0.3, 4.0))


def _polygamma_dx(n: Tensor, x: Tensor) -> Tensor:
    # polygamma(n + 1, x) would be defined at n = -1, where polygamma itself is nan:
    # the derivative of a nan value is nan, not digamma(x)
    return fn.where(n >= 0.0, fn.polygamma(n + 1.0, x), math.nan)


# n is an order, not a variable: it gets no gradient (like where's condition)
defop("polygamma", _polygamma,
      vjp=(lambda g, out, n, x: None, lambda g, out, n, x: g * _polygamma_dx(n, x)),
      jvp=None,
      linear=lambda out, n, x: [None, evaluate(_polygamma_dx, n, x)],
      nin=2, kind="binary", broadcasting=True, inputs=("n", "x"), group=SPECIAL,
      batch=elementwise,
      help="the n-th derivative of digamma; polygamma(0, x) = digamma(x)",
      domain="n a whole number >= 0; x not 0, -1, -2, ...",
      sample=((2.0, 2.0), (0.3, 4.0)),  # n: one whole number (an interval of one point)
      note="n gets no gradient; n that is not a whole number >= 0 gives nan")


def _beta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return scipy_special().beta(a, b)


binary("beta", _beta,
       (lambda a, b, out: out * (fn.digamma(a) - fn.digamma(a + b)),
        lambda a, b, out: out * (fn.digamma(b) - fn.digamma(a + b))),
       inputs=("a", "b"), group=SPECIAL, help="the beta function gamma(a)gamma(b)/gamma(a+b)",
       domain="a, b, a+b not 0, -1, -2, ...", sample=((0.3, 3.0), (0.3, 3.0)))


def _erfinv(x: np.ndarray) -> np.ndarray:
    return scipy_special().erfinv(x)


def _erfcinv(x: np.ndarray) -> np.ndarray:
    return scipy_special().erfcinv(x)


# d/dx erfinv(x) = sqrt(pi)/2 * exp(erfinv(x)^2): the output makes it cheap
unary("erfinv", _erfinv, lambda x, out: HALF_SQRT_PI * fn.exp(out * out), group=SPECIAL,
      help="inverse of erf", domain="-1 <= x <= 1", sample=(-0.9, 0.9),
      inside=lambda x: np.abs(x) <= 1, ends=lambda x: np.abs(x) == 1,
      note="at x = -1 and 1 the value is -inf and inf, and the derivative inf")
unary("erfcinv", _erfcinv, lambda x, out: -HALF_SQRT_PI * fn.exp(out * out), group=SPECIAL,
      help="inverse of erfc", domain="0 <= x <= 2", sample=(0.1, 1.9),
      inside=lambda x: (x >= 0) & (x <= 2), ends=lambda x: (x == 0) | (x == 2),
      note="at x = 0 and 2 the value is inf and -inf, and the derivative -inf")


# -- sinc, and its derivatives of every order ------------------------------------------
_SINC_SERIES_TERMS = 40


def _sin_pi_turned(x: np.ndarray, quarters: int) -> np.ndarray:
    """sin(pi x + quarters pi/2), with x reduced exactly first.

    sin(pi * x) rounds pi * x: at x = 1e10 that is off by 1e-6 of a turn. Here x
    loses its whole turns exactly (x - 2 round(x/2)), then its quarter turns
    (r - n/2, |f| <= 1/4), and the quarter turns become a swap of sin and cos."""
    r = x - 2.0 * np.round(x / 2.0)
    n = np.round(2.0 * r)
    f = r - n / 2.0
    s, c = np.sin(math.pi * f), np.cos(math.pi * f)
    turn = (n.astype(np.int64) + quarters) % 4
    return np.select([turn == 0, turn == 1, turn == 2], [s, c, -s], -c)


def _sinc_derivative(x: np.ndarray, order: int) -> np.ndarray:
    """The order-th derivative of sinc(x) = sin(pi x)/(pi x).

    Near 0 (|x| < 1) it is the term-by-term derivative of the Maclaurin series
    sum_n (-1)^n (pi x)^(2n) / (2n+1)!, which has no 0/0. Elsewhere Leibniz's
    rule on sin(pi x) * (pi x)^-1 is exact and loses nothing to cancellation.
    """
    x = np.asarray(x, dtype=np.float64)
    k = int(order)
    if k == 0:
        return np.sinc(x)
    out = np.empty_like(x)
    near = np.abs(x) < 1.0
    xs = x[near]
    total = np.zeros_like(xs)
    for n in range((k + 1) // 2, _SINC_SERIES_TERMS):
        power = 2 * n - k
        coefficient = ((-1) ** n * math.pi ** (2 * n) * math.perm(2 * n, k)
                       / math.factorial(2 * n + 1))
        total += coefficient * xs ** power
    out[near] = total
    xf = x[~near]
    total = np.zeros_like(xf)
    for j in range(k + 1):
        m = k - j
        # d^j sin(pi x) = pi^j sin(pi x + j pi/2);  d^m (pi x)^-1 = (-1)^m m! / (pi x^(m+1))
        total += (math.comb(k, j) * math.pi ** j * _sin_pi_turned(xf, j)
                  * (-1) ** m * math.factorial(m) / (math.pi * xf ** (m + 1)))
    out[~near] = total
    return out


def _sinc_next(x: Tensor, order: int) -> Tensor:
    return fn.sinc_derivative(x, order=order + 1)


defop("sinc_derivative", _sinc_derivative,
      vjp=(lambda g, out, x, order: g * _sinc_next(x, order),),
      jvp=None,
      linear=lambda out, x, order: [evaluate(lambda t: _sinc_next(t, order), x)],
      params=(("order", 1),), kind="elementwise", public=False, group=SPECIAL,
      batch=elementwise,
      help="the order-th derivative of sinc (the derivative of sinc and of itself)",
      sample=((-3.0, 3.0),))
unary("sinc", np.sinc, lambda x, out: fn.sinc_derivative(x, order=1), group=SPECIAL,
      help="normalised sinc, sin(pi x)/(pi x), 1 at x = 0 (as numpy and torch)",
      sample=(-3.0, 3.0))


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return scipy_special().xlogy(x, y)


binary("xlogy", _xlogy,
       # as PyTorch: d/dx is log(y), masked to 0 only where x = 0 and y <= 0 (where the
       # value is pinned to 0 and log(y) is not finite); its y-derivative is 1/y, as the
       # x-derivative of x/y is, so the Hessian is symmetric
       (lambda x, y, out: fn.where(x == 0.0, fn.where(y <= 0.0, 0.0, fn.log(y)), fn.log(y)),
        lambda x, y, out: x / y),
       group=SPECIAL, help="x * log(y), and 0 where x = 0 (even at y = 0)",
       domain="y > 0, or x = 0", sample=((-2.0, 2.0), (0.3, 3.0)),
       note="the x-derivative is log(y), and 0 where x = 0 and y <= 0 (PyTorch's choice); "
            "at x = y = 0 the y-derivative is nan")
