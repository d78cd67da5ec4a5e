"""Replayed batch plans: the same columns as the engine, block by block, on several threads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli.batch.kernel import BatchKernel, chunk_columns
from gradcli.language import parse

SCALAR_TERMS = ["sin(x)", "x^2", "m[0]*x", "sum(m*m)", "mean(m)^2", "exp(m[1]-x)",
                "logsumexp(m)", "m[2]/(1+x^2)", "prod(m)", "dot(m, m)", "sum(m[1:])",
                "softmax(m)[0]", "var(m)", "([m[0], x] @ [[1, 2], [3, 4]])[1]", "x^3",
                "tanh(x)*cos(m[1])", "sqrt(m[0])", "log(m[2], base=2)", "x/m[1]",
                "where(x > 0, x, 2*x)", "erf(x)", "atan2(x, m[0])"]


def engine_and_replay(command: str, text: str, points: dict[str, np.ndarray], block: int
                      ) -> tuple[dict[str, np.ndarray], BatchKernel, dict[str, np.ndarray]]:
    program = parse(text)
    kernel = BatchKernel(command, program, {}, block=block)
    replayed = dict(kernel.columns(points))
    engine = dict(chunk_columns(command, program, points, {}, replay=False))
    return replayed, kernel, engine


def assert_same_columns(replayed: dict[str, np.ndarray], engine: dict[str, np.ndarray]) -> None:
    assert list(replayed) == list(engine)
    for name, value in engine.items():
        np.testing.assert_allclose(replayed[name], value, rtol=1e-12, atol=1e-14,
                                   err_msg=name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SCALAR_TERMS), min_size=1, max_size=4),
       st.lists(st.sampled_from(["+", "-", "*"]), min_size=3, max_size=3),
       st.integers(1, 40), st.sampled_from([1, 3, 8, 64]), st.sampled_from(["1", "2"]),
       st.randoms(use_true_random=False))
def test_replay_equals_the_engine(terms, ops, count, block, threads, rng):
    with threads_set_to(threads):
        check_replay(terms, ops, count, block, rng)


@contextmanager
def threads_set_to(value: str) -> Iterator[None]:
    saved = os.environ.get("GRADCLI_THREADS")
    os.environ["GRADCLI_THREADS"] = value
    try:
        yield
    finally:
        if saved is None:
            del os.environ["GRADCLI_THREADS"]
        else:
            os.environ["GRADCLI_THREADS"] = saved


def check_replay(terms, ops, count, block, rng):
    text = terms[0] + "".join(f" {op} {t}" for op, t in zip(ops, terms[1:], strict=False))
    xs = np.array([rng.uniform(-1, 1) for _ in range(count)])
    ms = np.array([[rng.uniform(0.2, 1.5) for _ in range(3)] for _ in range(count)])
    program = parse(text)
    points = {n: v for n, v in {"x": xs, "m": ms}.items() if n in program.free_variables}
    for command in ("eval", "grad", "hessian"):
        replayed, kernel, engine = engine_and_replay(command, text, points, block)
        assert kernel.replayed
        assert_same_columns(replayed, engine)
    vector = f"[{text}, {terms[-1]}, x*m[0]]"
    replayed, kernel, engine = engine_and_replay("jacobian", vector, {"x": xs, "m": ms}, block)
    assert kernel.replayed
    assert_same_columns(replayed, engine)


def test_later_chunks_reuse_the_plan_and_stay_exact():
    text = "[cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)]"
    rng = np.random.default_rng(3)
    program = parse(text)
    kernel = BatchKernel("jacobian", program, {}, block=16)
    for size in (50, 7, 200):  # a partial block, a chunk smaller than a block, many blocks
        points = {"a": rng.uniform(-3, 3, size), "b": rng.uniform(-3, 3, size)}
        replayed = dict(kernel.columns(points))
        assert kernel.replayed
        assert_same_columns(replayed, dict(chunk_columns("jacobian", program, points, {},
                                                         replay=False)))


@pytest.mark.parametrize("text", ["abs(x) + relu(y)", "max([x, y])", "maximum(x, y)*x",
                                  "clip(x, -0.5, 0.5) + y", "x^y", "norm([x, y], ord=inf)",
                                  "minimum(x, y)^2", "norm([x, y], ord=3)"])
def test_derivatives_with_masks_from_data_are_replayed(text):
    # these rules build a mask from their inputs' values, with recorded comparison and
    # where ops: a plan recorded on one block finds the mask afresh on every other one
    rng = np.random.default_rng(1)
    points = {"x": rng.uniform(0.1, 2, 30) * rng.choice([-1, 1], 30),
              "y": rng.uniform(0.1, 2, 30)}
    if text == "x^y":
        points["x"] = np.abs(points["x"])
    for command in ("grad", "hessian"):
        replayed, kernel, engine = engine_and_replay(command, text, points, 8)
        assert_same_columns(replayed, engine)
        assert kernel.replayed


def test_a_structural_zero_stays_zero_where_the_function_is_nan():
    # d/db of the first output does not involve a at all; at a = inf it is still 0
    points = {"a": np.array([np.inf, 0.5]), "b": np.array([0.25, 0.5])}
    replayed, kernel, engine = engine_and_replay("jacobian", "[cos(a), sin(b)]", points, 4)
    assert kernel.replayed
    assert replayed["jac[f[0],b]"].tolist() == [0.0, 0.0]
    assert np.isnan(replayed["jac[f[0],a]"][0])
    assert replayed["jac[f[1],b]"][0] == np.cos(0.25)


def test_constants_and_shared_bindings_are_replayed_as_constants():
    program = parse("k*x^2 + sum(w*m)")
    kernel = BatchKernel("grad", program, {"k": np.array(3.0), "w": np.array([1.0, -2.0])},
                         block=4)
    points = {"x": np.arange(10.0), "m": np.ones((10, 2))}
    columns = dict(kernel.columns(points))
    assert kernel.replayed
    assert columns["grad[x]"].tolist() == (6.0 * np.arange(10.0)).tolist()
    assert columns["grad[m[1]]"].tolist() == [-2.0] * 10
    assert columns["value"].tolist() == (3.0 * np.arange(10.0) ** 2 - 1.0).tolist()


def test_a_mask_seen_in_the_first_chunk_is_not_reused_for_later_ones():
    # every x in the first chunk is positive, so sign(x) is 1 throughout it; a replay that
    # kept that mask would give the wrong sign for the negative x of the second chunk
    program = parse("abs(x) * y")
    kernel = BatchKernel("grad", program, {}, block=4)
    kernel.columns({"x": np.linspace(0.5, 2.0, 8), "y": np.ones(8)})
    later = dict(kernel.columns({"x": -np.linspace(0.5, 2.0, 8), "y": np.ones(8)}))
    assert later["grad[x]"].tolist() == [-1.0] * 8
    assert kernel.replayed
