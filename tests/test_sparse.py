"""Sparse Jacobians and Hessians: detected patterns, colourings, and agreement with dense.

Expressions are generated from many op kinds (elementwise, broadcasting, slicing,
advanced indexing, reshapes, reductions, and ops that only have the dense
fallback rule); every sparse result must equal the dense computation, its
pattern must hold every true nonzero, and every star colouring must be valid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcli as g
from gradcli import functional
from gradcli import functional_sparse as fs
from gradcli.engine.colouring import column_colouring, is_star_colouring, star_colouring
from gradcli.engine.op import OPS

# -- generated expressions ------------------------------------------------------------------
UNARY: list[Callable[[Any], Any]] = [g.sin, g.cos, g.tanh, g.sigmoid, g.atan, g.square,
                                     g.softplus, g.neg, g.erf, lambda v: g.exp(g.tanh(v)),
                                     g.floor, lambda v: g.deg2rad(v)]
BINARY: list[Callable[[Any, Any], Any]] = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
    lambda a, b: a / (2.0 + b * b), g.hypot, g.maximum, lambda a, b: g.where(a > b, a, b * b),
    lambda a, b: a ** 2 * 0.5 + b]


def _trim(a: Any, b: Any) -> tuple[Any, Any]:
    size = min(a.shape[0], b.shape[0])
    return a[:size], b[:size]


def step(pool: list[Any], choice: int, pick: int, other: int, rng: np.random.Generator) -> Any:
    a, b = pool[pick % len(pool)], pool[other % len(pool)]
    kind = choice % 14
    if kind == 0:
        return UNARY[other % len(UNARY)](a)
    if kind == 1:
        x, y = _trim(a, b)
        return BINARY[pick % len(BINARY)](x, y)
    if kind == 2 and a.shape[0] > 1:
        return [a[1:], a[:-1], a[::2], a[::-1]][other % 4]
    if kind == 3:  # advanced indexing, with repeats
        return a[rng.integers(0, a.shape[0], size=a.shape[0])]
    if kind == 4 and a.shape[0] % 2 == 0 and a.shape[0] >= 2:  # a matrix, reduced on an axis
        m = g.reshape(a, (2, a.shape[0] // 2))
        reduce = [g.sum, g.mean, g.max, g.logsumexp, g.norm, g.prod, g.var][other % 7]
        return reduce(g.transpose(m) if pick % 2 else m, axis=1 - pick % 2)
    if kind == 5:  # a scalar broadcast back
        return a * g.sum(b) + g.mean(a * a)
    if kind == 6:  # outer products and broadcasting against a column
        x, y = _trim(a, b)
        return g.sum(x[:, None] * g.sin(y)[None, :], axis=0)
    if kind == 7:  # the dense fallback
        return [g.softmax, g.cumsum, lambda v: g.matmul(_matrix(v.shape[0], rng), v)][
            other % 3](a)
    if kind == 8:
        return g.concatenate([a, b])[: a.shape[0]]
    if kind == 9:
        x, y = _trim(a, b)
        return g.stack([x, y * x]).reshape(-1)[: a.shape[0]]
    if kind == 10:
        x, y = _trim(a, b)
        return g.detach(x) * y
    if kind == 11:
        return g.dot(a, a) + b
    if kind == 12:
        return g.clip(a, -0.5, 0.5) * b[: 1] if b.shape[0] >= 1 else a
    if kind == 13 and a.shape[0] % 2 == 0:  # products of variable matrices and vectors
        x, y = _trim(a, b)
        half = x.shape[0] // 2
        if x.shape[0] % 2 == 0 and x.shape[0] >= 2:
            m = g.reshape(x, (2, half))
            product = [m @ g.reshape(y, (half, 2)), m @ g.sin(x[:half]),
                       g.cos(y[:2]) @ m][other % 3]
            return g.reshape(product, (-1,))
    return a * 1.5 - 0.25


def _matrix(n: int, rng: np.random.Generator) -> Any:
    m = rng.normal(size=(n, n))
    m[rng.random((n, n)) < 0.7] = 0.0
    return g.tensor(m)


def program(steps: list[tuple[int, int, int]], seed: int, n_out: int | None = None
            ) -> Callable[..., Any]:
    def f(x: Any, y: Any) -> Any:
        rng = np.random.default_rng(seed)
        pool = [x, y, x[1:] * y[:-1]]
        for choice, pick, other in steps:
            pool.append(step(pool, choice, pick, other, rng))
        if n_out is not None:
            return pool[-1]
        weights = [float(w) for w in rng.normal(size=len(pool))]
        return sum((g.sum(v * w) for v, w in zip(pool, weights, strict=True)), g.tensor(0.0))

    return f


STEPS = st.lists(st.tuples(st.integers(0, 13), st.integers(0, 50), st.integers(0, 50)),
                 min_size=1, max_size=12)


def _inputs(n: int, seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    return g.tensor(rng.uniform(-1, 1, n)), g.tensor(rng.uniform(-1, 1, n))


def _dense_hessian(f: Callable[..., Any], xs: tuple[Any, Any]) -> np.ndarray:
    blocks = functional.hessian(f, xs)
    n = xs[0].size
    return np.block([[blocks[i][j].data.reshape(n, n) for j in range(2)] for i in range(2)])


def _dense_jacobian(f: Callable[..., Any], xs: tuple[Any, Any]) -> np.ndarray:
    blocks = functional.jacobian(f, xs, strategy="forward")
    return np.hstack([b.data.reshape(-1, xs[0].size) for b in blocks])


def _agree(sparse: np.ndarray, dense: np.ndarray) -> None:
    scale = max(1.0, float(np.max(np.abs(dense), initial=0.0)))
    np.testing.assert_allclose(sparse, dense, rtol=1e-12, atol=1e-12 * scale)


def _holds(found: tuple[np.ndarray, np.ndarray] | None, dense: np.ndarray) -> None:
    """The pattern is a superset of the nonzeros."""
    if found is None:
        return
    mask = np.zeros(dense.shape, dtype=bool)
    mask[found] = True
    assert not np.any((dense != 0) & ~mask), "a nonzero outside the detected pattern"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, n=st.integers(2, 9), seed=st.integers(0, 2**16))
def test_sparse_hessian_equals_dense(steps, n, seed):
    f = program(steps, seed)
    xs = _inputs(n, seed)
    dense = _dense_hessian(f, xs)
    sparse = fs.sparse_hessian(f, xs)
    _agree(sparse.dense(), dense)
    found = fs.pattern(f, xs, hessian=True)
    _holds(found, dense)
    if found is not None:
        assert is_star_colouring(*found, star_colouring(*found, 2 * n))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, n=st.integers(2, 9), seed=st.integers(0, 2**16))
def test_sparse_jacobian_equals_dense(steps, n, seed):
    f = program(steps, seed, n_out=1)
    xs = _inputs(n, seed)
    dense = _dense_jacobian(f, xs)
    sparse = fs.sparse_jacobian(f, xs)
    _agree(sparse.dense(), dense)
    _holds(fs.pattern(f, xs), dense)


def test_every_op_has_a_dependency_rule_or_the_dense_fallback():
    rules = {None, "elementwise", "reduction", "moves", "sum_to", "matmul", "none"}
    for op in OPS.values():
        assert op.dependency in rules, op.name
        assert op.curvature in ("linear", "bilinear", "nonlinear"), op.name


def _through(op: Any, args: list[np.ndarray]) -> Callable[[Any], Any]:
    """sum(op(x[i:i+3], ...)^2) at the sample point: a banded pattern the op shapes."""
    k = len(args)

    def f(x: Any) -> Any:
        parts = [x[i:i + 3] for i in range(k)]
        parts = [p * 0.0 + g.tensor(a[:3]) + (p - g.detach(p))
                 for p, a in zip(parts, args, strict=True)]
        return g.sum(getattr(g, op.name)(*parts) ** 2)

    return f


def test_every_elementwise_entry_agrees_with_dense():
    """Each unary and binary entry of the table, at a point inside its domain."""
    for op in OPS.values():
        if op.dependency != "elementwise" or op.sample is None or not op.public:
            continue
        rng = np.random.default_rng(len(op.name))
        f = _through(op, [rng.uniform(lo, hi, 4) for lo, hi in op.sample])
        x = g.tensor(np.zeros(6))
        dense = functional.hessian(f, x).data
        _agree(fs.sparse_hessian(f, x).dense(), dense)
        _holds(fs.pattern(f, x, hessian=True), dense)


# -- known patterns ---------------------------------------------------------------------------
def rosenbrock(x: Any) -> Any:
    return g.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 3000), seed=st.integers(0, 2**16))
def test_rosenbrock_is_tridiagonal_with_three_colours(n, seed):
    x = g.tensor(np.random.default_rng(seed).uniform(-1, 1, n))
    rows, cols = fs.pattern(rosenbrock, x, hessian=True)
    assert np.all(np.abs(rows - cols) <= 1) and rows.size == 3 * n - 2
    h = fs.sparse_hessian(rosenbrock, x)
    assert h.colours == min(3, n)
    if n <= 400:
        _agree(h.dense(), functional.hessian(rosenbrock, x).data)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(3, 2000), seed=st.integers(0, 2**16))
def test_an_arrowhead_needs_few_colours(n, seed):
    def arrow(x):
        return g.sum(x[0] * g.sin(x)) + g.sum(x ** 3)

    x = g.tensor(np.random.default_rng(seed).uniform(-1, 1, n))
    h = fs.sparse_hessian(arrow, x)
    assert h.colours <= 3
    assert is_star_colouring(h.rows, h.cols, star_colouring(h.rows, h.cols, n))
    if n <= 300:
        _agree(h.dense(), functional.hessian(arrow, x).data)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), density=st.floats(0.0, 0.3), seed=st.integers(0, 2**16))
def test_star_colouring_of_random_graphs_is_valid(n, density, seed):
    rng = np.random.default_rng(seed)
    edges = rng.random((n, n)) < density
    edges = edges | edges.T
    rows, cols = np.nonzero(edges | np.eye(n, dtype=bool))
    colour = star_colouring(rows, cols, n)
    assert is_star_colouring(rows, cols, colour)
    # recovery from H @ seeds gives every entry of a symmetric matrix with that pattern
    h = np.zeros((n, n))
    values = rng.normal(size=rows.size)
    h[rows, cols] = values
    h = h + h.T
    seeds = np.zeros((n, int(colour.max()) + 1))
    seeds[np.arange(n), colour] = 1.0
    from gradcli.engine.colouring import recover_symmetric

    np.testing.assert_allclose(recover_symmetric(rows, cols, colour, h @ seeds), h[rows, cols],
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 200), n=st.integers(1, 200), density=st.floats(0.0, 0.3),
       seed=st.integers(0, 2**16))
def test_column_colouring_of_random_patterns_is_valid(m, n, density, seed):
    rng = np.random.default_rng(seed)
    rows, cols = np.nonzero(rng.random((m, n)) < density)
    colour = column_colouring(rows, cols, n)
    keys = rows * (n + 1) + colour[cols]
    assert np.unique(keys).size == keys.size, "two columns of one colour share a row"


def test_detection_at_100000_variables():
    n = 100_000
    x = g.tensor(np.random.default_rng(0).uniform(-1, 1, n))
    rows, cols = fs.pattern(rosenbrock, x, hessian=True)
    assert rows.size == 3 * n - 2
    jr, jc = fs.pattern(lambda v: g.sin(v[1:] * v[:-1]), x)
    assert jr.size == 2 * (n - 1)


def test_a_100000_deep_graph_needs_no_recursion():
    def chain(x):
        y = x
        for _ in range(100_000):
            y = y * 0.5 + 0.25
        return g.sum(g.sin(y[1:] * y[:-1]))

    rows, cols = fs.pattern(chain, g.tensor(np.ones(4)), hessian=True)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {
        (i, j) for i in range(4) for j in range(4) if abs(i - j) <= 1}


def test_a_dense_function_is_reported_as_dense_under_a_budget():
    x = g.tensor(np.linspace(-1, 1, 50))
    assert fs.pattern(lambda v: g.sum(v) ** 2, x, hessian=True, budget=500) is None
    # with the full budget, the dense pattern is every pair
    rows, _ = fs.pattern(lambda v: g.sum(v) ** 2, x, hessian=True)
    assert rows.size == 50 * 50


@pytest.mark.parametrize("n", [1, 2, 5])
def test_small_and_linear_functions(n):
    x = g.tensor(np.arange(1.0, n + 1))
    assert fs.sparse_hessian(lambda v: g.sum(v * 2.0), x).nnz == 0
    np.testing.assert_array_equal(fs.sparse_jacobian(lambda v: v * 2.0, x).dense(),
                                  2.0 * np.eye(n))


# -- the command line -------------------------------------------------------------------------
ROSENBROCK = "sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)"


def _cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    from gradcli.cli import _run

    code = _run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _point(n: int) -> str:
    values = np.random.default_rng(n).uniform(-1, 1, n)
    return "x=[" + ",".join(repr(float(v)) for v in values) + "]"


@pytest.mark.parametrize("command, expression, key", [
    ("hessian", ROSENBROCK, "hessian"),
    ("hessian", "sum(x[0]*sin(x)) + sum(x^3)", "hessian"),
    ("jacobian", "sin(x[1:]*x[:-1])", "jacobian"),
    ("jacobian", "cumsum(x)*x", "jacobian"),
])
def test_sparse_on_gives_coordinates_equal_to_the_dense_matrix(capsys, command, expression,
                                                               key):
    import json

    at = _point(40)
    code, out, err = _cli(capsys, command, expression, at, "--format", "json", "--sparse", "on")
    assert code == 0, err
    sparse = json.loads(out)
    code, out, err = _cli(capsys, command, expression, at, "--format", "json", "--sparse", "off")
    assert code == 0, err
    dense = np.array(json.loads(out)[key])
    coordinates = sparse[key]
    assert coordinates["shape"] == list(dense.shape)
    rebuilt = np.zeros(dense.shape)
    rebuilt[coordinates["rows"], coordinates["cols"]] = coordinates["values"]
    _agree(rebuilt, dense)
    assert sparse["products"] <= dense.shape[1]


@pytest.mark.parametrize("sparse", ["auto", "on", "off"])
def test_tables_and_csv_are_the_same_whatever_the_sparse_option(capsys, sparse):
    at = _point(12)
    for fmt in ("table", "csv"):
        code, out, err = _cli(capsys, "hessian", ROSENBROCK, at, "--format", fmt)
        assert code == 0, err
        code, other, err = _cli(capsys, "hessian", ROSENBROCK, at, "--format", fmt,
                                "--sparse", sparse)
        assert code == 0, err
        assert other == out


def test_auto_keeps_the_dense_json_and_chooses_sparse_for_a_sparse_pattern(capsys):
    import json

    from gradcli.compute import hessian

    at = _point(200)
    code, out, err = _cli(capsys, "hessian", ROSENBROCK, at, "--format", "json")
    assert code == 0, err
    assert isinstance(json.loads(out)["hessian"], list)
    x = np.random.default_rng(1).uniform(-1, 1, 200)
    assert hessian(ROSENBROCK, {"x": x}).sparse is not None  # sparse enough: 3 products
    assert hessian("sum(x)^2", {"x": x}).sparse is None  # dense: the dense pass
    assert hessian(ROSENBROCK, {"x": x}, sparse="off").sparse is None


def test_points_output_is_unchanged_by_sparse(capsys, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,y\n1,2\n3,4\n")
    outputs = []
    for extra in ([], ["--sparse", "on"], ["--sparse", "off"]):
        code, out, err = _cli(capsys, "hessian", "x*x*y + sin(x)", "--points", str(points),
                              "--quiet", *extra)
        assert code == 0, err
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]


def test_sparse_on_with_reverse_mode_is_one_clear_error(capsys):
    code, out, err = _cli(capsys, "jacobian", "sin(x)", "x=[1,2]", "--sparse", "on",
                          "--mode", "reverse")
    assert code == 2 and "--mode reverse" in err and "Traceback" not in err


def test_sparse_on_json_needs_no_dense_matrix(capsys, monkeypatch):
    """Over the element limit the dense matrix is refused, with one clear message; the
    coordinates of --sparse on still come out."""
    import json

    monkeypatch.setenv("GRADCLI_MAX_ELEMENTS", "1000")
    at = _point(60)  # a 60 x 60 Hessian: 3,600 elements
    code, out, err = _cli(capsys, "hessian", ROSENBROCK, at, "--sparse", "off")
    assert code != 0 and "GRADCLI_MAX_ELEMENTS" in err and "Traceback" not in err
    code, out, err = _cli(capsys, "hessian", ROSENBROCK, at, "--sparse", "on", "--format",
                          "json")
    assert code == 0, err
    assert len(json.loads(out)["hessian"]["rows"]) == 3 * 60 - 2
    code, out, err = _cli(capsys, "hessian", ROSENBROCK, at, "--sparse", "on")
    assert code != 0 and "GRADCLI_MAX_ELEMENTS" in err and "Traceback" not in err


def test_a_matrix_product_depends_on_its_row_and_the_vector_only():
    """The matmul rule: (X @ w)[i] depends on row i of X and on w, not on all of X."""
    def f(x, w):
        return g.reshape(x, (3, 2)) @ w

    xs = (g.tensor(np.arange(1.0, 7.0)), g.tensor(np.array([0.5, -1.0])))
    rows, cols = fs.pattern(f, xs)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == sorted(
        (i, j) for i in range(3) for j in (2 * i, 2 * i + 1, 6, 7))
    blocks = functional.jacobian(f, xs, strategy="forward")
    dense = np.hstack([b.data.reshape(3, -1) for b in blocks])
    _agree(fs.sparse_jacobian(f, xs).dense(), dense)
