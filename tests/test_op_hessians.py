"""Every op's Hessian is symmetric: at its sample points and at its kinks.

Generated from the table (`tests.opcases`): for each case, the Hessian of
L = sum(v * op(inputs)) over all the inputs' elements, from the engine's
forward-over-reverse pass as `gradcli hessian` computes it. Mixed partials
taken in either order must agree; where one is not finite the other must be
the same non-finite value. The kink points are where an entry's note makes a
choice (a mask, a tie, a zero); a mask written carelessly breaks symmetry
exactly there (issue 19: xlogy at x = 0, x^y at y = 0).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcli as g
from gradcli import functional
from gradcli.ops import fn
from tests.opcases import Case, cases_for, differentiable_ops

A = np.array


def _kinks() -> dict[str, list[Case]]:
    def case(name: str, label: str, *inputs: np.ndarray, call=None) -> Case:
        return Case(f"{name}@{label}", call or getattr(fn, name),
                    [np.asarray(x, dtype=np.float64) for x in inputs])

    return {
        "abs": [case("abs", "0", A([0.0, 1.0, -2.0]))],
        "relu": [case("relu", "0", A([0.0, 1.0, -2.0]))],
        "softsign": [case("softsign", "0", A([0.0, 0.5]))],
        "elu": [case("elu", "0", A([0.0, -0.5, 0.5]))],
        "pow": [case("pow", "y=0", A([2.0, 3.0]), A([0.0, 0.0])),
                case("pow", "x=0", A([0.0, 0.0]), A([2.0, 3.0])),
                case("pow", "x=1", A([1.0]), A([0.0]))],
        "xlogy": [case("xlogy", "x=0", A([0.0, 0.0]), A([1.0, 2.5])),
                  case("xlogy", "x=0,y<1", A([0.0]), A([0.5]))],
        "maximum": [case("maximum", "tie", A([1.0, 2.0]), A([1.0, 3.0]))],
        "minimum": [case("minimum", "tie", A([1.0, 2.0]), A([1.0, 3.0]))],
        "clip": [case("clip", "bounds", A([-1.0, 1.0, 0.0]), A(-1.0), A(1.0))],
        "heaviside": [case("heaviside", "0", A([0.0, 1.0]), A([0.5, 0.5]))],
        "prod": [case("prod", "zero", A([2.0, 0.0, 3.0])),
                 case("prod", "two-zeros", A([0.0, 5.0, 0.0])),
                 case("prod", "axis", A([[2.0, 0.0], [0.0, 0.0]]),
                      call=lambda x: fn.prod(x, axis=1))],
        "cumprod": [case("cumprod", "zero", A([2.0, 0.0, 3.0, 4.0])),
                    case("cumprod", "two-zeros", A([2.0, 0.0, 3.0, 0.0, 5.0]))],
        "det": [case("det", "singular", A([[1.0, 2.0], [2.0, 4.0]]))],
        "max": [case("max", "tie", A([1.0, 3.0, 3.0]))],
        "min": [case("min", "tie", A([1.0, -3.0, -3.0]))],
        "norm": [case("norm", "zero", A([0.0, 0.0, 0.0]), call=lambda x: fn.norm(x, ord=1))],
        "sign": [case("sign", "0", A([0.0, 1.0]))],
    }


KINKS = _kinks()
CASES = [pytest.param(case, id=f"{op.name}:{case.label}")
         for op in differentiable_ops() for case in cases_for(op) + KINKS.get(op.name, [])]


def _hessian(case: Case) -> np.ndarray:
    rng = np.random.default_rng(7)
    out = case.func(*[g.tensor(a) for a in case.inputs])
    v = g.tensor(rng.uniform(0.5, 1.5, size=out.shape))

    def scalar(*xs):
        return g.sum(case.func(*xs) * v)

    inputs = tuple(g.tensor(a) for a in case.inputs)
    with np.errstate(all="ignore"):
        _, _, blocks = functional.gradient_and_hessian(scalar, inputs)
    sizes = [a.size for a in case.inputs]
    return np.block([[blocks[i][j].reshape(sizes[i], sizes[j]) for j in range(len(sizes))]
                     for i in range(len(sizes))])


@pytest.mark.parametrize("case", CASES)
def test_hessian_is_symmetric(case: Case):
    h = _hessian(case)
    t = h.T
    finite = np.isfinite(h) & np.isfinite(t)
    # a non-finite entry must be mirrored by the same non-finite value
    assert np.array_equal(np.isnan(h), np.isnan(t)), h
    assert np.array_equal(h[np.isinf(h)], t[np.isinf(h)]), h
    scale = np.max(np.abs(h[finite]), initial=1.0)
    assert np.all(np.abs(h[finite] - t[finite]) <= 64 * 2.0**-52 * scale), h


def test_every_kink_entry_names_an_op_of_the_table():
    names = {op.name for op in differentiable_ops()}
    assert set(KINKS) <= names
