"""The expression language: precedence, calls, programs, errors with their spans."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcli as g
from gradcli.errors import (
    ArgumentError,
    GradcliError,
    NameConflictError,
    ShapeError,
    Span,
    SyntaxProblem,
    UnboundVariableError,
    UnknownFunctionError,
)
from gradcli.language import parse, parse_binding, parse_value, render_error
from tests.opcases import call_arguments, call_extra, language_ops


def value(text, **bindings):
    return parse(text).evaluate(bindings).data.tolist()


# -- precedence and associativity ---------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("-x^2", -9.0),            # unary minus is looser than power
    ("(-x)^2", 9.0),
    ("2^3^2", 512.0),          # right-associative
    ("2**3**2", 512.0),        # ** is a synonym
    ("2^-1", 0.5),             # a signed exponent
    ("x - 1 - 1", 1.0),        # left-associative
    ("12 / 3 / 2", 2.0),
    ("1 + 2 * 3", 7.0),
    ("-2 * 3", -6.0),
    ("2x", 6.0),               # implicit: number before a name
    ("2x^2", 18.0),            # ... binds like *, below ^
    ("3(x+1)", 12.0),          # number before (
    ("(x+1)(x-1)", 8.0),       # )(
    ("2(x+1)(x-1)", 16.0),
    ("2sin(0)", 0.0),          # number before a call
    ("1/2x", 1.5),             # implicit has *'s precedence: (1/2)*x
    ("-x + 5", 2.0),
    ("+x", 3.0),
    ("2 x", 6.0),              # spaces do not matter
    (".5 + 1e-3 * 1000", 1.5),
    ("6.02E23 / 6.02e23", 1.0),
])
def test_precedence_table(text, expected):
    assert value(text, x=3.0) == pytest.approx(expected)


@pytest.mark.parametrize("text,expected", [
    ("where(x > 0, x, 0)", [0.0, 2.0]),
    ("where(x >= 2, 1, 0)", [0.0, 1.0]),
    ("where(x < 0, 1, 0)", [1.0, 0.0]),
    ("where(x <= -1, 1, 0)", [1.0, 0.0]),
    ("where(x == 2, 1, 0)", [0.0, 1.0]),
    ("where(x != 2, 1, 0)", [1.0, 0.0]),
    ("where(x + 1 > 2 * 1, 1, 0)", [0.0, 1.0]),  # comparisons are looser than + and *
])
def test_comparisons_inside_conditions(text, expected):
    assert value(text, x=[-1.0, 2.0]) == expected


def test_comparison_outside_a_condition_is_an_error():
    with pytest.raises(SyntaxProblem) as info:
        parse("x > 0")
    assert info.value.span == Span(2, 3)


def test_constants_and_arrays():
    assert value("pi") == pytest.approx(math.pi)
    assert value("e") == pytest.approx(math.e)
    assert value("inf") == math.inf and math.isnan(value("nan"))
    assert value("[[1, 2], [3, 4]]") == [[1, 2], [3, 4]]
    assert value("[x^2, x*y]", x=2.0, y=3.0) == [4.0, 6.0]
    assert value("ones(2, 2) @ eye(2)") == [[1, 1], [1, 1]]
    assert value("zeros(3)") == [0, 0, 0]
    assert value("arange(5)") == [0, 1, 2, 3, 4]
    assert value("linspace(0, 1, 5)") == [0, 0.25, 0.5, 0.75, 1]
    assert value("full(2, 3, 7)") == [[7] * 3] * 2


def test_indexing_and_slicing():
    v = [1.0, 2.0, 3.0, 4.0]
    m = [[1.0, 2.0], [3.0, 4.0]]
    assert value("v[0]", v=v) == 1.0
    assert value("v[-1]", v=v) == 4.0
    assert value("v[1:]", v=v) == [2, 3, 4]
    assert value("v[:-1]", v=v) == [1, 2, 3]
    assert value("v[::2]", v=v) == [1, 3]
    assert value("m[0, 1]", m=m) == 2.0
    assert value("m[:, 0]", m=m) == [1, 3]
    assert value("m[1][0]", m=m) == 3.0


def test_keywords_and_calls():
    m = [[1.0, 2.0], [3.0, 4.0]]
    assert value("sum(m, axis=0)", m=m) == [4, 6]
    assert value("sum(m, 1)", m=m) == [3, 7]
    assert value("norm(v, ord=1)", v=[3.0, -4.0]) == 7.0
    assert value("log(8, base=2)") == pytest.approx(3.0)
    assert value("stack(a, b, axis=1)", a=[1.0, 2.0], b=[3.0, 4.0]) == [[1, 3], [2, 4]]


def test_programs_name_steps_and_keep_the_names():
    program = parse("a = x + 1\nb = x + 2  # a comment\n a * b")
    assert program.free_variables == ["x"]
    x = g.tensor(2.0, requires_grad=True)
    out = program.evaluate({"x": x})
    out.backward()
    assert out.item() == 12 and x.grad.item() == 7
    assert out.grad_fn.label == "a * b"
    assert [e.label for e, _ in out.grad_fn.next_functions] == ["a", "b"]


def test_labels_are_source_text():
    out = parse("(x+1)*(x+2)").evaluate({"x": g.tensor(2.0, requires_grad=True)})
    assert out.grad_fn.label == "(x+1)*(x+2)"
    assert out.grad_fn.next_functions[0][0].label == "x+1"


def test_several_results_form_a_vector():
    assert value("x, x^2", x=3.0) == [3, 9]


def test_free_variables_in_order_of_first_appearance():
    assert parse("b + a*b + c^a + θ").free_variables == ["b", "a", "c", "θ"]


def test_bound_tensor_is_used_as_is():
    m = g.tensor([2.0, 3.0], requires_grad=True)
    parse("sum(m*m)").evaluate({"m": m}).backward()
    assert m.grad.data.tolist() == [4.0, 6.0]


def test_bindings_are_constant_expressions():
    assert parse_binding("t=pi/4")[1] == pytest.approx(math.pi / 4)
    assert parse_binding("m=[2,3]")[1].tolist() == [2, 3]
    assert parse_binding("x=ones(2,2)")[1].tolist() == [[1, 1], [1, 1]]
    with pytest.raises(ArgumentError) as info:
        parse_binding("x=y+1")
    assert info.value.span == Span(2, 3)


def test_parse_value_of_a_plain_number():
    assert parse_value("2.5").item() == 2.5


# -- every op of the table from the language ------------------------------------------
LANGUAGE_OPS = language_ops()


def _arguments(op, rng):
    return [rng.uniform(*interval, size=shape) for shape, interval in call_arguments(op)]


@pytest.mark.parametrize("op", LANGUAGE_OPS, ids=lambda op: op.name)
def test_every_op_is_callable_from_the_language(op):
    arrays = _arguments(op, np.random.default_rng(0))
    names = [f"a{i}" for i in range(len(arrays))]
    extra = call_extra(op)
    text = f"{op.name}({', '.join(names)}{extra})"
    got = parse(text).evaluate(dict(zip(names, arrays, strict=True))).data
    # the same call through the Python API, with the extra arguments as Python values
    keywords = {"reshape": {"shape": (3, 1)}, "stack": {"axis": 1}, "norm": {"ord": 1},
                "sum": {"axis": 0}, "log": {"base": 10}, "var": {"ddof": 1}}.get(op.name, {})
    tensors = [g.tensor(a) for a in arrays]
    function = getattr(g, op.name)
    direct = function(tensors, **keywords) if op.nin < 0 else function(*tensors, **keywords)
    np.testing.assert_array_equal(got, direct.data)


def test_op_table_and_language_agree_on_names():
    for op in LANGUAGE_OPS:
        count = op.nin if op.nin > 0 else 2
        text = f"{op.name}({', '.join(['x'] * count)})"
        assert parse(text).free_variables == ["x"], text


# -- errors, each with its exact span ----------------------------------------------------
@pytest.mark.parametrize("text,error,span,words", [
    ("x +", SyntaxProblem, (2, 3), "ends with the operator '+'"),
    ("x * (y + 1", SyntaxProblem, (4, 5), "never closed"),
    ("x + y)", SyntaxProblem, (5, 6), "unmatched ')'"),
    ("[1, 2)", SyntaxProblem, (0, 1), "closes the '['"),
    ("2 $ x", SyntaxProblem, (2, 3), "unexpected character '$'"),
    ("", SyntaxProblem, (0, 0), "empty"),
    ("   # only a comment", SyntaxProblem, (0, 0), "empty"),
    ("x y", SyntaxProblem, (0, 3), "two names side by side"),
    ("x + * y", SyntaxProblem, (4, 5), "unexpected '*'"),
    ("sine(x)", UnknownFunctionError, (0, 4), "unknown function 'sine'"),
    ("sin(x, y)", ArgumentError, (0, 9), "sin takes 1 argument, got 2"),
    ("sum(x, axes=0)", ArgumentError, (7, 13), "no argument 'axes'"),
    ("sum(x, axis=0, axis=1)", ArgumentError, (15, 21), "'axis' twice"),
    ("a = 1; a = 2; a", NameConflictError, (7, 8), "assigned twice"),
    ("b = a; a = 1; b", NameConflictError, (4, 5), "used before it is assigned"),
    ("pi = 3; pi", NameConflictError, (0, 2), "constant"),
    ("x + 1; x", SyntaxProblem, (0, 5), "only the last statement"),
    ("a = x", SyntaxProblem, (0, 5), "ends with an assignment"),
])
def test_parse_errors_and_their_spans(text, error, span, words):
    with pytest.raises(error) as info:
        parse(text)
    assert info.value.span == Span(*span)
    assert words in info.value.message
    assert info.value.hint  # every message says what to do next


def test_unknown_function_suggests_the_closest_name():
    with pytest.raises(UnknownFunctionError) as info:
        parse("sine(x)")
    assert "sin" in info.value.hint


def test_wrong_arguments_show_the_signature():
    with pytest.raises(ArgumentError) as info:
        parse("norm(v, 1, 2, 3, 4)")
    assert "norm(x, axis=None, keepdims=False, ord=None)" in info.value.hint


def test_unbound_variables_are_listed_together():
    with pytest.raises(UnboundVariableError) as info:
        parse("a*x + b*y + c").evaluate({"x": 1.0})
    assert "a, b, y, c" in info.value.message
    assert info.value.span == Span(0, 1)


def test_names_side_by_side_suggest_a_product():
    with pytest.raises(UnboundVariableError) as info:
        parse("xy + x").evaluate({"x": 1.0, "y": 2.0})
    assert "x*y" in info.value.hint


def test_shape_error_points_at_the_operator_with_both_shapes():
    with pytest.raises(ShapeError) as info:
        parse("[1,2] + [1,2,3]").evaluate({})
    assert info.value.span == Span(6, 7)
    assert "(2,)" in info.value.message and "(3,)" in info.value.message


def test_assigning_a_bound_variable_is_an_error():
    with pytest.raises(NameConflictError):
        parse("x = 2; x + 1").evaluate({"x": 1.0})


def test_domain_errors_are_values_and_located():
    evaluation = parse("y = x - 3; log(y) * 2").run({"x": 1.0})
    assert math.isnan(evaluation.output.item())
    report = evaluation.nonfinite
    assert report is not None and report.label == "log(y)" and report.op == "log"
    assert report.span == Span(11, 17)
    assert "-2" in report.message("x = 1") and "x > 0" in report.message()


def test_render_error_puts_a_caret_under_the_span():
    with pytest.raises(GradcliError) as info:
        parse("sin(x) + cosh(x) + sine(x)")
    rendered = render_error(info.value, "sin(x) + cosh(x) + sine(x)")
    lines = rendered.splitlines()
    assert lines[0] == "error: unknown function 'sine'"
    assert lines[1] == "  sin(x) + cosh(x) + sine(x)"
    assert lines[2] == "  " + " " * 19 + "^^^^"
    assert lines[3].startswith("hint: ")


def test_render_error_on_a_later_line():
    text = "a = x + 1\nb = sine(a)\nb"
    with pytest.raises(GradcliError) as info:
        parse(text)
    lines = render_error(info.value, text).splitlines()
    assert lines[1] == "  2 | b = sine(a)"
    assert lines[2] == "  " + " " * 4 + "    ^^^^"


# -- depth and width ------------------------------------------------------------------
N = 100_000


def test_nesting_100k_deep():
    x = g.tensor(0.5, requires_grad=True)
    out = parse("(" * N + "x + 1" + ")" * N).evaluate({"x": x})
    out.backward()
    assert out.item() == 1.5 and x.grad.item() == 1.0


def test_nested_calls_100k_deep():
    y = g.tensor(-1.5, requires_grad=True)
    out = parse("abs(" * N + "y" + ")" * N).evaluate({"y": y})
    out.backward()
    # the innermost abs sees -1.5 (slope -1), every other one sees 1.5 (slope 1)
    assert out.item() == 1.5 and y.grad.item() == -1.0


def test_unary_minus_100k_deep():
    x = g.tensor(0.5, requires_grad=True)
    out = parse("-" * N + "x").evaluate({"x": x})
    out.backward()
    assert out.item() == 0.5 and x.grad.item() == 1.0


def test_flat_sum_100k_wide():
    x = g.tensor(2.0, requires_grad=True)
    out = parse(" + ".join(f"{k % 5}*x" for k in range(N))).evaluate({"x": x})
    out.backward()
    assert x.grad.item() == sum(k % 5 for k in range(N))


# -- hypothesis: round trip and fuzzing ---------------------------------------------------
UNARY_LANGUAGE = ["sin", "cos", "tanh", "atan", "exp", "sigmoid", "softplus", "square"]


def _expressions():
    leaves = st.sampled_from(["x", "y", "2", "0.5", "3"])

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(["+", "-", "*"]), children, children),
            st.tuples(st.sampled_from(UNARY_LANGUAGE), children),
            st.tuples(st.just("neg"), children),
            st.tuples(st.just("pow"), children),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def _to_text(tree):
    if isinstance(tree, str):
        return tree
    if tree[0] in "+-*":
        return f"({_to_text(tree[1])} {tree[0]} {_to_text(tree[2])})"
    if tree[0] == "neg":
        return f"-({_to_text(tree[1])})"
    if tree[0] == "pow":
        return f"({_to_text(tree[1])})^2"
    return f"{tree[0]}({_to_text(tree[1])})"


def _to_engine(tree, env):
    if isinstance(tree, str):
        return env[tree] if tree in env else g.tensor(float(tree))
    if tree[0] in "+-*":
        a, b = _to_engine(tree[1], env), _to_engine(tree[2], env)
        return {"+": a + b, "-": a - b, "*": a * b}[tree[0]]
    if tree[0] == "neg":
        return -_to_engine(tree[1], env)
    if tree[0] == "pow":
        return _to_engine(tree[1], env) ** 2
    return getattr(g, tree[0])(_to_engine(tree[1], env))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions(), st.floats(-1, 1), st.floats(-1, 1))
def test_round_trip_matches_the_engine(tree, x0, y0):
    text = _to_text(tree)
    with np.errstate(all="ignore"):
        env = {"x": g.tensor(x0), "y": g.tensor(y0)}
        got = parse(text).evaluate(env).data
        want = _to_engine(tree, env).data
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True)


VALID = ["(x+1)*(x+2)", "sum(m*m)", "a = x+1; a^2", "where(x > 0, x, 0)", "m[0]^2 + 3*m[1]",
         "norm(v, ord=1)", "2x + 3(y-1)", "[x, y]", "log(x, base=2)", "-x^2"]
ALPHABET = "xyzm012.+-*/^()[],;:=<>!#@ \nsinlogexp"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_random_strings_raise_only_gradcli_errors(text):
    try:
        program = parse(text)
        program.evaluate({name: 0.5 for name in program.free_variables})
    except GradcliError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.integers(0, 40), st.integers(0, 3),
       st.text(alphabet=ALPHABET, max_size=3))
def test_mutated_expressions_raise_only_gradcli_errors(base, at, cut, insert):
    at = min(at, len(base))
    text = base[:at] + insert + base[at + cut:]
    try:
        program = parse(text)
        program.evaluate({name: np.array([0.5, 1.5]) if name in ("m", "v") else 0.5
                          for name in program.free_variables})
    except GradcliError:
        pass


# -- the parse tables -------------------------------------------------------------------
def test_generated_tables_match_the_grammar():
    from gradcli.language.generated_tables import TABLES
    from gradcli.language.tablegen import generate
    from gradcli.language.tables import read_grammar

    assert generate(read_grammar()) == TABLES, \
        "the grammar changed: run `python -m gradcli.language.tablegen`"


def test_stale_tables_are_a_clear_error_and_never_regenerated(monkeypatch):
    from gradcli.errors import StaleTablesError
    from gradcli.language import generated_tables, tables

    monkeypatch.setattr(generated_tables, "TABLES", {**generated_tables.TABLES,
                                                      "checksum": "stale"})
    with pytest.raises(StaleTablesError) as info:
        tables.load_tables()
    assert "python -m gradcli.language.tablegen" in str(info.value)


def test_commands_do_not_import_lark():
    import subprocess
    import sys

    probe = ("import sys, gradcli\n"
             "x = gradcli.tensor(2.0, requires_grad=True)\n"
             "gradcli.parse('(x+1)*(x+2)').evaluate({'x': x}).backward()\n"
             "assert x.grad.item() == 7\n"
             "print('lark' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
