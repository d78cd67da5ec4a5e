"""The notation people type: %, x!, |x|, max(a, b), aliases, and the slips 5e and x!!."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli as g
from gradcli.errors import GradcliError
from gradcli.language import parse


def value(text: str, **at: float) -> float:
    return float(parse(text).evaluate({k: np.array(v) for k, v in at.items()}).data)


# -- precedence: % with *, ! tighter than ^ ------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("7 % 3", 1.0),
    ("-7 % 3", 2.0),  # unary minus binds tighter, as in Python: (-7) % 3
    ("7 % -3", -2.0),  # the divisor's sign
    ("2 * 7 % 4", 2.0),  # left to right with *: (2*7) % 4
    ("7 % 4 * 2", 6.0),  # (7 % 4) * 2
    ("1 + 7 % 4", 4.0),  # % before +
    ("2^3 % 5", 3.0),  # ^ before %
    ("10 % 4 % 3", 2.0),  # left-associative
    ("7.5 % 2", 1.5),
    ("3!", 6.0),
    ("3!^2", 36.0),  # ! binds tighter than ^
    ("2^3!", 64.0),  # the exponent's factorial: 2^(3!)
    ("-3!", -6.0),  # -(3!)
    ("(1+2)!", 6.0),
    ("3! % 4", 2.0),
    ("2*3!", 12.0),
    ("0!", 1.0),
    ("0.5!", math.gamma(1.5)),
    ("[1, 2, 3][2]!", 6.0),
])
def test_precedence_table(text, expected):
    assert value(text) == pytest.approx(expected, rel=1e-15)


def test_operators_match_python_on_a_grid():
    for a in (-7.5, -3.0, -1.0, 0.0, 2.0, 5.25):
        for b in (-2.5, -1.0, 3.0, 4.0):
            assert value("a % b", a=a, b=b) == a % b
            assert value("a % b * 2 + 1", a=a, b=b) == a % b * 2 + 1


def test_factorial_is_gamma_of_x_plus_one_with_its_derivatives():
    for text in ("x!", "gamma(x + 1)"):
        program = parse(text)
        x = g.tensor(2.5, requires_grad=True)
        out = program.evaluate({"x": x})
        (d1,) = g.grad(out, x, create_graph=True)
        (d2,) = g.grad(d1, x)
        if text == "x!":
            got = (out.item(), d1.item(), d2.item())
        else:
            assert got == pytest.approx((out.item(), d1.item(), d2.item()), rel=1e-15)


def test_mod_derivatives_through_the_operator():
    x, y = g.tensor(7.5, requires_grad=True), g.tensor(2.0, requires_grad=True)
    out = parse("x % y").evaluate({"x": x, "y": y})
    gx, gy = g.grad(out, [x, y])
    assert (gx.item(), gy.item()) == (1.0, -3.0)


# -- |x| ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("|x|", 2.5),
    ("||x| - 1|", 1.5),
    ("|x - |y||", 3.5),
    ("|x|*|y|", 2.5),
    ("|x| |y|", 2.5),  # side by side, like (a)(b)
    ("2|x|", 5.0),
    ("|x|^2", 6.25),
    ("-|x|", -2.5),
    ("|-x|", 2.5),
    ("|(x)|", 2.5),
    ("|[x, y]|[0]", 2.5),
    ("sum(|[x, y]|)", 3.5),
    ("|x|!", math.gamma(3.5)),
    ("|| x | - | y ||", 1.5),
])
def test_bars_are_absolute_values_and_nest(text, expected):
    assert value(text, x=-2.5, y=1.0) == pytest.approx(expected, rel=1e-15)


def test_bars_and_abs_are_the_same_op():
    assert parse("|x|").instructions[-1].op == "abs"


@pytest.mark.parametrize("text,message,start,end", [
    ("|x", "'|' is never closed", 0, 1),
    ("x | y", "neither opens nor closes", 2, 3),
    ("(|x)|", "')' closes the '|' opened at column 2", 1, 2),
    ("x!!", "double factorial", 1, 3),
    ("5e", "exponent missing", 0, 2),
    (".5e", "exponent missing", 0, 3),
    ("2 + 5e - 1", "exponent missing", 4, 6),
    ("x %", "ends with the operator '%'", 2, 3),
])
def test_slips_are_errors_with_a_caret_and_a_hint(text, message, start, end):
    with pytest.raises(GradcliError) as info:
        parse(text)
    error = info.value
    assert message in error.message
    assert (error.span.start, error.span.end) == (start, end)
    assert error.hint


def test_hints_suggest_the_fix():
    with pytest.raises(GradcliError) as info:
        parse("5e")
    assert "5e3" in info.value.hint and "5*e" in info.value.hint
    with pytest.raises(GradcliError) as info:
        parse("x!!")
    assert "write it out" in info.value.hint


def test_what_still_reads_as_before():
    assert value("5e2") == 500.0
    assert value("5 e") == pytest.approx(5 * math.e)  # spaced: the product, as before
    assert value("2exp(x)", x=0.0) == 2.0
    assert value("where(x != 1, 2, 3)", x=0.0) == 2.0
    assert value("1e-3x", x=2.0) == 0.002


# -- max(a, b) and min(a, b) -----------------------------------------------------------------
def test_two_values_are_compared_elementwise():
    assert value("max(x, 1)", x=-2.0) == 1.0
    assert value("min(x, 1)", x=-2.0) == -2.0
    assert value("max(1, x, 3)", x=5.0) == 5.0
    v = {"v": np.array([-1.0, 2.0, 0.5])}
    assert parse("max(v, 0)").evaluate(v).data.tolist() == [0.0, 2.0, 0.5]
    assert parse("min(v, 0)").evaluate(v).data.tolist() == [-1.0, 0.0, 0.0]


def test_max_of_two_values_against_max_along_axis_0():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4)
    pair = parse("max(a, b)").evaluate({"a": a, "b": b}).data
    along = parse("max([a, b], axis=0)").evaluate({"a": a, "b": b}).data
    np.testing.assert_array_equal(pair, along)
    pair = parse("min(a, b)").evaluate({"a": a, "b": b}).data
    along = parse("min([a, b], axis=0)").evaluate({"a": a, "b": b}).data
    np.testing.assert_array_equal(pair, along)
    # and their gradients: at ties both share, elsewhere the larger gets it all
    for text in ("max(a, b)", "max([a, b], axis=0)"):
        ta = g.tensor([1.0, 2.0, 3.0], requires_grad=True)
        tb = g.tensor([3.0, 2.0, 1.0], requires_grad=True)
        ga, gb = g.grad(g.sum(parse(text).evaluate({"a": ta, "b": tb})), [ta, tb])
        assert ga.data.tolist() == [0.0, 0.5, 1.0] and gb.data.tolist() == [1.0, 0.5, 0.0]


def test_one_tensor_still_reduces():
    v = {"v": np.array([[1.0, 5.0], [3.0, 2.0]])}
    assert parse("max(v)").evaluate(v).item() == 5.0
    assert parse("max(v, axis=0)").evaluate(v).data.tolist() == [3.0, 5.0]
    assert parse("min(v, axis=1)").evaluate(v).data.tolist() == [1.0, 2.0]


def test_several_values_with_an_axis_is_an_error():
    with pytest.raises(GradcliError) as info:
        parse("max(v, 0, axis=0)")
    assert "axis=0" in info.value.hint


# -- aliases -------------------------------------------------------------------------------
@pytest.mark.parametrize("alias,name", [
    ("ln", "log"), ("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"),
    ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh"),
])
def test_aliases_resolve_to_the_same_entry(alias, name):
    assert parse(f"{alias}(x)").instructions[-1].op == name
    x = 0.5 if name != "acosh" else 1.5
    assert value(f"{alias}(x)", x=x) == value(f"{name}(x)", x=x)


def test_an_alias_cannot_be_assigned():
    with pytest.raises(GradcliError):
        parse("ln = x + 1; ln")
