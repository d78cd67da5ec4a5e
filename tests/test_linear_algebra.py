"""Linear algebra against closed forms: values, gradients and Hessians, at random
matrices, on stacks, for matrices built from scalar variables, and at the edges
(singular and near-singular matrices, repeated eigenvalues)."""

from __future__ import annotations

import numpy as np
import pytest

import gradcli as g
from gradcli.cli import _run
from gradcli.language import parse
from gradcli.ops import fn

RNG = np.random.default_rng(11)


def _random(*shape: int) -> np.ndarray:
    return RNG.uniform(-2, 2, size=shape)


def _directional_second(func, a: np.ndarray, e: np.ndarray) -> float:
    """d^2/dt^2 f(A + tE) at t = 0, through create_graph."""
    x = g.tensor(a, requires_grad=True)
    (grad,) = g.grad(func(x), x, create_graph=True)
    (second,) = g.grad(g.sum(grad * g.tensor(e)), x)
    return float(np.sum(second.data * e))


def test_logabsdet_gradient_and_hessian():
    a, e = _random(3, 3), _random(3, 3)
    x = g.tensor(a, requires_grad=True)
    out = fn.logabsdet(x)
    assert out.item() == pytest.approx(np.log(abs(np.linalg.det(a))), rel=1e-13)
    (grad,) = g.grad(out, x)
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(grad.data, inv.T, rtol=1e-12)  # d log|det A| = tr(A^-1 dA)
    assert _directional_second(fn.logabsdet, a, e) == pytest.approx(
        -np.trace(inv @ e @ inv @ e), rel=1e-10)


def test_inv_derivative_is_minus_inv_da_inv():
    a, e, c = _random(3, 3), _random(3, 3), _random(3, 3)
    inv = np.linalg.inv(a)
    x = g.tensor(a, requires_grad=True)
    (grad,) = g.grad(g.sum(fn.inv(x) * g.tensor(c)), x)
    # <C, -A^-1 dA A^-1> = <-A^-T C A^-T, dA>
    np.testing.assert_allclose(grad.data, -inv.T @ c @ inv.T, rtol=1e-11)
    # second: d^2 inv = 2 A^-1 E A^-1 E A^-1
    want = np.sum(c * (2 * inv @ e @ inv @ e @ inv))
    assert _directional_second(lambda t: g.sum(fn.inv(t) * g.tensor(c)), a, e) == \
        pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("columns", [None, 2])
def test_solve_gradients_are_the_adjoint_system(columns):
    a = _random(3, 3)
    b = _random(3) if columns is None else _random(3, columns)
    c = RNG.uniform(0.5, 1.5, size=b.shape)
    ta, tb = g.tensor(a, requires_grad=True), g.tensor(b, requires_grad=True)
    out = fn.solve(ta, tb)
    x = np.linalg.solve(a, b)
    np.testing.assert_allclose(out.data, x, rtol=1e-12)
    ga, gb = g.grad(g.sum(out * g.tensor(c)), [ta, tb])
    lam = np.linalg.solve(a.T, c)
    np.testing.assert_allclose(gb.data, lam, rtol=1e-11)
    np.testing.assert_allclose(ga.data, -(np.outer(lam, x) if columns is None else lam @ x.T),
                               rtol=1e-11)


def test_cholesky_reconstructs_and_its_derivative_is_the_closed_form():
    m = _random(3, 3)
    a = m @ m.T + 3 * np.eye(3)
    lower = fn.cholesky(g.tensor(a)).data
    np.testing.assert_allclose(lower @ lower.T, a, rtol=1e-13)
    assert np.allclose(lower, np.tril(lower))
    # dL = L phi(L^-1 dA L^-T) along a symmetric direction, phi: lower half, half diagonal
    e = _random(3, 3)
    e = e + e.T
    li = np.linalg.inv(lower)
    inner = li @ e @ li.T
    want = lower @ (np.tril(inner) - 0.5 * np.diag(np.diag(inner)))
    c = _random(3, 3)
    x = g.tensor(a, requires_grad=True)
    (grad,) = g.grad(g.sum(fn.cholesky(x) * g.tensor(c)), x)
    assert np.sum(grad.data * e) == pytest.approx(np.sum(c * want), rel=1e-10)
    np.testing.assert_allclose(grad.data, grad.data.T, rtol=1e-12)  # the symmetric derivative


def test_eigvalsh_first_and_second_derivatives_are_perturbation_theory():
    m = _random(4, 4)
    a = m + m.T
    w, v = np.linalg.eigh(a)
    e = _random(4, 4)
    e = e + e.T
    for i in range(4):
        def f(t, i=i):
            return fn.eigvalsh(t)[i]

        x = g.tensor(a, requires_grad=True)
        (grad,) = g.grad(f(x), x)
        np.testing.assert_allclose(grad.data, np.outer(v[:, i], v[:, i]), atol=1e-12)
        coupling = v.T @ e @ v
        want = 2 * sum(coupling[i, j] ** 2 / (w[i] - w[j]) for j in range(4) if j != i)
        assert _directional_second(f, a, e) == pytest.approx(want, rel=1e-8)


def test_svdvals_derivative_is_u_e_v():
    for shape in ((3, 3), (4, 2), (2, 4)):
        a = _random(*shape)
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        x = g.tensor(a, requires_grad=True)
        out = fn.svdvals(x)
        np.testing.assert_allclose(out.data, s, rtol=1e-13)
        for i in range(len(s)):
            (grad,) = g.grad(fn.svdvals(x)[i], x)
            np.testing.assert_allclose(grad.data, np.outer(u[:, i], vh[i]), atol=1e-11)


def test_svdvals_hessian_is_that_of_the_eigenvalues_of_the_gram_matrix():
    a, e = _random(3, 2), _random(3, 2)
    # sum(s^2) = ||A||_F^2, whose second derivative along E is 2 ||E||^2
    assert _directional_second(lambda t: g.sum(fn.svdvals(t) ** 2.0), a, e) == \
        pytest.approx(2 * np.sum(e * e), rel=1e-9)


@pytest.mark.parametrize("k", [0, 1, 2, 5, -1, -3])
def test_matrix_power_against_repeated_products(k):
    a, c, e = _random(3, 3) / 2, _random(3, 3), _random(3, 3)

    def power(m: np.ndarray) -> np.ndarray:
        out = np.eye(3)
        for _ in range(abs(k)):
            out = out @ (m if k >= 0 else np.linalg.inv(m))
        return out

    np.testing.assert_allclose(fn.matrix_power(g.tensor(a), k).data, power(a), rtol=1e-11)
    x = g.tensor(a, requires_grad=True)
    (grad,) = g.grad(g.sum(fn.matrix_power(x, k) * g.tensor(c)), x)
    h = 1e-6
    fd = (np.sum(c * power(a + h * e)) - np.sum(c * power(a - h * e))) / (2 * h)
    assert np.sum(grad.data * e) == pytest.approx(fd, rel=1e-6, abs=1e-8)


# -- matrices built from scalar variables -----------------------------------------------------
def _hessian(text: str, at: dict[str, float]) -> tuple[float, np.ndarray, np.ndarray]:
    names = list(at)
    xs = [g.tensor(at[n], requires_grad=True) for n in names]
    out = parse(text).evaluate(dict(zip(names, xs, strict=True)))
    grads = g.grad(out, xs, create_graph=True)
    rows = []
    for gi in grads:
        row = g.grad(gi, xs, allow_unused=True, retain_graph=True) if gi.requires_grad \
            else [None] * len(xs)
        rows.append([0.0 if h is None else h.item() for h in row])
    return out.item(), np.array([gi.item() for gi in grads]), np.array(rows)


def test_det_of_a_matrix_of_scalars():
    x, y, z = 1.5, -0.5, 2.0
    value, grad, hess = _hessian("det([[x, y], [z, x*y]])", {"x": x, "y": y, "z": z})
    assert value == pytest.approx(x * x * y - y * z, rel=1e-14)  # x^2 y - y z
    np.testing.assert_allclose(grad, [2 * x * y, x * x - z, -y], rtol=1e-13)
    np.testing.assert_allclose(hess, [[2 * y, 2 * x, 0], [2 * x, 0, -1], [0, -1, 0]],
                               atol=1e-12)


def test_eigvalsh_of_a_matrix_of_scalars():
    x, y, z = 1.0, 0.7, -0.4
    for index, sign in ((0, -1), (1, 1)):
        value, grad, hess = _hessian(f"eigvalsh([[x, y], [y, z]])[{index}]",
                                     {"x": x, "y": y, "z": z})
        r = np.sqrt(((x - z) / 2) ** 2 + y * y)
        assert value == pytest.approx((x + z) / 2 + sign * r, rel=1e-13)
        d = (x - z) / 2
        np.testing.assert_allclose(grad, [0.5 + sign * d / (2 * r), sign * y / r,
                                          0.5 - sign * d / (2 * r)], rtol=1e-12)
        # second derivatives of r = sqrt(d^2 + y^2), d = (x - z)/2
        rxx = (y * y) / (4 * r**3)
        rxy = -d * y / (2 * r**3)
        ryy = d * d / r**3
        want = sign * np.array([[rxx, rxy, -rxx], [rxy, ryy, -rxy], [-rxx, -rxy, rxx]])
        np.testing.assert_allclose(hess, want, rtol=1e-10, atol=1e-12)


def test_inv_and_solve_of_matrices_of_scalars():
    x, y = 2.0, 0.5
    value, grad, _ = _hessian("inv([[x, y], [1, x]])[0, 0]", {"x": x, "y": y})
    det = x * x - y
    assert value == pytest.approx(x / det, rel=1e-14)
    np.testing.assert_allclose(grad, [(det - 2 * x * x) / det**2, x / det**2], rtol=1e-12)
    value, grad, _ = _hessian("solve([[x, 0], [y, 1]], [1, 1])[1]", {"x": x, "y": y})
    assert value == pytest.approx(1 - y / x, rel=1e-14)
    np.testing.assert_allclose(grad, [y / x**2, -1 / x], rtol=1e-12)


# -- edges -----------------------------------------------------------------------------------
def test_singular_matrices_give_inf_or_nan_not_errors():
    singular = g.tensor([[1.0, 2.0], [2.0, 4.0]])
    assert np.isnan(fn.inv(singular).data).all()
    assert np.isnan(fn.solve(singular, g.tensor([1.0, 1.0])).data).all()
    assert fn.logabsdet(singular).item() == -np.inf
    assert fn.det(singular).item() == 0.0
    stack = g.tensor(np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]]]))
    out = fn.solve(stack, g.tensor([1.0, 2.0])).data
    np.testing.assert_allclose(out[0], [1.0, 2.0])
    assert np.isnan(out[1]).all()
    not_definite = fn.cholesky(g.tensor(np.stack([np.eye(2), -np.eye(2)]))).data
    np.testing.assert_allclose(not_definite[0], np.eye(2))
    assert np.isnan(not_definite[1]).all()


def test_near_singular_matrices_stay_finite_and_match_the_closed_form():
    eps = 1e-9
    a = np.array([[1.0, 1.0], [1.0, 1.0 + eps]])
    x = g.tensor(a, requires_grad=True)
    (grad,) = g.grad(fn.logabsdet(x), x)
    np.testing.assert_allclose(grad.data, np.linalg.inv(a).T, rtol=1e-6)
    assert np.isfinite(fn.solve(g.tensor(a), g.tensor([1.0, 2.0])).data).all()


def test_singular_matrix_in_the_cli_warns_with_the_sub_expression(capsys):
    code = _run(["grad", "sum(inv([[x, 2], [2, 4]]))", "x=1"])
    captured = capsys.readouterr()
    assert code == 0
    assert "inv([[x, 2], [2, 4]]) at x = 1" in captured.err
    assert "A not singular" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_repeated_eigenvalues():
    # the first derivative of the sum (the trace) is still exact: the identity
    x = g.tensor(np.eye(3), requires_grad=True)
    (grad,) = g.grad(g.sum(fn.eigvalsh(x)), x, create_graph=True)
    np.testing.assert_allclose(grad.data, np.eye(3), atol=1e-14)
    # second derivatives there are documented as inf or nan, and never an exception
    (second,) = g.grad(g.sum(grad * g.tensor(_random(3, 3))), x)
    assert not np.isfinite(second.data).all()


def test_stacks_are_each_matrix_alone():
    stack = _random(4, 3, 3)
    spd = stack @ np.swapaxes(stack, -1, -2) + 3 * np.eye(3)
    for name, data in (("logabsdet", stack), ("eigvalsh", spd), ("svdvals", stack),
                       ("cholesky", spd)):
        function = getattr(fn, name)
        x = g.tensor(data, requires_grad=True)
        (grad,) = g.grad(g.sum(function(x) ** 2.0), x)
        for k in range(4):
            xk = g.tensor(data[k], requires_grad=True)
            (gk,) = g.grad(g.sum(function(xk) ** 2.0), xk)
            np.testing.assert_allclose(grad.data[k], gk.data, rtol=1e-10, atol=1e-12)


def test_structure_ops_follow_numpy():
    v, a, b = _random(3), _random(3, 3), _random(2, 3)
    np.testing.assert_array_equal(fn.diag(g.tensor(v)).data, np.diag(v))
    np.testing.assert_array_equal(fn.diag(g.tensor(b)).data, np.diag(b))
    np.testing.assert_array_equal(fn.triu(g.tensor(a), k=1).data, np.triu(a, 1))
    np.testing.assert_array_equal(fn.tril(g.tensor(a), k=-1).data, np.tril(a, -1))
    np.testing.assert_allclose(fn.kron(g.tensor(a), g.tensor(b)).data, np.kron(a, b))
    np.testing.assert_allclose(fn.kron(g.tensor(v), g.tensor(v[:2])).data, np.kron(v, v[:2]))
    np.testing.assert_allclose(fn.cross(g.tensor(v), g.tensor(a[0])).data, np.cross(v, a[0]))
    np.testing.assert_allclose(fn.cumsum(g.tensor(a), axis=0).data, np.cumsum(a, axis=0))
    np.testing.assert_allclose(fn.cumprod(g.tensor(a)).data, np.cumprod(a, axis=-1))


def test_matrix_norms_and_their_gradients():
    for shape in ((3, 3), (4, 2)):
        a = _random(*shape)
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        for order, value, gradient in (
                ("fro", np.sqrt(np.sum(a * a)), a / np.sqrt(np.sum(a * a))),
                ("nuc", np.sum(s), u @ vh),
                (2, s[0], np.outer(u[:, 0], vh[0]))):
            x = g.tensor(a, requires_grad=True)
            out = fn.norm(x, ord=order)
            assert out.item() == pytest.approx(value, rel=1e-13)
            assert out.item() == pytest.approx(np.linalg.norm(a, order), rel=1e-13)
            (grad,) = g.grad(out, x)
            np.testing.assert_allclose(grad.data, gradient, atol=1e-12)
    # the language: text options, and the default stays the 2-norm of the elements
    a = _random(3, 3)
    for text, want in (("norm(A)", np.linalg.norm(a)), ("norm(A, ord='fro')", np.linalg.norm(a)),
                       ('norm(A, ord="nuc")', np.linalg.norm(a, "nuc")),
                       ("norm(A, ord=2)", np.linalg.norm(a, 2))):
        assert parse(text).evaluate({"A": a}).item() == pytest.approx(want, rel=1e-13), text


def test_matrix_norm_errors_name_the_fix():
    from gradcli.errors import GradcliError

    with pytest.raises(GradcliError) as info:
        parse("norm(v, ord='nuc')").evaluate({"v": np.ones(3)})
    assert "matrix norm" in info.value.message
    with pytest.raises(GradcliError):
        parse("norm(A, ord='bogus')").evaluate({"A": np.ones((2, 2))})
    with pytest.raises(GradcliError):
        parse("log(x, base='two')").evaluate({"x": 2.0})
    with pytest.raises(GradcliError):  # text only where a keyword's value is expected
        parse("'fro' + 1")


@pytest.mark.parametrize("form", ["table", "json", "csv"])
def test_a_text_option_shows_in_every_graph_view(capsys, form):
    code = _run(["graph", "norm(A, ord='nuc')", "A=[[1,2],[3,4]]", "--format", form])
    out = capsys.readouterr().out
    assert code == 0 and "nuc" in out
