"""The simplifier on its own: canonical forms, cancellations, idempotence, and that it
never changes a value (hypothesis, against evaluating the expression as written)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli.formula.derive import canonical
from gradcli.formula.simplify import simplify
from gradcli.language.program import parse


@pytest.mark.parametrize(("written", "canonical_form"), [
    # constant folding
    ("2*3*x", "6*x"), ("2^3", "8"), ("1 + 2*x + 3", "2*x + 4"),
    # identities
    ("x*1", "x"), ("x + 0", "x"), ("x*0", "0"), ("x^1", "x"), ("x^0", "1"),
    ("-(-x)", "x"), ("--x", "x"), ("0 - x", "-x"),
    # like terms and cancellation
    ("(x+1) + (x+2)", "2*x + 3"), ("x*y - y*x", "0"), ("x - 1 - x", "-1"),
    ("sin(x)^2 + cos(x)^2 - sin(x)^2", "cos(x)^2"), ("2*(x+y) - 2*y", "2*x"),
    # equal factors become powers, exponents combine
    ("x*x*x", "x^3"), ("x^2*x^-2", "1"), ("x^(y+1)*x", "x^(y + 2)"), ("(x*y)^2", "x^2*y^2"),
    ("exp(x)*exp(x)", "exp(x)^2"),
    # quotients as quotients
    ("y/x^2*-1", "-y/x^2"), ("x^-1", "1/x"), ("x/2", "x/2"), ("x/3 + y/6", "x/3 + y/6"),
    ("-x/(2*y)", "-x/(2*y)"),
    # a number times a sum stays a product, whichever order it was built in, and is
    # distributed only inside a sum
    ("2*(x+y)/(x^2+1)", "2*(x + y)/(x^2 + 1)"), ("2/(x^2+1)*(x+y)", "2*(x + y)/(x^2 + 1)"),
    ("(2*x+2*y)/(x^2+1)", "(2*x + 2*y)/(x^2 + 1)"), ("-(x+1)", "-(x + 1)"),
    ("-(x+1)/y", "-(x + 1)/y"), ("2*(x+1) + 3", "2*x + 5"),
    # ordering: a positive term leads
    ("1 - x^2", "1 - x^2"), ("-x^2 + 1", "1 - x^2"), ("-x - y", "-x - y"),
    # where with a decided condition, equal branches, and a product pushed into branches
    ("where(x > 0, y, y)", "y"), ("x*where(x > 0, 1, 0)", "where(x>0, x, 0)"),
    ("where(x > 0, 1, 0) + where(x > 0, 0, 2)", "where(x>0, 1, 2)"),
    ("where(x == 0, x + 1, 3)", "where(x==0, 1, 3)"), ("where(sin(x^0) > 0, x, y)", "x"),
])
def test_canonical_forms(written, canonical_form):
    assert canonical(written).text == canonical_form


@pytest.mark.parametrize("written", [
    "2*(x+y)/(x^2+1)", "2*(x^2+1)/x", "-(x+1)/y", "(2*x+2*y)/(x^2+1)", "-(x+1)*y/(x+2)"])
def test_reading_a_printed_number_times_sum_back_gives_the_same_text(written):
    once = canonical(written).text
    assert canonical(once).text == once


def test_shared_sub_expressions_become_steps():
    assert canonical("exp(sin(x))*cos(x) + exp(sin(x))^2").text == \
        "a = exp(sin(x)); cos(x)*a + a^2"


def test_parentheses_are_minimal_and_only_plus_minus_are_spaced():
    assert canonical("(x+1)^2").text == "(x + 1)^2"
    assert canonical("x^(2*y)").text == "x^(2*y)"
    assert canonical("(x*y)^0.5").text == "(x*y)^0.5"
    assert canonical("2^(x^2)").text == "2^x^2"  # ^ is right-associative
    assert canonical("x/(y*sin(x))").text == "x/(y*sin(x))"


def test_a_deep_expression_simplifies_without_recursion():
    depth = 5000
    text = "x" + " + x" * depth
    assert canonical(text).text == f"{depth + 1}*x"
    nested = "x"
    for _ in range(2000):
        nested = f"sin({nested})"
    assert canonical(nested).text.count("sin(") == 2000


# -- hypothesis: random expressions ---------------------------------------------------------
UNARY = ["sin", "cos", "exp", "tanh", "atan", "sigmoid", "abs", "sign", "floor", "relu"]
LEAVES = st.sampled_from(["x", "y", "z", "1", "2", "0.5", "3"])


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(
        lambda t: f"({t[0]}) {t[1]} ({t[2]})")
    quotient = st.tuples(children, children).map(lambda t: f"({t[0]})/(({t[1]})^2 + 1)")
    power = st.tuples(children, st.sampled_from(["2", "3", "-1", "0", "1"])).map(
        lambda t: f"({t[0]})^{t[1]}")
    call = st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"{t[0]}({t[1]})")
    kink = st.tuples(children, children, children).map(
        lambda t: f"where({t[0]} > 0, {t[1]}, {t[2]})")
    return st.one_of(binary, quotient, power, call, kink)


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=10)
# hypothesis finds the repr of a recursive strategy long; that is only a warning about itself
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
POINTS = st.fixed_dictionaries({name: st.one_of(st.floats(-2, 2), st.sampled_from([0.0, 1.0, -1.0]))
                                for name in "xyz"})


def _evaluate(text: str, point: dict[str, float]) -> float:
    program = parse(text)
    with np.errstate(all="ignore"):
        return float(program.evaluate({n: np.array(point[n]) for n in program.free_variables})
                     .data)


def close(a: float, b: float, rtol: float = 1e-12) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= rtol * max(abs(a), abs(b), 1.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, POINTS)
def test_simplifying_never_changes_a_value(text, point):
    written = _evaluate(text, point)
    simplified = canonical(text).text
    value = _evaluate(simplified, point)
    if math.isnan(written) or math.isinf(written):
        return  # outside the domain the simplifier may have cancelled a 0*inf
    assert close(value, written, 1e-9), (text, simplified)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_simplifying_twice_changes_nothing(text):
    once = canonical(text)
    assert simplify(once.algebra, once.expr) is once.expr
    assert canonical(once.text).text == once.text
