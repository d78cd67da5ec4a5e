"""Every op in the table against central finite differences, first and second order,
and its JVP (forward mode) against its VJP (reverse mode)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli as g
from gradcli import functional
from gradcli.ops import OPS, public_ops
from tests.opcases import Case, cases_for, differentiable_ops

ALL_CASES = [pytest.param(case, id=f"{op.name}:{case.label}")
             for op in differentiable_ops() for case in cases_for(op)]


def _cotangent(func, arrays, seed=1):
    out = func(*[g.tensor(a) for a in arrays])
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, size=out.shape)


def _loss(func, arrays, v):
    """The scalar L = sum(v * f(x)), whose gradient is the VJP v^T J."""
    return float(np.sum(v * func(*[g.tensor(a) for a in arrays]).data))


def _finite_difference_gradient(func, arrays, v, h=1e-6):
    grads = []
    for k, a in enumerate(arrays):
        gk = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[k][idx] += h
            minus[k][idx] -= h
            gk[idx] = (_loss(func, plus, v) - _loss(func, minus, v)) / (2 * h)
        grads.append(gk)
    return grads


def _engine_gradient(func, arrays, v, create_graph=False):
    xs = [g.tensor(a, requires_grad=True) for a in arrays]
    out = func(*xs)
    loss = g.sum(out * g.tensor(v))
    grads = g.grad(loss, xs, create_graph=create_graph, allow_unused=True)
    return xs, grads


@pytest.mark.parametrize("case", ALL_CASES)
def test_vjp_matches_finite_differences(case: Case):
    v = _cotangent(case.func, case.inputs)
    _, grads = _engine_gradient(case.func, case.inputs, v)
    expected = _finite_difference_gradient(case.func, case.inputs, v)
    for got, want in zip(grads, expected, strict=True):
        got_data = np.zeros_like(want) if got is None else got.data
        assert got_data.shape == want.shape
        np.testing.assert_allclose(got_data, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ALL_CASES)
def test_jvp_matches_vjp(case: Case):
    inputs = tuple(g.tensor(a) for a in case.inputs)
    forward = functional.jacobian(case.func, inputs, strategy="forward")
    reverse = functional.jacobian(case.func, inputs, strategy="reverse")
    for f, r in zip(forward, reverse, strict=True):
        assert f.shape == r.shape
        np.testing.assert_allclose(f.data, r.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ALL_CASES)
def test_second_derivative_matches_finite_differences_of_gradient(case: Case):
    """d/dx (v^T J) . u through create_graph, against differences of the gradient."""
    v = _cotangent(case.func, case.inputs)
    rng = np.random.default_rng(2)
    us = [rng.uniform(-1, 1, size=a.shape) for a in case.inputs]
    xs, grads = _engine_gradient(case.func, case.inputs, v, create_graph=True)
    live = [(gr, u) for gr, u in zip(grads, us, strict=True) if gr is not None and gr.requires_grad]
    if live:
        directional = g.sum(g.stack([g.sum(gr * g.tensor(u)) for gr, u in live]))
        second = g.grad(directional, xs, allow_unused=True)
    else:
        second = [None] * len(xs)
    h = 1e-5

    def gradient_at(shift):
        moved = [a + shift * u for a, u in zip(case.inputs, us, strict=True)]
        _, gs = _engine_gradient(case.func, moved, v)
        return [np.zeros_like(a) if gr is None else gr.data
                for gr, a in zip(gs, case.inputs, strict=True)]

    plus, minus = gradient_at(h), gradient_at(-h)
    # H u, assembled per input: sum_j d(g_i . u_i)/dx_j ... compare the symmetric form
    fd = [(p - m) / (2 * h) for p, m in zip(plus, minus, strict=True)]
    fd_directional = [np.sum(f * u) for f, u in zip(fd, us, strict=True)]
    got = [np.zeros_like(a) if s is None else s.data
           for s, a in zip(second, case.inputs, strict=True)]
    # u^T H u two ways: from the engine's H u, and from the differences
    np.testing.assert_allclose(
        sum(np.sum(gv * u) for gv, u in zip(got, us, strict=True)),
        sum(fd_directional), rtol=1e-4, atol=1e-5)
    # and H u itself, component by component (H is symmetric)
    for gv, f in zip(got, fd, strict=True):
        np.testing.assert_allclose(gv, f, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ALL_CASES)
def test_forward_over_reverse_matches_reverse_over_reverse(case: Case):
    """The Hessian-vector product both ways exercises every JVP rule on the gradient graph."""
    v = _cotangent(case.func, case.inputs)

    def scalar(*xs):
        return g.sum(case.func(*xs) * g.tensor(v))

    rng = np.random.default_rng(3)
    inputs = tuple(g.tensor(a) for a in case.inputs)
    us = tuple(rng.uniform(-1, 1, size=a.shape) for a in case.inputs)
    _, forward = functional.hvp(scalar, inputs, us)
    _, reverse = functional.vhp(scalar, inputs, us)
    for f, r in zip(forward, reverse, strict=True):
        np.testing.assert_allclose(f.data, r.data, rtol=1e-9, atol=1e-10)


def test_every_public_op_is_a_module_function_with_help():
    for op in public_ops():
        function = getattr(g, op.name)
        assert callable(function)
        assert op.help, op.name
        assert op.signature.startswith(op.name + "(")


def test_comparisons_give_no_gradient():
    x = g.tensor([1.0, -2.0], requires_grad=True)
    for result in (x < 0, x <= 0, x > 0, x >= 0, x == 1, x != 1):
        assert not result.requires_grad and result.grad_fn is None
    assert (x > 0).data.tolist() == [True, False]


@pytest.mark.parametrize("name,at,expected", [
    ("abs", 0.0, 0.0), ("relu", 0.0, 0.0), ("sign", 0.0, 0.0), ("floor", 1.0, 0.0),
    ("sqrt", 0.0, math.inf),
])
def test_kinks_follow_pytorch(name, at, expected):
    x = g.tensor(at, requires_grad=True)
    getattr(g, name)(x).backward()
    assert x.grad.item() == expected


def test_norm_at_zero_is_zero_not_nan():
    for order in (2, 1, 3, math.inf):
        x = g.tensor([0.0, 0.0, 0.0], requires_grad=True)
        g.norm(x, ord=order).backward()
        assert x.grad.data.tolist() == [0.0, 0.0, 0.0]


def test_ties_share_the_gradient():
    x = g.tensor([3.0, 1.0, 3.0], requires_grad=True)
    g.max(x).backward()
    assert x.grad.data.tolist() == [0.5, 0.0, 0.5]
    a, b = g.tensor(2.0, requires_grad=True), g.tensor(2.0, requires_grad=True)
    g.maximum(a, b).backward()
    assert (a.grad.item(), b.grad.item()) == (0.5, 0.5)


def test_prod_gradient_is_exact_at_zero():
    x = g.tensor([2.0, 0.0, 3.0], requires_grad=True)
    g.prod(x).backward()
    assert x.grad.data.tolist() == [0.0, 6.0, 0.0]


def test_pow_masks_follow_pytorch():
    x = g.tensor(0.0, requires_grad=True)
    y = g.tensor(0.0, requires_grad=True)
    (x**y).backward()
    assert (x.grad.item(), y.grad.item()) == (0.0, 0.0)


def test_erf_is_accurate_everywhere():
    xs = np.concatenate([np.linspace(-7, 7, 2801), np.linspace(5, 27, 441), [0.0, 1e-300]])
    for fn_name, reference in (("erf", math.erf), ("erfc", math.erfc)):
        got = getattr(g, fn_name)(g.tensor(xs)).data
        want = np.array([reference(x) for x in xs])
        # relative accuracy only means something above the subnormal range
        normal = np.abs(want) >= np.finfo(np.float64).tiny
        rel = np.abs(got[normal] - want[normal]) / np.abs(want[normal])
        assert rel.max() < 2e-15, fn_name
        np.testing.assert_allclose(got[~normal], want[~normal], rtol=0, atol=1e-300)


def test_table_lists_every_op_once_and_names_backward():
    names = [op.name for op in OPS.values()]
    assert len(names) == len(set(names))
    for op in OPS.values():
        if op.differentiable:
            assert op.backward_name.endswith("Backward0")
            # a JVP rule of its own, or the partials the engine derives one from
            assert op.vjp is not None and (op.jvp is not None or op.linear is not None), op.name
