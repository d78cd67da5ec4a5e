"""The special and elementary functions against mpmath at 30 digits: value, first and
second derivatives at random points of each domain, plus their edge cases.

The references are written independently of gradcli's rules: mpmath's own
functions, differentiated numerically by `mpmath.diff` at high precision.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import gradcli as g
from gradcli.ops import fn

mpmath.mp.dps = 30


def _away_from_integers(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """Points in (lo, hi) at least 0.1 from every whole number (the gamma family's poles)."""
    xs = rng.uniform(lo, hi, size=4 * n)
    xs = xs[np.abs(xs - np.round(xs)) > 0.1]
    return xs[:n]


def _elu_ref(x):
    return x if x > 0 else mpmath.expm1(x)


#: name -> (mpmath reference of one variable, a sampler of points in its domain)
UNARY = {
    "gamma": (mpmath.gamma, lambda rng: _away_from_integers(rng, -3.9, 5.0, 6)),
    "lgamma": (lambda x: mpmath.log(abs(mpmath.gamma(x))),
               lambda rng: _away_from_integers(rng, -3.9, 30.0, 6)),
    "digamma": (mpmath.digamma, lambda rng: _away_from_integers(rng, -3.9, 9.0, 6)),
    "erfinv": (mpmath.erfinv, lambda rng: rng.uniform(-0.99, 0.99, 6)),
    "erfcinv": (lambda x: mpmath.erfinv(1 - x), lambda rng: rng.uniform(0.01, 1.99, 6)),
    "sinc": (lambda x: mpmath.sincpi(x), lambda rng: np.r_[rng.uniform(-4, 4, 5), 0.0, 0.9]),
    "log_sigmoid": (lambda x: -mpmath.log1p(mpmath.exp(-x)), lambda rng: rng.uniform(-30, 30, 6)),
    "gelu": (lambda x: x * mpmath.ncdf(x), lambda rng: rng.uniform(-8, 8, 6)),
    "silu": (lambda x: x / (1 + mpmath.exp(-x)), lambda rng: rng.uniform(-20, 20, 6)),
    "softsign": (lambda x: x / (1 + abs(x)), lambda rng: rng.uniform(0.05, 5, 3) * [-1, 1, 1]),
    "elu": (_elu_ref, lambda rng: rng.uniform(0.05, 3, 4) * [-1, 1, -1, 1]),
    "sec": (mpmath.sec, lambda rng: rng.uniform(-1.4, 1.4, 6)),
    "csc": (mpmath.csc, lambda rng: rng.uniform(0.2, 2.9, 6)),
    "cot": (mpmath.cot, lambda rng: rng.uniform(0.2, 2.9, 6)),
    "deg2rad": (lambda x: x * mpmath.pi / 180, lambda rng: rng.uniform(-360, 360, 4)),
    "rad2deg": (lambda x: x * 180 / mpmath.pi, lambda rng: rng.uniform(-7, 7, 4)),
    "ln": (mpmath.log, lambda rng: rng.uniform(0.1, 10, 4)),
    "arcsin": (mpmath.asin, lambda rng: rng.uniform(-0.95, 0.95, 4)),
    "arccos": (mpmath.acos, lambda rng: rng.uniform(-0.95, 0.95, 4)),
    "arctan": (mpmath.atan, lambda rng: rng.uniform(-5, 5, 4)),
    "arcsinh": (mpmath.asinh, lambda rng: rng.uniform(-5, 5, 4)),
    "arccosh": (mpmath.acosh, lambda rng: rng.uniform(1.05, 5, 4)),
    "arctanh": (mpmath.atanh, lambda rng: rng.uniform(-0.95, 0.95, 4)),
}


def _engine_derivatives(name: str, xs: np.ndarray):
    """Value, first and second derivative at each point, through create_graph."""
    x = g.tensor(xs, requires_grad=True)
    y = getattr(g, name)(x)
    (d1,) = g.grad(g.sum(y), x, create_graph=True)
    if not d1.requires_grad:  # a constant derivative (deg2rad): the second is 0
        return y.data, d1.data, np.zeros_like(xs)
    (d2,) = g.grad(g.sum(d1), x)
    return y.data, d1.data, d2.data


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_against_mpmath(name):
    reference, sample = UNARY[name]
    xs = np.asarray(sample(np.random.default_rng(abs(hash(name)) % 2**32)), dtype=float)
    value, d1, d2 = _engine_derivatives(name, xs)
    for k, x in enumerate(xs):
        want = [float(mpmath.diff(reference, mpmath.mpf(float(x)), n)) for n in (0, 1, 2)]
        for got, expected, what in zip((value[k], d1[k], d2[k]), want, ("value", "d1", "d2"),
                                       strict=True):
            assert got == pytest.approx(expected, rel=2e-9, abs=1e-12), (name, x, what)


SIGNS = np.tile([1.0, -1.0], 3)


def _dividends_and_divisors(rng: np.random.Generator) -> np.ndarray:
    return np.c_[rng.uniform(-9, 9, 6), rng.uniform(0.5, 3, 6) * SIGNS]


#: name -> (mpmath reference of two variables, a sampler of (x, y) pairs)
BINARY = {
    "beta": (mpmath.beta, lambda rng: rng.uniform(0.2, 5, (5, 2))),
    "xlogy": (lambda x, y: x * mpmath.log(y),
              lambda rng: np.c_[rng.uniform(-3, 3, 5), rng.uniform(0.1, 4, 5)]),
    "mod": (lambda x, y: x - y * mpmath.floor(x / y),
            _dividends_and_divisors),
    "fmod": (lambda x, y: x - y * (mpmath.floor(x / y) if x / y >= 0 else mpmath.ceil(x / y)),
             _dividends_and_divisors),
    "heaviside": (lambda x, h: 0 if x < 0 else 1,
                  lambda rng: np.c_[rng.uniform(0.1, 2, 6) * SIGNS, rng.uniform(0, 1, 6)]),
}


def _far_from_jumps(name: str, x: float, y: float) -> bool:
    if name in ("mod", "fmod"):
        q = x / y
        return abs(q - round(q)) > 1e-3
    return True


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_value_gradient_and_hessian_against_mpmath(name):
    reference, sample = BINARY[name]
    pairs = sample(np.random.default_rng(7))
    for xv, yv in pairs:
        if not _far_from_jumps(name, xv, yv):
            continue
        x = g.tensor(xv, requires_grad=True)
        y = g.tensor(yv, requires_grad=True)
        out = getattr(g, name)(x, y)
        gx, gy = g.grad(out, [x, y], create_graph=True)
        hessian = []
        for first in (gx, gy):
            if first.requires_grad:
                row = g.grad(first, [x, y], allow_unused=True, retain_graph=True)
                hessian.append([0.0 if h is None else h.item() for h in row])
            else:
                hessian.append([0.0, 0.0])
        point = (mpmath.mpf(float(xv)), mpmath.mpf(float(yv)))
        assert out.item() == pytest.approx(float(reference(*point)), rel=1e-12, abs=1e-14)
        for (i, j), got in [((1, 0), gx.item()), ((0, 1), gy.item()),
                            ((2, 0), hessian[0][0]), ((1, 1), hessian[0][1]),
                            ((1, 1), hessian[1][0]), ((0, 2), hessian[1][1])]:
            want = float(mpmath.diff(reference, point, (i, j)))
            assert got == pytest.approx(want, rel=1e-8, abs=1e-10), (name, xv, yv, i, j)


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_polygamma_against_mpmath(n):
    xs = _away_from_integers(np.random.default_rng(n), -2.9, 6.0, 5)
    x = g.tensor(xs, requires_grad=True)
    y = g.polygamma(float(n), x)
    (d1,) = g.grad(g.sum(y), x, create_graph=True)
    (d2,) = g.grad(g.sum(d1), x)
    for k, xv in enumerate(xs):
        for got, order in ((y.data[k], n), (d1.data[k], n + 1), (d2.data[k], n + 2)):
            want = float(mpmath.polygamma(order, xv))
            assert got == pytest.approx(want, rel=1e-9), (n, xv, order)


def test_digamma_derivative_is_polygamma_one():
    x = g.tensor([0.4, 2.5, -1.5], requires_grad=True)
    (d,) = g.grad(g.sum(g.digamma(x)), x)
    np.testing.assert_allclose(d.data, g.polygamma(1.0, x.detach()).data, rtol=1e-15)


def test_sinc_derivatives_of_high_order_match_mpmath_near_and_far_from_zero():
    xs = [0.0, 1e-8, 0.3, -0.999, 1.001, 2.5, -7.25]
    for order in range(1, 6):
        got = fn.sinc_derivative(g.tensor(xs), order=order).data
        for x, value in zip(xs, got, strict=True):
            want = float(mpmath.diff(mpmath.sincpi, mpmath.mpf(x), order))
            assert value == pytest.approx(want, rel=1e-9, abs=1e-11), (order, x)


# -- edge cases ----------------------------------------------------------------------------
def test_gamma_at_its_poles_is_not_finite_and_never_an_error():
    values = g.gamma(g.tensor([0.0, -1.0, -2.0, -3.0])).data
    assert not np.isfinite(values).any()
    assert np.isinf(g.lgamma(g.tensor([0.0, -1.0, -2.0])).data).all()


def test_factorials_are_exact_at_whole_numbers():
    values = g.gamma(g.tensor([1.0, 2.0, 5.0, 11.0])).data
    assert values.tolist() == [1.0, 1.0, 24.0, 3628800.0]


def test_erfinv_at_plus_and_minus_one():
    for at, value in ((-1.0, -math.inf), (1.0, math.inf)):
        x = g.tensor(at, requires_grad=True)
        y = g.erfinv(x)
        assert y.item() == value
        (d,) = g.grad(y, x)
        assert d.item() == math.inf
    assert g.erfcinv(g.tensor([0.0, 2.0])).data.tolist() == [math.inf, -math.inf]


def test_mod_and_fmod_follow_python_and_c_signs():
    xs, ys = [7.0, -7.0, 7.0, -7.0], [3.0, 3.0, -3.0, -3.0]
    assert g.mod(g.tensor(xs), g.tensor(ys)).data.tolist() == [a % b for a, b in zip(xs, ys,
                                                                                         strict=True)]
    assert g.fmod(g.tensor(xs), g.tensor(ys)).data.tolist() == [
        math.fmod(a, b) for a, b in zip(xs, ys, strict=True)]


@pytest.mark.parametrize("x,y", [(6.0, 3.0), (-6.0, 3.0), (6.0, -2.0), (0.0, 2.5)])
def test_mod_at_multiples_of_y(x, y):
    a, b = g.tensor(x, requires_grad=True), g.tensor(y, requires_grad=True)
    out = g.mod(a, b)
    assert out.item() == 0.0
    ga, gb = g.grad(out, [a, b])
    # the documented one-sided values: 1, and -floor(x/y) = -(x/y) exactly at a multiple
    assert (ga.item(), gb.item()) == (1.0, -math.floor(x / y))


def test_xlogy_is_zero_at_x_zero_with_zero_x_derivative():
    x, y = g.tensor(0.0, requires_grad=True), g.tensor(0.0, requires_grad=True)
    out = g.xlogy(x, y)
    assert out.item() == 0.0
    gx, _ = g.grad(out, [x, y])
    assert gx.item() == 0.0


def test_heaviside_derivative_in_h0_only_at_zero():
    x = g.tensor([-1.0, 0.0, 2.0])
    h0 = g.tensor(0.5, requires_grad=True)
    (d,) = g.grad(g.sum(g.heaviside(x, h0)), h0)
    assert g.heaviside(x, h0).data.tolist() == [0.0, 0.5, 1.0]
    assert d.item() == 1.0


def test_aliases_are_the_same_functions():
    from gradcli.ops import OPS

    for op in OPS.values():
        for alias in op.aliases:
            assert getattr(g, alias) is getattr(g, op.name)
    assert {a for op in OPS.values() for a in op.aliases} >= {
        "ln", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh"}


def test_scipy_is_imported_only_when_a_special_function_runs():
    import subprocess
    import sys

    code = ("import sys; from gradcli.language import parse; "
            "parse('sin(x) + erf(x) + gelu(x)').evaluate({'x': 1.0}); "
            "print('scipy' in sys.modules); "
            "parse('gamma(x)').evaluate({'x': 1.0}); print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
