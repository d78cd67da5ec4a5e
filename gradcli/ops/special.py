"""The error function and its complement, vectorised, to about 1e-16 relative.

numpy has no erf, and looping over `math.erf` would put a Python loop per
element into batch work. The method:

* |x| < 1: the Maclaurin series of erf, 26 terms, whose coefficients are
  computed exactly at import from their closed form.
* x >= 0.5 for erfc (and |x| >= 1 for erf, as 1 - erfc): erfc(x) =
  exp(-x^2) * erfcx(x), with the smooth scaled function erfcx given by
  Chebyshev expansions on six intervals up to 30 (beyond, erfc underflows to
  0). The coefficients were fitted once with 40-digit arithmetic; evaluated in
  double precision they are within about 2 ulp of erfcx.
* exp(-x^2) is split as exp(-h^2) * exp(-(x-h)(x+h)) with h = x rounded to
  1/16, so that the rounding of x^2 does not cost relative accuracy for large x.
* Negative arguments use erf(-x) = -erf(x) and erfc(-x) = 2 - erfc(x).
"""

from __future__ import annotations

import math

import numpy as np

_SERIES_TERMS = 26
#: erf(x) = x * sum_n c_n (x^2)^n with c_n = 2/sqrt(pi) (-1)^n / (n! (2n+1))
_SERIES = np.array([
    2.0 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
    for n in range(_SERIES_TERMS)
])[::-1]

#: (lo, hi, Chebyshev coefficients of erfcx on [lo, hi])
_ERFCX_PIECES: tuple[tuple[float, float, np.ndarray], ...] = (
    (0.5, 1.0, np.array([
        0.5142540300448141, -0.09353436157631646, 0.007349543567965961,
        -0.0005170287683170955, 3.327489181039832e-05, -1.9877609419315706e-06,
        1.1137198399251981e-07, -5.898649609389129e-09, 2.9712990142852805e-10,
        -1.430488185776257e-11, 6.608616284265577e-13, -2.9395552899978545e-14,
        1.2625028540389098e-15, -5.2483535009780805e-17, 2.116285797284684e-18,
        -8.292626588274519e-20, 3.1586787429807547e-21,
    ])),
    (1.0, 2.0, np.array([
        0.331427281639452, -0.0850021377067432, 0.009951127341466115,
        -0.0010810888102208325, 0.0001102324363119495, -1.0636830518218601e-05,
        9.775012680479055e-07, -8.597922867888315e-08, 7.2677084117248425e-09,
        -5.923543840592542e-10, 4.6683928572294154e-11, -3.56612770156775e-12,
        2.6458779519104523e-13, -1.9101658673527567e-14, 1.343976588479825e-15,
        -9.22879054908725e-17, 6.192673083397537e-18, -4.0652222165694054e-19,
        2.6133790807333344e-20, -1.6406754442890535e-21,
    ])),
    (2.0, 3.5, np.array([
        0.19943078169681192, -0.04938002535992735, 0.00584049638189269,
        -0.0006632226933017975, 7.259178935511736e-05, -7.682952765978158e-06,
        7.883915794570548e-07, -7.861599623239447e-08, 7.632681897920269e-09,
        -7.227220937985042e-10, 6.683956650788739e-11, -6.045467151546551e-12,
        5.353822288044628e-13, -4.647160251983375e-14, 3.9573860343870394e-15,
        -3.3089920478944805e-16, 2.7188560181609078e-17, -2.1967865577762437e-18,
        1.7465019027627212e-19, -1.3591964049234356e-20,
    ])),
    (3.5, 6.0, np.array([
        0.12011119518612726, -0.03077508367843977, 0.003865397162805732,
        -0.00047649553104630324, 5.770371528146291e-05, -6.87063803752421e-06,
        8.049536979209691e-07, -9.285957122953073e-08, 1.055453759031051e-08,
        -1.1826607946099641e-09, 1.3071369079163705e-10, -1.4257239280506568e-11,
        1.5353276736774004e-12, -1.6330584393840345e-13, 1.7163606034121627e-14,
        -1.7831232826173792e-15, 1.8317656196657655e-16, -1.8612923770774716e-17,
        1.8713178053886066e-18, -1.8620566871777077e-19, 1.8341380220261617e-20,
        -1.772765164761957e-21,
    ])),
    (6.0, 12.0, np.array([
        0.06595751740567128, -0.022317105822831296, 0.0037510216489236186,
        -0.000626448062474568, 0.00010396751634725916, -1.7148985723428005e-05,
        2.8116183303261425e-06, -4.58245791383264e-07, 7.425231455584436e-08,
        -1.196284221002672e-08, 1.9165205207734976e-09, -3.053427527853596e-10,
        4.838332178843126e-11, -7.62562041877623e-12, 1.1955351381807862e-12,
        -1.8646278516982158e-13, 2.893333467481439e-14, -4.466980507659899e-15,
        6.86231364031228e-16, -1.0490560951579582e-16, 1.5959829805736723e-17,
        -2.416506441008329e-18, 3.641677527188116e-19, -5.460084589957214e-20,
        7.977466343632382e-21,
    ])),
    (12.0, 30.0, np.array([
        0.02968056255050925, -0.013325319854440479, 0.00298716070102277,
        -0.0006687250990325714, 0.00014950213375578448, -3.337801467361477e-05,
        7.441997840895025e-06, -1.6570555441224408e-06, 3.684729528358115e-07,
        -8.182720072469129e-08, 1.814745756512026e-08, -4.019410475950307e-09,
        8.890779552374435e-10, -1.9640414436275481e-10, 4.333084578947428e-11,
        -9.54732626186322e-12, 2.100906790007685e-12, -4.617156015909903e-13,
        1.0134150721318519e-13, -2.2215060006249998e-14, 4.863592739703654e-15,
        -1.0634540451442444e-15, 2.322385355784007e-16, -5.0653104329762e-17,
        1.1034082988160753e-17, -2.4006392031815573e-18, 5.216489732209722e-19,
        -1.1320208519062637e-19, 2.44870006483111e-20, -5.064857364639776e-21,
    ])),
)
_UNDERFLOW = 30.0


def _chebyshev(t: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """sum_k c_k T_k(t) by Clenshaw's recurrence (numerically stable on [-1, 1])."""
    b1 = np.zeros_like(t)
    b2 = np.zeros_like(t)
    for c in coeffs[:0:-1]:
        b1, b2 = 2.0 * t * b1 - b2 + c, b1
    return t * b1 - b2 + coeffs[0]


def _erf_series(x: np.ndarray) -> np.ndarray:
    return x * np.polyval(_SERIES, x * x)


def _exp_minus_square(x: np.ndarray) -> np.ndarray:
    h = np.round(x * 16.0) / 16.0
    return np.exp(-h * h) * np.exp(-(x - h) * (x + h))


def _erfc_positive(x: np.ndarray) -> np.ndarray:
    """erfc for x >= 0.5."""
    out = np.zeros_like(x)
    for lo, hi, coeffs in _ERFCX_PIECES:
        inside = (x >= lo) & (x < hi) if hi < _UNDERFLOW else (x >= lo) & (x <= hi)
        if inside.any():
            xi = x[inside]
            t = (2.0 * xi - (lo + hi)) / (hi - lo)
            out[inside] = _exp_minus_square(xi) * _chebyshev(t, coeffs)
    return out


def erf(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    ax = np.abs(x)
    small = ax < 1.0
    out[small] = _erf_series(x[small])
    large = ~small & ~np.isnan(x)
    if large.any():
        out[large] = np.sign(x[large]) * (1.0 - _erfc_positive(ax[large]))
    out[np.isnan(x)] = np.nan
    return out


def erfc(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    ax = np.abs(x)
    small = ax < 0.5
    out[small] = 1.0 - _erf_series(x[small])
    large = ~small & ~np.isnan(x)
    if large.any():
        tail = _erfc_positive(ax[large])
        out[large] = np.where(x[large] > 0, tail, 2.0 - tail)
    out[np.isnan(x)] = np.nan
    return out
