"""Taylor mode (`gradcli taylor`): coefficients against mpmath for every elementwise
entry, against reverse mode for every entry, closed forms, the command and its views."""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest

from gradcli import Tensor, grad
from gradcli.cli import _run
from gradcli.engine.batching import elementwise
from gradcli.engine.taylor import expand, taylor_coefficients
from gradcli.ops import OPS, fn
from gradcli.series import taylor
from tests.opcases import cases_for, differentiable_ops

mpmath.mp.dps = 40
ORDER = 20
M = mpmath


def _mod(x, y):
    return x - y * M.floor(x / y)


#: independent references, one per elementwise entry of the table (mpmath, 40 digits)
REFERENCES = {
    "log_sigmoid": lambda x: -M.log1p(M.exp(-x)), "gelu": lambda x: x * M.ncdf(x),
    "silu": lambda x: x / (1 + M.exp(-x)), "softsign": lambda x: x / (1 + abs(x)),
    "elu": lambda x: x if x > 0 else M.expm1(x), "neg": lambda x: -x, "exp": M.exp,
    "expm1": M.expm1, "exp2": lambda x: M.power(2, x), "log": M.log, "log1p": M.log1p,
    "log2": lambda x: M.log(x, 2), "log10": M.log10, "sqrt": M.sqrt, "cbrt": M.cbrt,
    "square": lambda x: x * x, "abs": abs, "sign": M.sign, "sin": M.sin, "cos": M.cos,
    "tan": M.tan, "asin": M.asin, "acos": M.acos, "atan": M.atan, "sinh": M.sinh,
    "cosh": M.cosh, "tanh": M.tanh, "asinh": M.asinh, "acosh": M.acosh, "atanh": M.atanh,
    "sigmoid": lambda x: 1 / (1 + M.exp(-x)), "logit": lambda x: M.log(x / (1 - x)),
    "softplus": lambda x: M.log1p(M.exp(x)), "relu": lambda x: max(x, 0), "erf": M.erf,
    "erfc": M.erfc, "floor": M.floor, "ceil": M.ceil, "round": M.nint,
    "trunc": lambda x: M.floor(x) if x >= 0 else M.ceil(x), "sec": M.sec, "csc": M.csc,
    "cot": M.cot, "deg2rad": lambda x: x * M.pi / 180, "rad2deg": lambda x: x * 180 / M.pi,
    "gamma": M.gamma, "lgamma": lambda x: M.log(abs(M.gamma(x))),
    "digamma": M.digamma,
    "erfinv": M.erfinv, "erfcinv": lambda x: M.erfinv(1 - x), "sinc": M.sincpi,
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y, "pow": M.power, "atan2": M.atan2, "hypot": M.hypot,
    "maximum": max, "minimum": min, "mod": _mod,
    "fmod": lambda x, y: x - y * (M.floor(x / y) if x / y >= 0 else M.ceil(x / y)),
    "heaviside": lambda x, h0: 1 if x > 0 else (h0 if x == 0 else 0),
    "logaddexp": lambda x, y: M.log(M.exp(x) + M.exp(y)),
    "where": lambda c, x, y: x if c else y, "clip": lambda x, lo, hi: min(max(x, lo), hi),
    "polygamma": lambda n, x: M.polygamma(int(n), x),
    "beta": lambda a, b: M.gamma(a) * M.gamma(b) / M.gamma(a + b),
    "xlogy": lambda x, y: x * M.log(y),
}
#: references given as their coefficients where mpmath's numerical Taylor expansion is
#: very slow: digamma's k-th derivative is polygamma(k, x); beta is exp of a sum of
#: lgamma series (whose coefficients are polygammas), the exp taken in mpmath
def _digamma_series(p, v, n):
    return [M.polygamma(k, p[0]) * v[0] ** k / M.factorial(k) for k in range(n + 1)]


def _exp_of_lgammas(terms, n):
    """exp(sum sign * lgamma(x + d t)) as a series, for positive arguments."""
    log = [sum(sign * M.loggamma(x) for x, _, sign in terms)]
    log += [sum(sign * M.polygamma(k - 1, x) * d ** k / M.factorial(k) for x, d, sign in terms)
            for k in range(1, n + 1)]
    out = [M.exp(log[0])]
    for k in range(1, n + 1):
        out.append(sum(j * log[j] * out[k - j] for j in range(1, k + 1)) / k)
    return out


SERIES = {
    "digamma": _digamma_series,
    "gamma": lambda p, v, n: _exp_of_lgammas([(p[0], v[0], 1)], n),
    "beta": lambda p, v, n: _exp_of_lgammas(
        [(p[0], v[0], 1), (p[1], v[1], 1), (p[0] + p[1], v[0] + v[1], -1)], n),
}
#: inputs that are not differentiable (an order, a condition) keep their value
FIXED_INPUTS = {"polygamma": (0,), "where": (0,)}


def elementwise_entries():
    return sorted((op for op in OPS.values() if op.public and op.batch is elementwise
                   and op.kind in ("elementwise", "binary")), key=lambda op: op.name)


def test_every_elementwise_entry_has_a_reference():
    assert {op.name for op in elementwise_entries()} == set(REFERENCES)


def _point(op):
    samples = op.sample or ((-2.0, 2.0),) * max(op.nin, 1)
    return [lo + 0.37 * (hi - lo) for lo, hi in samples]


def _direction(op, n):
    fixed = FIXED_INPUTS.get(op.name, ())
    return [0.0 if i in fixed else (1.0, 0.5, -0.75)[i] for i in range(n)]


def _agrees(ours, reference):
    scale = max(abs(float(r)) for r in reference)
    for k, (c, r) in enumerate(zip(ours, reference, strict=True)):
        r = float(r)
        assert abs(float(c) - r) <= 1e-12 * max(abs(r), 1e-3 * scale), (k, float(c), r)


@pytest.mark.parametrize("op", elementwise_entries(), ids=lambda op: op.name)
def test_coefficients_match_mpmath_to_order_20(op):
    point = _point(op)
    direction = _direction(op, len(point))
    function = getattr(fn, op.name)
    ours = taylor_coefficients(function, [np.array(p) for p in point],
                               [np.array(v) for v in direction], ORDER)
    if op.name in SERIES:
        _agrees(ours, SERIES[op.name]([M.mpf(p) for p in point],
                                      [M.mpf(v) for v in direction], ORDER))
        return
    reference_f = REFERENCES[op.name]
    along = lambda t: reference_f(*[M.mpf(p) + M.mpf(v) * t
                                    for p, v in zip(point, direction, strict=True)])
    _agrees(ours, M.taylor(along, 0, ORDER))


def _weighted(case, rng):
    weights = None

    def f(*xs):
        nonlocal weights
        out = case.func(*xs)
        if weights is None:
            weights = rng.uniform(-1, 1, size=np.shape(out.data))
        return fn.sum(out * Tensor(weights))

    return f


CASES = [(op, case) for op in differentiable_ops() for case in cases_for(op, seed=3)]


@pytest.mark.parametrize(("op", "case"), CASES,
                         ids=[f"{op.name}-{case.label}" for op, case in CASES])
def test_first_two_coefficients_are_reverse_modes_derivatives(op, case):
    """c1 = grad . v and 2 c2 = v^T H v, H by reverse over reverse (another algorithm)."""
    rng = np.random.default_rng(5)
    f = _weighted(case, rng)
    f(*[Tensor(x) for x in case.inputs])  # fixes the weights
    directions = [rng.uniform(-1, 1, size=np.shape(x)) for x in case.inputs]
    c = taylor_coefficients(f, case.inputs, directions, 2)
    leaves = [Tensor(x, requires_grad=True) for x in case.inputs]
    out = f(*leaves)
    grads = grad(out, leaves, create_graph=True, allow_unused=True)
    slope = sum((fn.sum(g * Tensor(v)) for g, v in zip(grads, directions, strict=True)
                 if g is not None), start=Tensor(0.0))
    curvature = 0.0
    if slope.requires_grad:
        second = grad(slope, leaves, allow_unused=True)
        curvature = sum(float(np.sum(h.data * v)) for h, v in
                        zip(second, directions, strict=True) if h is not None)
    assert np.allclose(float(c[0]), float(out.data), rtol=1e-12, atol=1e-12)
    assert np.allclose(float(c[1]), float(slope.data), rtol=1e-9, atol=1e-9)
    assert np.allclose(2 * float(c[2]), curvature, rtol=1e-7, atol=1e-8)


# -- closed forms ------------------------------------------------------------------------
def test_exp_of_sin_at_zero():
    # exp(sin x) = 1 + x + x^2/2 - x^4/8 - x^5/15 - x^6/240 + ...
    c = taylor("exp(sin(x))", {"x": 0.0}, order=6).coefficients
    assert [float(v) for v in c] == pytest.approx([1, 1, 0.5, 0, -1 / 8, -1 / 15, -1 / 240],
                                                  rel=1e-14, abs=1e-16)


def test_a_polynomial_is_exact_and_ends():
    c = taylor("x^3 - 2*x + 1", {"x": 0.0}, order=5).coefficients
    assert [float(v) for v in c] == [1, -2, 0, 1, 0, 0]


def test_along_a_direction_of_several_variables():
    # f = x y^2 at (1, 2) along (1, 1): (1+t)(2+t)^2 = 4 + 8t + 5t^2 + t^3
    result = taylor("x*y^2", {"x": 1.0, "y": 2.0}, order=4, dir=np.array([1.0, 1.0]))
    assert [float(v) for v in result.coefficients] == [4, 8, 5, 1, 0]
    assert result.polynomial == "4 + 8*t + 5*t^2 + t^3"


def test_matrix_functions_along_a_direction():
    # det(A + tB) for 2x2 is det A + t (a d' + a' d - b c' - b' c) + t^2 det B
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[0.5, -1.0], [2.0, 1.0]])
    c = taylor_coefficients(fn.det, [a], [b], 3)
    assert [float(v) for v in c] == pytest.approx([-2.0, 1 * 1 + 0.5 * 4 - 2 * 2 + 1 * 3,
                                                   2.5, 0.0], abs=1e-12)
    # inv(I + tE) = I - tE + t^2 E^2 - ...
    e = np.array([[0.0, 1.0], [-2.0, 0.5]])
    c = taylor_coefficients(fn.inv, [np.eye(2)], [e], 4)
    for k in range(5):
        assert np.allclose(c[k], np.linalg.matrix_power(-e, k), atol=1e-12)


def test_the_work_grows_with_the_order_squared_not_exponentially():
    """The graph of series is the same size at every order (each node then costs O(N^2)
    for N coefficients), so no order nests derivatives; benchmarks/taylor.py times it."""
    f = lambda x: fn.exp(fn.sin(x))
    sizes = [len(expand(f, [np.array(0.3)], [np.array(1.0)], n)[0].nodes) for n in (5, 20, 80)]
    assert sizes[0] == sizes[1] == sizes[2]


def test_the_derivatives_are_k_factorial_times_the_coefficients():
    result = taylor("exp(2*x)", {"x": 0.0}, order=10)
    assert [float(d) for d in result.derivatives] == pytest.approx(
        [2.0 ** k for k in range(11)], rel=1e-13)
    big = taylor("exp(x)", {"x": 0.0}, order=170)
    assert float(big.derivatives[170]) == pytest.approx(1.0, rel=1e-12)  # 170! / 170!


# -- the command -------------------------------------------------------------------------
def run(capsys, *args):
    code = _run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_polynomial_parses_back_and_agrees(capsys):
    code, out, _ = run(capsys, "taylor", "exp(sin(x))", "x=0.5", "--order", "12",
                       "--format", "json")
    assert code == 0
    obj = json.loads(out)
    assert set(obj) >= {"coefficients", "derivatives", "polynomial", "order"}
    near = 0.51
    code, out, _ = run(capsys, "eval", obj["polynomial"], f"x={near}", "--format", "json")
    assert code == 0
    assert json.loads(out)["value"] == pytest.approx(math.exp(math.sin(near)), rel=1e-14)


def test_table_view(capsys):
    code, out, _ = run(capsys, "taylor", "exp(sin(x))", "x=0", "--order", "4")
    assert code == 0
    assert out.splitlines()[-1] == "series = 1 + x + 0.5*x^2 - 0.125*x^4"


def test_csv_view(capsys):
    code, out, _ = run(capsys, "taylor", "1/(1-x)", "x=0", "--order", "3", "--format", "csv")
    assert code == 0
    assert out.splitlines() == ["k,coefficient,derivative", "0,1.0,1.0", "1,1.0,1.0",
                                "2,1.0,2.0", "3,1.0,6.0"]


@pytest.mark.parametrize(("args", "message"), [
    (["x*y", "x=1", "y=2"], "needs a direction"),
    (["x*y", "x=1", "y=2", "--dir", "[1,2,3]"], "--dir has 3 numbers"),
    (["x", "x=1", "--order", "-1"], "--order"),
    (["x", "x=1", "--order", "5000"], "--order"),
])
def test_errors_are_exit_2_with_a_message(capsys, args, message):
    code, out, err = run(capsys, "taylor", *args)
    assert code == 2 and message in err and "Traceback" not in err
