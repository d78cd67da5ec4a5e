"""The compiled back end: the numpy replay's columns and the single-point engine's numbers.

Needs the `fast` extra (llvmlite), which CI installs through `.[test]`; the
behaviour without it is tested in `test_engines.py`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("llvmlite")

import gradcli.batch
from gradcli import compute
from gradcli.batch.kernel import BatchKernel
from gradcli.cli.render import record_columns
from gradcli.language import parse
from gradcli.ops import OPS
from gradcli.plans import jit
from tests.test_batch_plan import threads_set_to

SINGLE = {"eval": compute.evaluate, "grad": compute.gradient, "hessian": compute.hessian,
          "jacobian": compute.jacobian}
TERMS = ["sin(x)", "x^2", "m[0]*x", "sum(m*m)", "mean(m)^2", "exp(m[1]-x)", "logsumexp(m)",
         "m[2]/(1+x^2)", "prod(m)", "dot(m, m)", "sum(m[1:])", "softmax(m)[0]", "var(m)",
         "([m[0], x] @ [[1, 2], [3, 4]])[1]", "tanh(x)*cos(m[1])", "log(m[2], base=2)",
         "where(x > 0, x, 2*x)", "where(m[0] < m[1], sin(x), cos(x))", "erf(x)",
         "atan2(x, m[0])", "max(m)", "maximum(x, m[2])", "sigmoid(x)", "softplus(m[0])",
         "sum(M @ m[:2])", "trace(M)*x", "sum(abs(M))", "clip(x, -0.5, 0.5)", "relu(x)",
         "min(m)*x", "sum(outer(m, m))", "x^3 - m[0]^2", "det(M + [[3, 0], [0, 3]])*x"]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Every test its own cache directory, and kernels loaded afresh (a new process)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    jit._LOADED.clear()
    yield
    jit._LOADED.clear()


def _columns(command, text, points, engine, chunk=None, wrt=None, math="accurate"):
    kernel = BatchKernel(command, parse(text), {}, wrt, engine=engine, math=math)
    size = next(iter(points.values())).shape[0]
    chunk = chunk or size
    parts, used = [], set()
    for start in range(0, size, chunk):
        parts.append(dict(kernel.columns({n: v[start:start + chunk]
                                          for n, v in points.items()})))
        used.add(kernel.engine_used)
    return {name: np.concatenate([np.broadcast_to(p[name], (len(next(iter(p.values()))),))
                                  for p in parts]) for name in parts[0]}, used


def assert_close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-13, err_msg=what)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.sampled_from(TERMS), min_size=1, max_size=4),
       st.lists(st.sampled_from(["+", "-", "*"]), min_size=3, max_size=3),
       st.integers(1, 300), st.integers(1, 200), st.sampled_from(["1", "2"]),
       st.randoms(use_true_random=False))
def test_compiled_equals_the_replay_and_each_point_alone(terms, ops, count, chunk, threads,
                                                         rng):
    text = terms[0] + "".join(f" {op} {t}" for op, t in zip(ops, terms[1:], strict=False))
    program = parse(text)
    every = {"x": np.array([rng.uniform(-1, 1) for _ in range(count)]),
             "m": np.array([[rng.uniform(0.2, 1.5) for _ in range(3)] for _ in range(count)]),
             "M": np.array([[[rng.uniform(-1, 1) for _ in range(2)] for _ in range(2)]
                            for _ in range(count)])}
    points = {n: v for n, v in every.items() if n in program.free_variables}
    commands = [("eval", text), ("grad", text), ("hessian", text),
                ("jacobian", f"[{text}, {terms[-1]}]")]
    with threads_set_to(threads):
        for command, expression in commands:
            replayed, replay_used = _columns(command, expression, points, "numpy", chunk)
            compiled, compiled_used = _columns(command, expression, points, "compiled", chunk)
            if replay_used == {"numpy"}:  # every plan the replay runs, the compiler runs
                assert compiled_used == {"compiled"}, (command, expression)
            assert list(compiled) == list(replayed)
            for name in replayed:
                assert_close(compiled[name], replayed[name], f"{command} {expression} {name}")
            for k in sorted({0, count // 2, count - 1}):
                at = {n: v[k] for n, v in points.items()}
                single = SINGLE[command](expression, at)
                for name, value in record_columns(single):
                    assert_close(compiled[name][k], value, f"{command} {expression} {name}")


def _table_cases():
    return [pytest.param(op, id=op.name) for op in OPS.values()
            if op.public and op.kind in ("elementwise", "binary")]


#: ops on scipy.special functions the C library lacks (`symbols.NUMPY_ONLY`): numpy replay
NUMPY_ONLY_OPS = {"digamma", "polygamma", "beta", "erfinv", "erfcinv"}


@pytest.mark.parametrize("op", _table_cases())
def test_every_elementwise_op_in_the_table_compiles(op):
    """A new elementwise op compiles from its entry alone: its forward or its scalar form."""
    names = ["x", "y", "z"][:op.nin]
    rng = np.random.default_rng(7)
    samples = op.sample or [(-2.0, 2.0)] * op.nin
    points = {n: rng.uniform(lo, hi, 257) for n, (lo, hi) in zip(names, samples, strict=True)}
    text = f"{op.name}({', '.join(names)})"
    for command in ("eval", "grad"):
        replayed, replay_used = _columns(command, text, points, "numpy")
        compiled, compiled_used = _columns(command, text, points, "compiled")
        if command == "eval" and replay_used == {"numpy"} and op.name not in NUMPY_ONLY_OPS:
            assert compiled_used == {"compiled"}, f"{text}: no scalar form"
        for name in replayed:
            assert_close(compiled[name], replayed[name], f"{command} {text} {name}")


def test_the_benchmark_workload_is_bit_identical_to_the_replay():
    """Same operations in the same order (sin, cos, + and *) and the C library's
    functions (`--math libm`): the same bits. (By default compiled plans use our own
    vectorized functions, within 1 ulp: tests/test_vecmath.py.)"""
    text = "[cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)]"
    rng = np.random.default_rng(3)
    points = {"a": rng.uniform(-1.5, 1.5, 5000), "b": rng.uniform(-1.5, 1.5, 5000)}
    replayed, _ = _columns("jacobian", text, points, "numpy")
    compiled, used = _columns("jacobian", text, points, "compiled", math="libm")
    assert used == {"compiled"}
    for name in replayed:
        assert np.array_equal(compiled[name], replayed[name]), name


def test_results_do_not_depend_on_the_thread_count():
    text = "sum(exp(-m^2)*sin(3*m)) + m[0]*m[1]"
    points = {"m": np.random.default_rng(1).uniform(-2, 2, (50_001, 3))}
    results = []
    for threads in ("1", "2", "7"):
        with threads_set_to(threads):
            results.append(gradcli.batch.compute("hessian", text, points, engine="compiled"))
    for name in results[0]:
        assert np.array_equal(results[0][name], results[1][name])
        assert np.array_equal(results[0][name], results[2][name])


# -- the cache ---------------------------------------------------------------------------
def _kernel_source(text="sin(x)*y + exp(y)"):
    points = {"x": np.linspace(-1, 1, 11), "y": np.linspace(0, 2, 11)}
    kernel = BatchKernel("grad", parse(text), {}, engine="compiled")
    columns = dict(kernel.columns(points))
    jit._LOADED.clear()  # the next kernel is loaded as a new process would
    assert kernel.engine_used == "compiled"
    return kernel.compiled_from, columns


def test_a_second_run_loads_the_kernel_from_the_cache():
    first, columns = _kernel_source()
    second, again = _kernel_source()
    assert (first, second) == ("compiled", "disk cache")
    for name in columns:
        assert np.array_equal(columns[name], again[name])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "flipped"])
def test_a_corrupt_cache_is_rebuilt_not_an_error(damage):
    _, columns = _kernel_source()
    folder = jit.cache_dir()
    for path in Path(folder).iterdir():
        blob = path.read_bytes()
        damaged = {"garbage": os.urandom(len(blob)), "truncated": blob[:len(blob) // 2],
                   "empty": b"", "flipped": blob[:-10] + bytes(b ^ 0xFF for b in blob[-10:])}
        path.write_bytes(damaged[damage])
    source, again = _kernel_source()
    assert source == "compiled"
    for name in columns:
        assert np.array_equal(columns[name], again[name])
    assert _kernel_source()[0] == "disk cache"


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(locked))
    try:
        source, columns = _kernel_source()
    finally:
        locked.chmod(stat.S_IRWXU)
    assert source == "compiled"
    np.testing.assert_allclose(columns["grad[y]"], np.sin(np.linspace(-1, 1, 11))
                               + np.exp(np.linspace(0, 2, 11)), rtol=1e-15)


# -- choosing the back end -----------------------------------------------------------------
def test_auto_keeps_small_batches_on_the_numpy_replay():
    kernel = BatchKernel("grad", parse("sin(x)"), {}, engine="auto")
    kernel.columns({"x": np.linspace(0, 1, 1000)})
    assert kernel.engine_used == "numpy"


def test_auto_compiles_big_work(monkeypatch):
    from gradcli.plans import engines

    monkeypatch.setattr(engines, "AUTO_MIN_WORK", 1000)
    kernel = BatchKernel("grad", parse("sin(x)*x"), {}, engine="auto", points_hint=10_000)
    kernel.columns({"x": np.linspace(0, 1, 1000)})
    assert kernel.engine_used == "compiled"


def test_the_engine_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GRADCLI_ENGINE", "compiled")
    kernel = BatchKernel("grad", parse("sin(x)"), {})
    kernel.columns({"x": np.linspace(0, 1, 10)})
    assert kernel.engine_used == "compiled"


def test_the_public_api_returns_the_cli_columns():
    rng = np.random.default_rng(5)
    points = {"a": rng.uniform(-1, 1, 100), "b": rng.uniform(-1, 1, 100)}
    text = "[cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)]"
    for engine in ("numpy", "compiled", "auto"):
        result = gradcli.batch.compute("jacobian", text, points, engine=engine)
        assert list(result) == ["value[0]", "value[1]", "jac[f[0],a]", "jac[f[0],b]",
                                "jac[f[1],a]", "jac[f[1],b]"]
        single = compute.jacobian(text, {"a": points["a"][9], "b": points["b"][9]})
        for name, value in record_columns(single):
            assert result[name][9] == value
    scaled = gradcli.batch.compute("grad", "k*x^2", {"x": np.arange(4.0)}, at={"k": 3.0},
                                   engine="compiled")
    assert scaled["grad[x]"].tolist() == [0.0, 6.0, 12.0, 18.0]


def test_the_cli_gives_the_same_records_with_either_engine(tmp_path, capsys):
    from gradcli.cli import _run

    points = tmp_path / "points.csv"
    rng = np.random.default_rng(2)
    points.write_text("a,b\n" + "".join(f"{float(a)!r},{float(b)!r}\n"
                                         for a, b in rng.uniform(-2, 2, (300, 2))))
    text = "[cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)]"
    outputs = []
    for engine in ("numpy", "compiled"):
        # --math libm: the C library's functions, so the bits are numpy's
        assert _run(["jacobian", text, "--points", str(points), "--engine", engine,
                     "--math", "libm"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
