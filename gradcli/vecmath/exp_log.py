"""exp, exp2, expm1, log, log2, log10, log1p: branch-free, within 1 ulp.

exp family: x = n ln2 + r with |r| <= ln2/2, the reduced argument kept as two
doubles (Cody-Waite with a two-part ln2, the first product exact through an
fma), exp(r) from its Taylor series (the first omitted term is below 2^-57
of the result), and 2^n applied as two exact powers of two, so results in
the subnormal range are rounded once.

log family: x = 2^k m with m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact),
log(1 + f) = 2 atanh(s) with s = f / (2 + f) (the classical identity, which
makes the error of s harmless), and the sum k ln2 + f - f^2/2 + ... formed
in two doubles, so only the last addition rounds.
"""

from __future__ import annotations

import math
from fractions import Fraction

from gradcli.vecmath.ir import Function, Value, fast_two_sum, horner, two_product, two_sum

INFINITY = math.inf
LN2_HI = 0.6931471805599453          # ln 2 rounded to a double
LN2_LO = 2.3190468138462996e-17      # ln 2 - LN2_HI
INV_LN2 = 1.4426950408889634
INV_LN2_HI = 1.4426950408889634      # 1 / ln 2 as two doubles
INV_LN2_LO = 2.0355273740931033e-17
INV_LN10_HI = 0.4342944819032518     # 1 / ln 10 as two doubles
INV_LN10_LO = 1.098319650216765e-17
LOG10_2_HI = 0.30102999566398120     # log10(2) as two doubles
LOG10_2_LO = -2.8037281277851704e-18
SQRT2 = 1.4142135623730951

#: exp(r) = 1 + r + r^2 (1/2! + r/3! + ... + r^11/13!)
EXP_TAIL = [float(Fraction(1, math.factorial(k))) for k in range(2, 14)]
#: 2 atanh(s) = 2s + s R(s^2), R(z) = z (2/3 + 2z/5 + ... + 2z^9/21)
ATANH_TAIL = [float(Fraction(2, 2 * k + 1)) for k in range(1, 11)]


def power_of_two(fn: Function, k: Value) -> Value:
    """2^k as a double, for -1022 <= k <= 1023 (an i64)."""
    return fn.from_bits((k + 1023) << 52)


def exp_reduced(fn: Function, rh: Value, rl: Value) -> tuple[Value, Value]:
    """exp(rh + rl) - 1 as two doubles (hi + lo), |rh| <= 0.35, |rl| tiny."""
    tail = fn.fma(rh * rh, horner(fn, rh, EXP_TAIL), fn.fma(rl, rh, rl))
    return rh, tail


def _scaled(fn: Function, n: Value, hi: Value, lo: Value) -> Value:
    """2^n (1 + hi + lo), rounded once, n an integral double in [-1100, 1100]."""
    one, low = fast_two_sum(fn, fn.const(1.0), hi)
    value = one + (low + lo)
    k = fn.to_int(n)
    half = k >> 1
    return value * power_of_two(fn, half) * power_of_two(fn, k - half)


def _finish(fn: Function, x: Value, value: Value, overflow: Value, underflow: Value,
            low_value: float) -> Value:
    value = fn.select(underflow, low_value, value)
    value = fn.select(overflow, INFINITY, value)
    return fn.select(x.is_nan(), x, value)


def _safe(fn: Function, x: Value, overflow: Value, underflow: Value) -> Value:
    """x where it is in range, else 0 (so that no lane converts NaN or inf to an int)."""
    bad = fn.either(fn.either(overflow, underflow), x.is_nan())
    return fn.select(bad, 0.0, x)


def exp() -> Function:
    fn = Function("gradcli_vm_exp")
    (x,) = fn.params
    overflow, underflow = x.gt(709.8), x.lt(-745.2)
    xs = _safe(fn, x, overflow, underflow)
    n = fn.rint(xs * INV_LN2)
    r0 = fn.fma(-n, LN2_HI, xs)  # exact
    ph, pl = two_product(fn, n, LN2_LO)
    rh, e = two_sum(fn, r0, -ph)
    hi, lo = exp_reduced(fn, rh, e - pl)
    fn.result = _finish(fn, x, _scaled(fn, n, hi, lo), overflow, underflow, 0.0)
    return fn


def exp2() -> Function:
    fn = Function("gradcli_vm_exp2")
    (x,) = fn.params
    overflow, underflow = x.ge(1024.0), x.lt(-1076.0)
    xs = _safe(fn, x, overflow, underflow)
    n = fn.rint(xs)
    r = xs - n  # exact
    rh, rl = two_product(fn, r, LN2_HI)
    hi, lo = exp_reduced(fn, rh, fn.fma(r, LN2_LO, rl))
    fn.result = _finish(fn, x, _scaled(fn, n, hi, lo), overflow, underflow, 0.0)
    return fn


def expm1_parts(fn: Function, x: Value) -> tuple[Value, Value, Value]:
    """expm1(x) = (h + l) 2^shift, unrounded, for x in [-38, 709.8] (else harmless)."""
    xs = fn.select(fn.both(x.ge(-38.0), x.le(709.8)), x, 0.0)
    n = fn.rint(xs * INV_LN2)
    r0 = fn.fma(-n, LN2_HI, xs)
    ph, pl = two_product(fn, n, LN2_LO)
    rh, e = two_sum(fn, r0, -ph)
    sh, sl = exp_reduced(fn, rh, e - pl)
    k = fn.to_int(n)
    # above 2^512 the -1 is far below an ulp: scale by 2^64 at the end so 2^n fits
    shift = fn.select(k.gt(512), 64, 0)
    scale = power_of_two(fn, k - shift)
    a, ae = two_sum(fn, scale, fn.const(-1.0))
    u, ue = two_sum(fn, a, scale * sh)
    return u, ue + fn.fma(scale, sl, ae), power_of_two(fn, shift)


def expm1() -> Function:
    """2^n (1 + s) - 1 = (2^n - 1) + 2^n s, with 2^n - 1 held exactly as two doubles."""
    fn = Function("gradcli_vm_expm1")
    (x,) = fn.params
    overflow, underflow = x.gt(709.8), x.lt(-38.0)
    h, low, scale = expm1_parts(fn, x)
    value = fn.select(x.eq(0.0), x, (h + low) * scale)  # keeps -0
    fn.result = _finish(fn, x, value, overflow, underflow, -1.0)
    return fn


def half_exp(fn: Function, x: Value) -> tuple[Value, Value]:
    """e^x / 2 as two doubles (hi + lo), x in [0, 711] (overflowing to inf past it)."""
    xs = fn.select(x.le(711.0), x, 711.0)
    n = fn.rint(xs * INV_LN2)
    r0 = fn.fma(-n, LN2_HI, xs)
    ph, pl = two_product(fn, n, LN2_LO)
    rh, e = two_sum(fn, r0, -ph)
    hi, lo = exp_reduced(fn, rh, e - pl)
    one, low = fast_two_sum(fn, fn.const(1.0), hi)
    k = fn.to_int(n) - 1
    half = k >> 1
    s1, s2 = power_of_two(fn, half), power_of_two(fn, k - half)
    return fast_two_sum(fn, one * s1 * s2, (low + lo) * s1 * s2)


def log_parts(fn: Function, x: Value) -> tuple[Value, Value, Value]:
    """(k, a, b) with log(x) = k ln2 + a + b for finite x > 0, |b| <= ulp(a)-ish."""
    subnormal = x.lt(2.2250738585072014e-308)
    xs = fn.select(subnormal, x * 18014398509481984.0, x)  # 2^54
    bits = fn.bits(xs)
    exponent = (bits.lshr(52) & 0x7FF) - fn.select(subnormal, 1023 + 54, 1023)
    m = fn.from_bits((bits & 0xFFFFFFFFFFFFF) | (1023 << 52))  # in [1, 2)
    above = m.gt(SQRT2)
    m = fn.select(above, m * 0.5, m)
    k = fn.to_double(exponent + fn.select(above, 1, 0))
    f = m - 1.0  # exact
    s = f / (f + 2.0)
    z = s * s
    tail = z * horner(fn, z, ATANH_TAIL)
    hh, hl = two_product(fn, f, f * 0.5)  # f^2 / 2 exactly
    a, ae = two_sum(fn, f, -hh)
    b = fn.fma(s, hh + tail, ae - hl)
    return k, a, b


def _log_specials(fn: Function, x: Value, value: Value) -> Value:
    """-inf at 0, NaN below 0 (and for NaN), +inf at +inf."""
    regular = fn.both(x.gt(0.0), x.lt(INFINITY))
    special = fn.select(x.eq(0.0), -INFINITY, fn.select(x.gt(0.0), x, math.nan))
    return fn.select(regular, value, special)


def _natural(fn: Function, x: Value, extra: Value | None = None) -> Value:
    k, a, b = log_parts(fn, x)
    ph, pl = two_product(fn, k, LN2_HI)
    h, low = two_sum(fn, ph, a)
    rest = low + (b + fn.fma(k, LN2_LO, pl))
    if extra is not None:
        rest = rest + extra
    return h + rest


def log() -> Function:
    fn = Function("gradcli_vm_log")
    (x,) = fn.params
    fn.result = _log_specials(fn, x, _natural(fn, x))
    return fn


def log1p() -> Function:
    """log(u) + c/u, where u + c = 1 + x exactly."""
    fn = Function("gradcli_vm_log1p")
    (x,) = fn.params
    u, c = two_sum(fn, fn.const(1.0), x)
    c = fn.select(fn.fabs(x).lt(INFINITY), c, 0.0)
    value = _natural(fn, u, c / u)
    value = fn.select(x.eq(0.0), x, value)  # keeps -0
    fn.result = _log_specials(fn, u, value)
    return fn


def _scaled_log(name: str, k_hi: float | None, k_lo: float, mul_hi: float,
                mul_lo: float) -> Function:
    """k * K + log(m) * M, K and M as two doubles (K = 1 exactly where k_hi is None)."""
    fn = Function(name)
    (x,) = fn.params
    k, a, b = log_parts(fn, x)
    lh, ll = fast_two_sum(fn, a, b)
    ph, pl = two_product(fn, lh, mul_hi)
    pl = pl + fn.fma(lh, mul_lo, ll * mul_hi)
    if k_hi is None:
        kh, kl = k, fn.const(0.0)
    else:
        kh, kl = two_product(fn, k, k_hi)
        kl = fn.fma(k, k_lo, kl)
    h, low = two_sum(fn, kh, ph)
    fn.result = _log_specials(fn, x, h + (low + (pl + kl)))
    return fn


def log2() -> Function:
    return _scaled_log("gradcli_vm_log2", None, 0.0, INV_LN2_HI, INV_LN2_LO)


def log10() -> Function:
    return _scaled_log("gradcli_vm_log10", LOG10_2_HI, LOG10_2_LO, INV_LN10_HI, INV_LN10_LO)
