"""sin, cos, tan: argument reduction by multiples of pi/2, then Taylor kernels.

Reduction (x = n pi/2 + r, |r| <= pi/4 + tiny, r kept as two doubles):
* |x| <= 2^27, every lane: Cody-Waite with pi/2 in three doubles. The first
  product n*P1 is subtracted inside an fma, which is exact (the difference is
  a multiple of 2^-53 below 1), the second is split exactly with an fma, so
  the error is about n 2^-158 absolute; the closest a double comes to a
  multiple of pi/2 is about 2^-61, so r keeps well over 53 correct bits.
* larger finite |x|: Payne-Hanek, in integers. With x = m 2^(e-52), only
  192 bits of 2/pi starting near bit e matter (the earlier ones give whole
  multiples of 8 quadrants); m times that window, in 128-bit integer pieces,
  gives the quadrant and 125 bits of fraction. This path is a real branch to
  a scalar function (`*_huge`), reached per lane through the masked vector
  variants of `gradcli.vecmath.lanes`, so ordinary arguments never pay for it.

Kernels on |r| <= pi/4: sin r = r + r^3 S(r^2) with Taylor terms to r^17 (the
first omitted term is below 2^-60 of the result), cos r = (1 - r^2/2) + r^4
C(r^2) to r^16 with r^2 split exactly, so the one rounding that matters is
the last addition. tan is their quotient in two-double arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

from gradcli.vecmath.ir import I64, Function, Value, fast_two_sum, horner, two_product, two_sum
from gradcli.vecmath.lanes import variants_attribute

PIO2_1 = 1.5707963267948966          # pi/2 as three doubles
PIO2_2 = 6.123233995736766e-17
PIO2_3 = -1.4973849048591698e-33
TWO_OVER_PI = 0.6366197723675814
HUGE = 134217728.0                   # 2^27: above, Payne-Hanek

SIN_TAIL = [float(Fraction((-1) ** k, math.factorial(2 * k + 1))) for k in range(1, 9)]
COS_TAIL = [float(Fraction((-1) ** k, math.factorial(2 * k))) for k in range(2, 9)]

#: bits of 2/pi from 2^-1 on, 64 to a word (a published constant)
TWO_OVER_PI_BITS = (
    "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041fe5163abdebbc561"
    "b7246e3a424dd2e006492eea09d1921cfe1deb1cb129a73ee88235f52ebb4484"
    "e99c7026b45f7e413991d639835339f49c845f8bbdf9283b1ff897ffde05980f"
    "ef2f118b5a0a6d1f6d367ecf27cb09b74f463f669e5fea2d7527bac7ebe5f17b"
    "3d0739f78a5292ea6bfb5fb11f8d5d0856033046fc7b6babf0cfbc209af4361d"
    "a9e391615ee61b086599855f14a06840")
TABLE = "gradcli_vm_two_over_pi"


def table_global() -> str:
    """The 2/pi bits as an IR constant, after one word of zeros (for |x| < 2^55)."""
    words = [0] + [int(TWO_OVER_PI_BITS[i:i + 16], 16)
                   for i in range(0, len(TWO_OVER_PI_BITS), 16)]
    signed = [w - (1 << 64) if w >= 1 << 63 else w for w in words]
    body = ", ".join(f"i64 {w}" for w in signed)
    return f"@{TABLE} = internal unnamed_addr constant [{len(words)} x i64] [{body}]"


Reduced = tuple[Value, Value, Value]  # quadrant (i64, 0..3), r as hi + lo


def reduce_small(fn: Function, x: Value) -> Reduced:
    """Cody-Waite, for |x| <= HUGE (any other x gives a harmless value)."""
    xs = fn.select(fn.fabs(x).le(HUGE), x, 0.0)
    n = fn.rint(xs * TWO_OVER_PI)
    r1 = fn.fma(-n, PIO2_1, xs)  # exact
    ph, pl = two_product(fn, n, PIO2_2)
    rh, e = two_sum(fn, r1, -ph)
    rl = fn.fma(-n, PIO2_3, e - pl)
    rh, rl = fast_two_sum(fn, rh, rl)
    return fn.to_int(n) & 3, rh, rl


def _word(fn: Function, index: Value) -> Value:
    fn.globals.add(table_global())
    address = fn.emit(f"getelementptr inbounds [23 x i64], ptr @{TABLE}, i64 0, "
                      f"i64 {index.ref}", "ptr")
    return fn.emit(f"load i64, ptr {address.ref}", I64)


def _funnel(fn: Function, high: Value, low: Value, shift: Value) -> Value:
    fn.intrinsics.add("declare i64 @llvm.fshl.i64(i64, i64, i64)")
    return fn.emit(f"call i64 @llvm.fshl.i64(i64 {high.ref}, i64 {low.ref}, "
                   f"i64 {shift.ref})", I64)


def reduce_huge(fn: Function, x: Value) -> Reduced:
    """Payne-Hanek for finite |x| >= 2^27."""
    i128 = "i128"
    bits = fn.bits(x)
    e = (bits.lshr(52) & 0x7FF) - 1023
    m = (bits & 0xFFFFFFFFFFFFF) | (1 << 52)
    p = e + 9  # the window's first bit in the zero-padded table
    j, b = p.lshr(6), p & 63
    t = [_word(fn, j + k) for k in range(4)]
    w = [_funnel(fn, t[k], t[k + 1], b) for k in range(3)]
    wide = [fn.convert("zext", v, i128) for v in (m, *w)]
    shift64 = fn.integer(64, i128)
    top = (wide[0] * wide[1]) << shift64
    middle = wide[0] * wide[2]
    bottom = (wide[0] * wide[3]).lshr(shift64)
    total = top + middle + bottom  # bits 64..191 of m * window: y = total 2^-125 mod 8
    rounded = total + fn.integer(1 << 124, i128)
    quadrant = fn.convert("trunc", rounded.lshr(fn.integer(125, i128)), I64) & 3
    fraction = (rounded & fn.integer((1 << 125) - 1, i128)) - fn.integer(1 << 124, i128)
    negative = fraction.lt(fn.integer(0, i128))
    magnitude = fn.select(negative, -fraction, fraction)
    chunks = [fn.to_double(fn.convert("trunc", magnitude.lshr(fn.integer(s, i128))
                                      & fn.integer((1 << 42) - 1, i128), I64))
              for s in (84, 42, 0)]
    fh, fl = fast_two_sum(fn, chunks[0] * 2.0 ** 84, chunks[1] * 2.0 ** 42)
    fh, fl = fast_two_sum(fn, fh, fl + chunks[2])
    scale = 2.0 ** -125
    fh, fl = fh * scale, fl * scale
    rh, e1 = two_product(fn, fh, PIO2_1)
    rl = e1 + fn.fma(fh, PIO2_2, fl * PIO2_1)
    rh, rl = fast_two_sum(fn, rh, rl)
    rh = fn.select(negative, -rh, rh)
    rl = fn.select(negative, -rl, rl)
    below = x.lt(0.0)
    return (fn.select(below, (fn.i64(4) - quadrant) & 3, quadrant),
            fn.select(below, -rh, rh), fn.select(below, -rl, rl))


def sin_kernel(fn: Function, rh: Value, rl: Value) -> tuple[Value, Value]:
    z = rh * rh
    tail = fn.fma(rh * z, horner(fn, z, SIN_TAIL), fn.fma(rl * z, -0.5, rl))
    return rh, tail


def cos_kernel(fn: Function, rh: Value, rl: Value) -> tuple[Value, Value]:
    zh, zl = two_product(fn, rh, rh)
    half = zh * 0.5
    w = 1.0 - half
    error = (1.0 - w) - half  # exact
    tail = fn.fma(zh * zh, horner(fn, zh, COS_TAIL), fn.fma(-rh, rl, error - zl * 0.5))
    return w, tail


def _quadrant(fn: Function, q: Value, values: list[tuple[Value, Value]]) -> Value:
    """values[q] as one double (each value given as hi + lo)."""
    sums = [hi + lo for hi, lo in values]
    low = fn.select((q & 1).eq(1), sums[1], sums[0])
    high = fn.select((q & 1).eq(1), sums[3], sums[2])
    return fn.select((q & 2).eq(2), high, low)


def _sin_of(fn: Function, q: Value, rh: Value, rl: Value) -> Value:
    sh, sl = sin_kernel(fn, rh, rl)
    ch, cl = cos_kernel(fn, rh, rl)
    return _quadrant(fn, q, [(sh, sl), (ch, cl), (-sh, -sl), (-ch, -cl)])


def _cos_of(fn: Function, q: Value, rh: Value, rl: Value) -> Value:
    sh, sl = sin_kernel(fn, rh, rl)
    ch, cl = cos_kernel(fn, rh, rl)
    return _quadrant(fn, q, [(ch, cl), (-sh, -sl), (-ch, -cl), (sh, sl)])


def _divide(fn: Function, nh: Value, nl: Value, dh: Value, dl: Value) -> Value:
    """(nh + nl) / (dh + dl), rounded about once."""
    nh, nl = fast_two_sum(fn, nh, nl)
    dh, dl = fast_two_sum(fn, dh, dl)
    q = nh / dh
    remainder = fn.fma(-q, dh, nh)
    return q + (remainder + fn.fma(-q, dl, nl)) / dh


def _tan_of(fn: Function, q: Value, rh: Value, rl: Value) -> Value:
    sh, sl = sin_kernel(fn, rh, rl)
    ch, cl = cos_kernel(fn, rh, rl)
    odd = (q & 1).eq(1)
    nh, nl = fn.select(odd, -ch, sh), fn.select(odd, -cl, sl)
    dh, dl = fn.select(odd, sh, ch), fn.select(odd, sl, cl)
    return _divide(fn, nh, nl, dh, dl)


Kernel = Callable[[Function, Value, Value, Value], Value]
KERNELS: dict[str, Kernel] = {"sin": _sin_of, "cos": _cos_of, "tan": _tan_of}


def huge(name: str) -> Function:
    """The scalar function for finite |x| > HUGE (a cold path, never inlined)."""
    fn = Function(f"gradcli_vm_{name}_huge")
    (x,) = fn.params
    fn.result = KERNELS[name](fn, *reduce_huge(fn, x))
    return fn


def trig(name: str) -> Function:
    """sin, cos or tan: every lane on the fast path, finite |x| > HUGE on the cold one."""
    fn = Function(f"gradcli_vm_{name}")
    (x,) = fn.params
    value = KERNELS[name](fn, *reduce_small(fn, x))
    value = fn.select(x.eq(0.0), x, value)  # sin(-0) = tan(-0) = -0; cos(0) is 1 anyway
    if name == "cos":
        value = fn.select(x.eq(0.0), 1.0, value)
    finite = fn.fabs(x).lt(math.inf)
    value = fn.select(finite, value, x - x)  # NaN for inf and NaN
    rare = fn.both(fn.fabs(x).gt(HUGE), finite)
    fn.result = fn.cold_call(rare, f"gradcli_vm_{name}_huge", [x], value, "entry",
                             variants_attribute(f"gradcli_vm_{name}_huge"))
    return fn

