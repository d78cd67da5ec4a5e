"""sinh, cosh, tanh, atan: within 1 ulp, from the exp family and a minimax polynomial.

sinh and cosh: H = e^|x|/2 in two doubles (`exp_log.half_exp`, scaled by
2^(n-1) so that results up to the overflow threshold 710.47 stay finite),
then H -+ 1/(4H); for |x| < 1 sinh is its Taylor series instead (no
cancellation). tanh: u/(u + 2) with u = expm1(2|x|) in two doubles and a
two-double division; 1 beyond |x| = 19.1, where tanh rounds to 1.

atan: |x| is reduced against c in {0, 1/2, 1, 3/2, inf} (the breakpoints
7/16, 11/16, 19/16, 39/16), s = (|x| - c)/(1 + c|x|) in two doubles (the
numerator is exact by Sterbenz), atan = atan(c) + atan(s) with atan(c) in two
doubles, and atan(s) = s + s^3 P(s^2) on |s| <= 7/16 with P a near-minimax
fit of degree 11, made with mpmath:
    chebyfit(lambda z: (atan(sqrt(z)) - sqrt(z)) / sqrt(z)**3, [0, (7/16)**2], 12)
(relative error below 1e-18).
"""

from __future__ import annotations

import math
from fractions import Fraction

from gradcli.vecmath.exp_log import expm1_parts, half_exp
from gradcli.vecmath.ir import Function, Value, fast_two_sum, horner, two_product, two_sum

SINH_TAIL = [float(Fraction(1, math.factorial(2 * k + 1))) for k in range(1, 9)]
ATAN_TAIL = [-0.3333333333333333, 0.1999999999999941, -0.14285714285566806,
             0.11111111096645038, -0.09090908355602592, 0.07692285554889286,
             -0.06666241923359964, 0.05876946456755061, -0.05216679739313656,
             0.04492259293193656, -0.033128134256069586, 0.014773184616983806]
#: atan(1/2), atan(1), atan(3/2), pi/2, each as two doubles
ATAN_OF = [(0.4636476090008061, 2.2698777452961687e-17),
           (0.7853981633974483, 3.061616997868383e-17),
           (0.982793723247329, 1.3903311031230998e-17),
           (1.5707963267948966, 6.123233995736766e-17)]


def _sinh_cosh(name: str) -> Function:
    fn = Function(f"gradcli_vm_{name}")
    (x,) = fn.params
    ax = fn.fabs(x)
    hh, hl = half_exp(fn, ax)
    hl = fn.select(hh.lt(math.inf), hl, 0.0)  # past the overflow threshold: inf, not NaN
    quarter = 0.25 / hh
    if name == "cosh":
        value = hh + (hl + quarter)
        fn.result = fn.select(x.is_nan(), x, value)
        return fn
    large = hh + (hl - quarter)
    z = x * x
    small = x + (x * z) * horner(fn, z, SINH_TAIL)
    value = fn.select(ax.lt(1.0), small, fn.copysign(large, x))
    fn.result = fn.select(x.is_nan(), x, value)
    return fn


def sinh() -> Function:
    return _sinh_cosh("sinh")


def cosh() -> Function:
    return _sinh_cosh("cosh")


def tanh() -> Function:
    fn = Function("gradcli_vm_tanh")
    (x,) = fn.params
    ax = fn.fabs(x)
    uh, ul, _ = expm1_parts(fn, fn.select(ax.lt(20.0), ax + ax, 0.0))
    dh, dl = two_sum(fn, uh, fn.const(2.0))
    dh, dl = fast_two_sum(fn, dh, dl + ul)
    nh, nl = fast_two_sum(fn, uh, ul)
    q = nh / dh
    value = q + (fn.fma(-q, dh, nh) + fn.fma(-q, dl, nl)) / dh
    value = fn.select(ax.lt(20.0), value, 1.0)
    fn.result = fn.select(x.is_nan(), x, fn.copysign(value, x))
    return fn


def _atan_abs(fn: Function, ax: Value) -> tuple[Value, Value]:
    """atan(|x|) as two doubles."""
    bands = [ax.ge(7 / 16), ax.ge(11 / 16), ax.ge(19 / 16), ax.ge(39 / 16)]
    c = fn.const(0.0)
    base_hi, base_lo = fn.const(0.0), fn.const(0.0)
    for band, point, (hi, lo) in zip(bands[:3], (0.5, 1.0, 1.5), ATAN_OF[:3], strict=True):
        c = fn.select(band, point, c)
        base_hi, base_lo = fn.select(band, hi, base_hi), fn.select(band, lo, base_lo)
    beyond = bands[3]
    base_hi = fn.select(beyond, ATAN_OF[3][0], base_hi)
    base_lo = fn.select(beyond, ATAN_OF[3][1], base_lo)
    ph, pl = two_product(fn, c, ax)
    dh, dl = fast_two_sum(fn, fn.const(1.0), ph)
    dl = dl + pl
    num = fn.select(beyond, -1.0, ax - c)  # exact
    dh = fn.select(beyond, ax, dh)
    dl = fn.select(beyond, 0.0, dl)
    sh = num / dh
    sl = (fn.fma(-sh, dh, num) - sh * dl) / dh
    sl = fn.select(fn.fabs(ax).lt(math.inf), sl, 0.0)  # atan(inf): no NaN from inf - inf
    z = sh * sh
    tail = fn.fma(sh * z, horner(fn, z, ATAN_TAIL), sl * (1.0 - z))
    h, e = two_sum(fn, base_hi, sh)
    return h, e + (base_lo + tail)


def atan() -> Function:
    fn = Function("gradcli_vm_atan")
    (x,) = fn.params
    h, low = _atan_abs(fn, fn.fabs(x))
    value = fn.copysign(h + low, x)
    fn.result = fn.select(x.is_nan(), x, value)
    return fn
