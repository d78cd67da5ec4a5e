"""jacobian, hessian, vjp, jvp, hvp, vhp: shapes, conventions, and agreement."""

from __future__ import annotations

import numpy as np
import pytest

import gradcli as g
from gradcli import functional
from gradcli.engine import push_tangents
from gradcli.engine.sparse_tangent import SparseTangent


def rosenbrock(x):
    return g.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    n = x.size
    h = np.zeros((n, n))
    i = np.arange(n)
    diag = np.zeros(n)
    diag[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    diag[1:] += 200
    h[i, i] = diag
    h[i[:-1], i[1:]] = h[i[1:], i[:-1]] = -400 * x[:-1]
    return h


@pytest.mark.parametrize("n", [2, 5, 50])
def test_hessian_of_rosenbrock_is_exact(n):
    x = np.random.default_rng(n).uniform(-1, 1, n)
    np.testing.assert_allclose(functional.hessian(rosenbrock, g.tensor(x)).data,
                               rosenbrock_hessian(x), rtol=1e-13, atol=1e-10)


def test_sparse_and_dense_tangents_agree():
    x = np.random.default_rng(0).uniform(-1, 1, 6)

    def f(v):
        return g.stack([g.sum(g.sin(v[1:]) * v[:-1]), g.norm(v), g.max(v * v)]) * v[0]

    leaf = g.tensor(x, requires_grad=True)
    out = f(leaf)
    sparse = push_tangents([out], [leaf], [SparseTangent.identity(6, (6,), 0)])[0]
    dense = push_tangents([out], [leaf], [np.eye(6)])[0]
    np.testing.assert_allclose(sparse, dense, rtol=1e-14, atol=1e-14)


def test_jacobian_shapes_and_several_inputs():
    def f(a, b):
        return g.outer(a, b) * 2.0

    a, b = g.tensor([1.0, 2.0]), g.tensor([3.0, 4.0, 5.0])
    for strategy in ("forward", "reverse", "auto"):
        ja, jb = functional.jacobian(f, (a, b), strategy=strategy)
        assert ja.shape == (2, 3, 2) and jb.shape == (2, 3, 3)
        assert ja.data[1, 2, 1] == 2 * 5.0 and ja.data[1, 2, 0] == 0.0
        assert jb.data[1, 2, 2] == 2 * 2.0


def test_hessian_several_inputs_is_nested():
    h = functional.hessian(lambda x, y: x * x * y, (g.tensor(2.0), g.tensor(3.0)))
    assert [[b.item() for b in row] for row in h] == [[6.0, 4.0], [4.0, 0.0]]


def test_gradient_and_hessian_in_one_pass():
    value, grads, blocks = functional.gradient_and_hessian(
        lambda x, y: x * x * y, (g.tensor(2.0), g.tensor(3.0)))
    assert value.item() == 12.0
    assert [float(gr) for gr in grads] == [12.0, 4.0]
    assert [[float(b) for b in row] for row in blocks] == [[6.0, 4.0], [4.0, 0.0]]


def test_vjp_jvp_hvp_vhp():
    def f(x):
        return g.stack([x[0] ** 2 + 3 * x[1], x[1] ** 2 + 2 * x[0]])

    x = g.tensor([2.0, 3.0])
    _, v = functional.vjp(f, x, g.tensor([1.0, 0.0]))
    assert v.data.tolist() == [4.0, 3.0]
    _, u = functional.jvp(f, x, g.tensor([1.0, 0.0]))
    assert u.data.tolist() == [4.0, 2.0]
    _, hv = functional.hvp(lambda x: g.sum(x**3), x, g.tensor([1.0, 1.0]))
    _, vh = functional.vhp(lambda x: g.sum(x**3), x, g.tensor([1.0, 1.0]))
    assert hv.data.tolist() == vh.data.tolist() == [12.0, 18.0]


def test_hessian_needs_a_scalar():
    with pytest.raises(g.GradcliError, match="scalar"):
        functional.hessian(lambda x: x * 2, g.tensor([1.0, 2.0]))


def test_constant_function_has_zero_derivatives():
    assert functional.jacobian(lambda x: g.tensor([1.0, 2.0]), g.tensor(1.0)).data.tolist() == \
        [0.0, 0.0]
    assert functional.hessian(lambda x: x * 2.0, g.tensor(1.0)).item() == 0.0


@pytest.mark.parametrize("name", ["floor", "sign", "round"])
def test_hessian_through_a_zero_derivative_and_a_slice(name):
    """A piecewise-constant op's zero tangent, moved by the slice's VJP, has the
    variable's shape (it kept the slice's and the Hessian could not be assembled)."""
    f = getattr(g, name)
    h = functional.hessian(lambda x: g.sum(f(x[:2]) ** 2), g.tensor(np.array([0.5, 1.5, 2.5])))
    np.testing.assert_array_equal(h.data, np.zeros((3, 3)))
