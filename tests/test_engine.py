"""Engine behaviour beyond the spec cases: depth, width, reuse, memory, errors, modes."""

from __future__ import annotations

import gc
import math
import sys
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcli as g
from gradcli import GradcliError, functional
from gradcli.errors import ArgumentError, AutogradError, AxisError, IndexingError, ShapeError

DEPTH = 100_000


def test_100k_deep_chain_forward_backward_and_second_order():
    limit = sys.getrecursionlimit()
    x = g.tensor(0.3, requires_grad=True)
    y = x
    for _ in range(DEPTH):
        y = g.sin(y)
    (d1,) = g.grad(y, x, create_graph=True)
    (d2,) = g.grad(d1, x)
    # f_n = sin(f_{n-1}): f_n' = cos(f_{n-1}) f_{n-1}',
    # f_n'' = -sin(f_{n-1}) f_{n-1}'^2 + cos(f_{n-1}) f_{n-1}''
    value, first, second = 0.3, 1.0, 0.0
    for _ in range(DEPTH):
        first, second = (math.cos(value) * first,
                         -math.sin(value) * first * first + math.cos(value) * second)
        value = math.sin(value)
    assert y.item() == pytest.approx(value, rel=1e-12)
    assert d1.item() == pytest.approx(first, rel=1e-9)
    assert d2.item() == pytest.approx(second, rel=1e-8)
    assert sys.getrecursionlimit() == limit


def test_100k_deep_chain_backward_fills_leaf():
    x = g.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(DEPTH):
        y = y * 1.00001 + 0.0
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001**DEPTH, rel=1e-9)


def test_100k_wide_sum():
    x = g.tensor(2.0, requires_grad=True)
    terms = [x * float(k) for k in range(DEPTH)]
    total = g.sum(g.stack(terms))
    total.backward()
    assert x.grad.item() == sum(range(DEPTH))


def test_100k_wide_sum_by_accumulation():
    x = g.tensor(2.0, requires_grad=True)
    total = x * 0.0
    for k in range(DEPTH):
        total = total + x * float(k % 7)
    (gx,) = g.grad(total, x)
    assert gx.item() == sum(k % 7 for k in range(DEPTH))


def test_reused_non_leaf_is_ordered():
    x = g.tensor(1.5, requires_grad=True)
    a = x * 1.0
    b = a + a
    c = b + b
    c.backward()
    assert x.grad.item() == 4.0


def test_saved_values_are_released_when_the_graph_is_freed():
    x = g.tensor(np.ones(1000), requires_grad=True)
    y = x * 3.0
    ref = weakref.ref(y.data)
    z = g.sum(y * y)
    del y
    gc.collect()
    assert ref() is not None  # the graph still needs it
    z.backward()
    gc.collect()
    assert ref() is None


def test_retain_graph_keeps_saved_values():
    x = g.tensor(np.ones(10), requires_grad=True)
    y = x * 3.0
    ref = weakref.ref(y.data)
    z = g.sum(y * y)
    del y
    z.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None


def test_no_grad_and_enable_grad():
    x = g.tensor(1.0, requires_grad=True)
    with g.no_grad():
        y = x * 2
        with g.enable_grad():
            w = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert w.requires_grad
    assert g.is_grad_enabled()


def test_backward_inputs_restricts_accumulation():
    x = g.tensor(2.0, requires_grad=True)
    y = g.tensor(3.0, requires_grad=True)
    z = x * y
    z.backward(inputs=[x])
    assert x.grad.item() == 3.0 and y.grad is None


def test_grad_of_non_leaf_input():
    x = g.tensor(2.0, requires_grad=True)
    a = x * x
    b = a * 3.0
    (ga,) = g.grad(b, a)
    assert ga.item() == 3.0


def test_unused_input():
    x = g.tensor(2.0, requires_grad=True)
    unused = g.tensor(1.0, requires_grad=True)
    y = x * 2
    with pytest.raises(AutogradError, match="allow_unused=True"):
        g.grad(y, [x, unused], retain_graph=True)
    gx, gu = g.grad(y, [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_grad_outputs_for_several_outputs():
    x = g.tensor([1.0, 2.0], requires_grad=True)
    a, b = x * 2, x * x
    gx, = g.grad([a, b], x, grad_outputs=[g.tensor([1.0, 1.0]), g.tensor([1.0, 0.0])])
    assert gx.data.tolist() == [4.0, 2.0]


def test_hook_removal_and_leaf_hook():
    x = g.tensor(1.0, requires_grad=True)
    seen = []
    handle = x.register_hook(lambda grad: seen.append(grad.item()))
    (x * 3).backward()
    handle.remove()
    (x * 3).backward()
    assert seen == [3.0] and x.grad.item() == 6.0


def test_float_constants_keep_their_sign_and_value():
    assert math.copysign(1.0, (g.tensor(1.0) * 0.0).item()) == 1.0
    assert math.copysign(1.0, (g.tensor(1.0) * -0.0).item()) == -1.0
    assert (g.tensor(1.0) / -0.0).item() == -math.inf
    assert math.isnan((g.tensor(1.0) * math.nan).item())


def test_repr_looks_like_pytorch():
    x = g.tensor(2.0, requires_grad=True)
    y = (x + 1) * (x + 2)
    assert repr(y) == "tensor(12., grad_fn=<MulBackward0>)"
    assert repr(x) == "tensor(2., requires_grad=True)"
    assert repr(g.tensor([1, 2])) == "tensor([1., 2.])"


def test_tensor_api_surface():
    m = g.tensor([[1, 2], [3, 4]])
    assert m.data.dtype == np.float64 and m.shape == (2, 2) and m.ndim == 2
    assert m[1, 0].item() == 3.0 and m[:, 0].data.tolist() == [1.0, 3.0]
    assert m.sum().item() == 10 and m.mean().item() == 2.5
    assert (m @ m).data.tolist() == [[7, 10], [15, 22]]
    assert (2 - m).data.tolist() == [[1, 0], [-1, -2]]
    assert (1 / g.tensor(4.0)).item() == 0.25
    assert (2 ** g.tensor(3.0)).item() == 8.0
    assert (-m).data.tolist() == [[-1, -2], [-3, -4]]
    assert m.numpy() is m.data
    assert m.T.data.tolist() == [[1, 3], [2, 4]]
    assert m.reshape(4).shape == (4,)
    assert m.clone().data.tolist() == m.data.tolist()


@pytest.mark.parametrize("make,error", [
    (lambda: g.tensor([1.0, 2.0]) + g.tensor([1.0, 2.0, 3.0]), ShapeError),
    (lambda: g.matmul(g.tensor(np.ones((2, 3))), g.tensor(np.ones((2, 3)))), ShapeError),
    (lambda: g.sum(g.tensor([1.0, 2.0]), axis=3), AxisError),
    (lambda: g.tensor([1.0, 2.0])[5], IndexingError),
    (lambda: g.reshape(g.tensor([1.0, 2.0, 3.0]), (2, 2)), ShapeError),
    (lambda: g.stack([g.tensor([1.0]), g.tensor([1.0, 2.0])]), ShapeError),
    (lambda: g.sin(), ArgumentError),
    (lambda: g.sum(g.tensor(1.0), axes=0), ArgumentError),
])
def test_engine_errors_are_gradcli_errors(make, error):
    with pytest.raises(error) as info:
        make()
    assert isinstance(info.value, GradcliError)


def test_shape_error_names_both_shapes():
    with pytest.raises(ShapeError) as info:
        g.tensor([1.0, 2.0]) + g.tensor([1.0, 2.0, 3.0])
    assert "(2,)" in str(info.value) and "(3,)" in str(info.value)


def test_domain_errors_give_nan_and_are_recorded():
    x = g.tensor(-1.0)
    with g.watch_nonfinite() as log:
        y = g.log(x - 1.0) * 2.0
    assert math.isnan(y.item())
    assert log.first is not None and log.first.op == "log"
    assert log.first.inputs[0].item() == -2.0


# -- hypothesis over random compositions ----------------------------------------
UNARY = ["sin", "cos", "tanh", "sigmoid", "softplus", "atan", "square", "erf", "asinh"]
BINARY = ["add", "sub", "mul", "hypot_safe", "logaddexp"]
REDUCE = ["sum", "mean", "logsumexp", "norm", "max_smooth"]


def _build(ops: list[tuple[str, int, int]]):
    """A function of a 3-vector and a scalar from a list of (op, arg_a, arg_b) steps."""

    def f(v, s):
        values = [v, s, v * s]
        for name, a, b in ops:
            x, y = values[a % len(values)], values[b % len(values)]
            if name in UNARY:
                values.append(getattr(g, name)(x))
            elif name == "hypot_safe":
                values.append(g.sqrt(x * x + y * y + 1.0))
            elif name == "logaddexp":
                values.append(g.logaddexp(x, y))
            else:
                values.append({"add": x + y, "sub": x - y, "mul": x * y}[name])
        last = values[-1]
        return g.sum(last) + g.logsumexp(values[-2] * 0.5)

    return f


steps = st.lists(st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 9),
                           st.integers(0, 9)), min_size=1, max_size=8)
points = st.tuples(st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3), st.floats(-1.5, 1.5))


@settings(max_examples=60, deadline=None)
@given(steps, points)
def test_random_compositions(ops, point):
    f = _build(ops)
    v0, s0 = np.array(point[0]), np.array(point[1])
    v, s = g.tensor(v0, requires_grad=True), g.tensor(s0, requires_grad=True)
    out = f(v, s)
    gv, gs = g.grad(out, [v, s], allow_unused=True)
    gv = np.zeros(3) if gv is None else gv.data
    gs = 0.0 if gs is None else gs.item()
    h = 1e-6
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        fd = (f(g.tensor(v0 + e), g.tensor(s0)).item() - f(g.tensor(v0 - e), g.tensor(s0)).item())
        assert gv[i] == pytest.approx(fd / (2 * h), rel=1e-5, abs=1e-6)
    fd = (f(g.tensor(v0), g.tensor(s0 + h)).item() - f(g.tensor(v0), g.tensor(s0 - h)).item())
    assert gs == pytest.approx(fd / (2 * h), rel=1e-5, abs=1e-6)

    inputs = (g.tensor(v0), g.tensor(s0))
    forward = functional.jacobian(f, inputs, strategy="forward")
    reverse = functional.jacobian(f, inputs, strategy="reverse")
    for a, b in zip(forward, reverse, strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)

    hess = functional.hessian(lambda w: f(w[:3], w[3]), g.tensor(np.append(v0, s0))).data
    np.testing.assert_allclose(hess, hess.T, rtol=1e-9, atol=1e-10)
