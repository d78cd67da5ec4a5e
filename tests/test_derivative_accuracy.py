"""Issue 19's table of wrong or inaccurate derivatives, each against an outside truth.

Truths are mpmath at 40 digits or closed forms; each case is a point where the
old derivative rule was wrong, and the bound is a few ulps in float64 (first
and second derivatives alike) unless the case says why not.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from gradcli.compute import gradient, hessian

mpmath.mp.dps = 40
ULP = 2.0**-52


def close(got: float, want: object, ulps: float = 4.0) -> bool:
    want = float(want)  # type: ignore[arg-type]
    return abs(got - want) <= ulps * ULP * abs(want) or got == want


def grad_of(expression: str, **at: object) -> dict[str, np.ndarray]:
    return gradient(expression, at).gradient


def hess_of(expression: str, **at: object) -> np.ndarray:
    return hessian(expression, at).hessian


@pytest.mark.parametrize("y", [2.0, 0.5, 3.7])
def test_xlogy_x_derivative_at_x_zero_is_log_y(y):
    # row 1: PyTorch masks d/dx only where x = 0 and y <= 0
    assert close(float(grad_of("xlogy(x, y)", x=0.0, y=y)["x"]), mpmath.log(y))


def test_xlogy_keeps_the_mask_where_y_is_not_positive():
    assert float(grad_of("xlogy(x, y)", x=0.0, y=0.0)["x"]) == 0.0
    assert float(grad_of("xlogy(x, y)", x=0.0, y=-1.0)["x"]) == 0.0


@pytest.mark.parametrize("y", [1.0, 2.5])
def test_xlogy_hessian_is_symmetric_at_x_zero(y):
    # row 2: H = [[0, 1/y], [1/y, 0]]
    h = hess_of("xlogy(x, y)", x=0.0, y=y)
    assert h[0, 0] == 0.0 and close(h[0, 1], 1 / mpmath.mpf(y)) and h[0, 1] == h[1, 0]
    assert close(h[1, 1], 0.0)


def test_pow_hessian_is_symmetric_at_exponent_zero():
    # row 3: f = x^y at (2, 0): H_xy = H_yx = 1/x, H_yy = log(x)^2
    h = hess_of("x^y", x=2.0, y=0.0)
    assert h[0, 0] == 0.0 and h[0, 1] == h[1, 0] == 0.5
    assert close(h[1, 1], mpmath.log(2) ** 2)


def test_pow_keeps_pytorch_zero_at_zero_to_the_zero():
    assert float(grad_of("x^y", x=0.0, y=0.0)["x"]) == 0.0


@pytest.mark.parametrize("a, want", [
    ([2.0, 0.0, 3.0], [[0, 3, 0], [3, 0, 2], [0, 2, 0]]),
    ([2.0, 0.0, 0.0], [[0, 0, 0], [0, 0, 2], [0, 2, 0]]),
    ([0.0, 0.0, 0.0], [[0, 0, 0], [0, 0, 0], [0, 0, 0]]),
    ([2.0, 5.0, 3.0], [[0, 3, 5], [3, 0, 2], [5, 2, 0]]),
])
def test_prod_hessian_is_exact_with_zeros(a, want):
    # row 4: d2 prod / da_i da_j is the product of all but a_i and a_j
    assert hess_of("prod(a)", a=a).tolist() == want


def test_prod_hessian_along_an_axis_with_zeros():
    h = hess_of("sum(prod(a, axis=1))", a=[[2.0, 0.0], [0.0, 0.0]])
    assert h.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]


@pytest.mark.parametrize("x", [1e-10, 1e-300, 0.3, 5.0, 30.0, 300.0])
def test_tanh_second_derivative(x):
    # row 5: tanh'' = -2 tanh sech^2
    want = -2 * mpmath.tanh(x) * mpmath.sech(x) ** 2
    assert close(float(hess_of("tanh(x)", x=x)[0, 0]), want, 8)
    assert close(float(grad_of("tanh(x)", x=x)["x"]), mpmath.sech(x) ** 2, 4)


def test_logaddexp_hessian_at_a_large_gap():
    # row 6: H_xx = e^(x+y)/(e^x+e^y)^2
    x, y = mpmath.mpf(9), mpmath.mpf(-7)
    want = mpmath.exp(x + y) / (mpmath.exp(x) + mpmath.exp(y)) ** 2
    h = hess_of("logaddexp(x, y)", x=9.0, y=-7.0)
    assert close(h[0, 0], want) and close(h[1, 1], want) and close(-h[0, 1], want)


@pytest.mark.parametrize("x", [-40.0, -700.0, 1e-12, 3.0])
def test_expm1_derivatives_are_exp(x):
    # row 7
    want = mpmath.exp(x)
    assert close(float(grad_of("expm1(x)", x=x)["x"]), want)
    assert close(float(hess_of("expm1(x)", x=x)[0, 0]), want)


@pytest.mark.parametrize("name, x, first, second", [
    ("acosh", "1.00000001", lambda x: 1 / mpmath.sqrt(x * x - 1),
     lambda x: -x / (x * x - 1) ** 1.5),
    ("asin", "0.999999", lambda x: 1 / mpmath.sqrt(1 - x * x), lambda x: x / (1 - x * x) ** 1.5),
    ("acos", "0.999999", lambda x: -1 / mpmath.sqrt(1 - x * x),
     lambda x: -x / (1 - x * x) ** 1.5),
    ("atanh", "0.999999", lambda x: 1 / (1 - x * x), lambda x: 2 * x / (1 - x * x) ** 2),
    ("asin", "-0.9999999999", lambda x: 1 / mpmath.sqrt(1 - x * x),
     lambda x: x / (1 - x * x) ** 1.5),
    ("asin", "1e-10", lambda x: 1 / mpmath.sqrt(1 - x * x), lambda x: x / (1 - x * x) ** 1.5),
    ("atanh", "1e-10", lambda x: 1 / (1 - x * x), lambda x: 2 * x / (1 - x * x) ** 2),
])
def test_inverse_functions_near_their_branch_points(name, x, first, second):
    # row 8: the float64 point, then its exact value for the truth
    point = float(x)
    exact = mpmath.mpf(point)
    assert close(float(grad_of(f"{name}(x)", x=point)["x"]), first(exact))
    assert close(float(hess_of(f"{name}(x)", x=point)[0, 0]), second(exact), 8)


@pytest.mark.parametrize("x", [1e300, 1e200, 1e160])
def test_asinh_and_acosh_at_huge_x(x):
    # row 9: 1/sqrt(x^2 + 1) and 1/sqrt(x^2 - 1) without squaring x
    exact = mpmath.mpf(x)
    assert close(float(grad_of("asinh(x)", x=x)["x"]), 1 / mpmath.sqrt(exact**2 + 1))
    assert close(float(grad_of("acosh(x)", x=x)["x"]), 1 / mpmath.sqrt(exact**2 - 1))


def test_atan2_first_derivatives_at_tiny_arguments():
    # row 10: d/dx atan2(y, x) = -y/(x^2 + y^2), d/dy = x/(x^2 + y^2)
    got = grad_of("atan2(y, x)", x=1e-300, y=1e-300)
    assert close(float(got["x"]), -mpmath.mpf(1e-300) / (2 * mpmath.mpf(1e-300) ** 2))
    assert close(float(got["y"]), mpmath.mpf(1e-300) / (2 * mpmath.mpf(1e-300) ** 2))


def test_atan2_hessian_at_moderately_small_arguments():
    # x^2 + y^2 = 1.3e-300 underflowed with the old formula; the second derivatives
    # (of size 1e299 here) are representable, and within a few ulps
    x, y = mpmath.mpf(3e-150), mpmath.mpf(2e-150)
    r2 = x * x + y * y
    want = [[-2 * x * y / r2**2, (y * y - x * x) / r2**2],
            [(y * y - x * x) / r2**2, 2 * x * y / r2**2]]
    h = hess_of("atan2(y, x)", y=2e-150, x=3e-150)
    for i in range(2):
        for j in range(2):
            assert close(h[i, j], want[i][j], 16)


@pytest.mark.parametrize("a", [
    [[1.0, 2.0], [2.0, 4.0]], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
    [[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [3.0, 4.0]],
])
def test_det_gradient_is_the_cofactor_matrix(a):
    # row 11: d det / dA = adj(A)^T, finite at a singular A
    m = mpmath.matrix(a)
    n = len(a)
    want = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            minor = [[a[r][c] for c in range(n) if c != j] for r in range(n) if r != i]
            want[i, j] = (-1) ** (i + j) * (mpmath.det(mpmath.matrix(minor)) if minor else 1)
    got = grad_of("det(A)", A=a)["A"]
    scale = float(mpmath.mnorm(m, 1)) ** (n - 1)
    assert np.all(np.abs(got - want) <= 8 * ULP * scale)


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 4.0], [2.0, 0.0, 3.0, 0.0, 5.0],
                               [0.0, 0.0, 1.5], [2.0, 1.0, 3.0, 1.5, 5.0]])
def test_cumprod_derivatives_with_exact_zeros(x):
    # row 11: f = sum(w * cumprod(x)); its gradient and Hessian from the expanded
    # polynomial: d/dx_j = sum over i >= j of w_i prod(k <= i, k != j) x_k
    n = len(x)
    w = [1.0 + 0.5 * i for i in range(n)]

    def part(i, skip):
        return float(np.prod([x[k] for k in range(i + 1) if k not in skip]))

    grad_want = [sum(w[i] * part(i, {j}) for i in range(j, n)) for j in range(n)]
    hess_want = [[0.0 if j == k else sum(w[i] * part(i, {j, k}) for i in range(max(j, k), n))
                  for k in range(n)] for j in range(n)]
    expression = f"sum({w} * cumprod(x))"
    assert np.allclose(grad_of(expression, x=x)["x"], grad_want, rtol=4 * ULP, atol=0)
    assert np.allclose(hess_of(expression, x=x), hess_want, rtol=8 * ULP, atol=64 * ULP)
