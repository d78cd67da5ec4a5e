"""One test per case of shared/spec/autograd-semantics.md, with its exact values."""

from __future__ import annotations

import numpy as np
import pytest

import gradcli as g
from gradcli import GradcliError, tensor


def T(value, requires_grad=True):
    return tensor(value, requires_grad=requires_grad)


def values(t):
    return np.asarray(t.data).tolist()


# -- 1. Nodes and their attributes ---------------------------------------------
def test_case_1_1_attributes_after_backward():
    x = T(2.0)
    a = x + 1
    b = x + 2
    y = a * b
    y.backward()
    assert x.grad.item() == 7
    assert [t.requires_grad for t in (x, a, b, y)] == [True] * 4
    assert [t.is_leaf for t in (x, a, b, y)] == [True, False, False, False]
    assert a.grad is None and b.grad is None and y.grad is None
    assert a.grad_fn.name() == "AddBackward0"
    assert b.grad_fn.name() == "AddBackward0"
    assert y.grad_fn.name() == "MulBackward0"
    assert x.grad_fn is None


def test_case_1_2_grad_returns_tuple_and_leaves_grad_untouched():
    x = T(2.0)
    y = (x + 1) * (x + 2)
    result = g.grad(outputs=y, inputs=x)
    assert isinstance(result, tuple)
    assert result[0].item() == 7
    assert x.grad is None


# -- 2. Two ways to get gradients ------------------------------------------------
def _z():
    x, y = T(2.0), T(3.0)
    return x, y, x * x * y


def test_case_2_1_backward_fills_leaves():
    x, y, z = _z()
    z.backward()
    assert x.grad.item() == 12
    assert y.grad.item() == 4


def test_case_2_1_backward_function_is_method():
    x, y, z = _z()
    g.backward(z)
    assert (x.grad.item(), y.grad.item()) == (12, 4)


def test_case_2_2_second_grad_without_retain_graph_fails():
    x, y, z = _z()
    g.grad(z, x)
    with pytest.raises(GradcliError) as info:
        g.grad(z, y)
    assert "second time" in str(info.value)
    assert "retain_graph=True" in str(info.value)
    assert isinstance(info.value, RuntimeError)


def test_case_2_2_with_retain_graph():
    x, y, z = _z()
    assert g.grad(z, x, retain_graph=True)[0].item() == 12
    assert g.grad(z, y)[0].item() == 4


# -- 3. Higher order -----------------------------------------------------------------
def test_case_3_1_gradient_without_graph_is_not_differentiable():
    x, y, z = _z()
    gx = g.grad(z, x, retain_graph=True)
    with pytest.raises(GradcliError) as info:
        g.grad(gx, x)
    assert "element 0 of tensors does not require grad and does not have a grad_fn" in str(
        info.value)


def test_case_3_2_create_graph_second_derivative():
    x, y, z = _z()
    gx = g.grad(z, x, create_graph=True)
    assert g.grad(gx, x)[0].item() == 6


def test_case_3_3_backward_of_created_gradient():
    x, y, z = _z()
    gx = g.grad(z, x, create_graph=True)
    gx[0].backward()
    assert x.grad.item() == 6


def test_case_3_4_backward_create_graph_then_grad_of_grad():
    x, y, z = _z()
    z.backward(create_graph=True)
    assert g.grad(x.grad, x)[0].item() == 6


def test_case_3_5_accumulation_trap():
    x, y, z = _z()
    z.backward(create_graph=True)
    assert x.grad.item() == 12 and x.grad.grad_fn is not None
    x.grad.backward()
    assert x.grad.item() == 18


@pytest.mark.parametrize("zeroing", ["data", "zero_"])
def test_case_3_5_zeroing_first(zeroing):
    x, y, z = _z()
    z.backward(create_graph=True)
    if zeroing == "data":
        x.grad.data[...] = 0
    else:
        x.grad.zero_()
    x.grad.backward()
    assert x.grad.item() == 6


# -- 4. Non-scalar outputs and VJPs ----------------------------------------------------
def test_case_4_1_non_scalar_needs_gradient():
    x = T([1.0, 2.0])
    y = x + 1
    with pytest.raises(GradcliError, match="grad can be implicitly created only for scalar"):
        y.backward()


def test_case_4_2_sum_then_backward():
    x = T([1.0, 2.0])
    (x * x).sum().backward()
    assert values(x.grad) == [2, 4]


def test_case_4_3_vector_jacobian_product():
    m = T([[2.0, 3.0]])
    n = g.stack([m[0, 0] ** 2, m[0, 1] ** 3]).reshape(1, 2)
    n.backward([[1.0, 1.0]])
    assert values(m.grad) == [[4.0, 27.0]]


def test_case_4_3_equals_backward_of_weighted_sum():
    m = T([[2.0, 3.0]])
    n = g.stack([m[0, 0] ** 2, m[0, 1] ** 3]).reshape(1, 2)
    g.sum(n * tensor([[1.0, 1.0]])).backward()
    assert values(m.grad) == [[4.0, 27.0]]


def test_case_4_3_gradient_shape_must_match():
    m = T([[2.0, 3.0]])
    n = g.stack([m[0, 0] ** 2, m[0, 1] ** 3]).reshape(1, 2)
    with pytest.raises(GradcliError) as info:
        n.backward([1.0, 1.0])
    assert "(2,)" in str(info.value) and "(1, 2)" in str(info.value)


def test_case_4_4_jacobian_rows_by_vjp():
    m = T([2.0, 3.0])
    k = g.stack([m[0] ** 2 + 3 * m[1], m[1] ** 2 + 2 * m[0]])
    k.backward([1.0, 0.0], retain_graph=True)
    assert values(m.grad) == [4, 3]
    m.grad.zero_()
    k.backward([0.0, 1.0])
    assert values(m.grad) == [2, 6]


def test_case_4_4_jacobian_convention():
    def f(m):
        return g.stack([m[0] ** 2 + 3 * m[1], m[1] ** 2 + 2 * m[0]])

    for strategy in ("reverse", "forward"):
        jac = g.functional.jacobian(f, tensor([2.0, 3.0]), strategy=strategy)
        assert values(jac) == [[4, 3], [2, 6]]


# -- 5. Mean, broadcasting and tensors ---------------------------------------------------
def test_case_5_1_mean_of_square():
    a = T([2.0, 3.0])
    out = g.mean(3 * (a + 3) ** 2)
    assert out.item() == 91.5
    out.backward()
    assert values(a.grad) == [15, 18]


def _case_5_2(x_value):
    x = T(x_value)
    y = x + 2
    z = y * y * 3
    out = g.mean(z)
    return x, y, z, out


def test_case_5_2_ones():
    x, y, z, out = _case_5_2(np.ones((2, 2)))
    assert out.item() == 27
    out.backward()
    assert values(x.grad) == [[4.5, 4.5], [4.5, 4.5]]
    assert y.grad_fn.name() == "AddBackward0"
    assert out.grad_fn.name() == "MeanBackward0"


def test_case_5_3_matrix():
    x, y, z, out = _case_5_2([[1.0, 2.0], [3.0, 4.0]])
    out.backward()
    assert values(x.grad) == [[4.5, 6.0], [7.5, 9.0]]


def test_case_5_4_requires_grad_later():
    a = tensor([1.0, 2.0])
    assert not a.requires_grad
    a.requires_grad_(True)
    b = g.sum(a * a)
    assert b.grad_fn.name() == "SumBackward0"


# -- 6. Accumulation, intermediate gradients, hooks -------------------------------------
def test_case_6_1_leaves_accumulate():
    x, y, z, out = _case_5_2(np.ones((2, 2)))
    seen = []
    for _ in range(3):
        out.backward(retain_graph=True)
        seen.append(values(x.grad))
    assert seen == [[[4.5] * 2] * 2, [[9.0] * 2] * 2, [[13.5] * 2] * 2]


def test_case_6_2_hook_on_non_leaf_sees_fresh_gradient():
    x, y, z, out = _case_5_2(np.ones((2, 2)))
    calls = []
    y.register_hook(lambda grad: calls.append(values(grad)))
    for _ in range(3):
        out.backward(retain_graph=True)
    assert calls == [[[4.5, 4.5], [4.5, 4.5]]] * 3


def test_case_6_2_retain_grad():
    x, y, z, out = _case_5_2(np.ones((2, 2)))
    y.retain_grad()
    out.backward()
    assert values(y.grad) == [[4.5, 4.5], [4.5, 4.5]]
    assert z.grad is None


def test_case_6_2_hook_may_replace_gradient():
    x, y, z, out = _case_5_2(np.ones((2, 2)))
    y.register_hook(lambda grad: grad * 2)
    out.backward()
    assert values(x.grad) == [[9.0, 9.0], [9.0, 9.0]]


def test_case_6_3_split_path_sums():
    i, h = T(1.5), T(0.25)
    j = i + h
    k = j * i
    k.backward()
    assert i.grad.item() == pytest.approx(2 * 1.5 + 0.25)


# -- 7. detach and clone ------------------------------------------------------------------
def test_case_7_1_clone_passes_gradient():
    x, y, _, _ = _case_5_2(np.ones((2, 2)))
    seen = []
    y.register_hook(lambda grad: seen.append(values(grad)))
    h1 = g.clone(y)
    out = g.mean(h1 * h1 * 3)
    out.backward()
    assert seen == [[[4.5, 4.5], [4.5, 4.5]]]
    assert h1.grad_fn.name() == "CloneBackward0"


def test_case_7_2_two_clones_double():
    x, y, _, _ = _case_5_2(np.ones((2, 2)))
    y.retain_grad()
    h1, h2 = g.clone(y), g.clone(y)
    out = g.mean(h1 * h1 * 3 + h2 * h2 * 3)
    out.backward()
    assert values(y.grad) == [[9.0, 9.0], [9.0, 9.0]]


def test_case_7_3_detach_cuts_the_graph():
    x, y, _, _ = _case_5_2(np.ones((2, 2)))
    h1 = y.detach()
    assert h1.is_leaf and not h1.requires_grad
    out = g.mean(h1 * h1 * 3)
    assert not out.requires_grad
    with pytest.raises(GradcliError, match="does not require grad and does not have a grad_fn"):
        out.backward()
