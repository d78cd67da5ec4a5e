"""Our vectorized math in compiled plans: within 1 ulp of mpmath, edges included.

A sample per function (random points over its range, plus the edges of
argument reduction: huge |x|, doubles next to multiples of pi/2, subnormals,
zeros of both signs, +-inf, NaN), computed through a compiled plan exactly
as a user's batch run computes it. `benchmarks/vecmath.py` runs the same
check on 10^6 points per function.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llvmlite")
pytest.importorskip("mpmath")

import mpmath

from gradcli import vecmath
from gradcli.plans import jit
from gradcli.vecmath.accuracy import (
    REFERENCES,
    edge_points,
    evaluate,
    plan_assembly,
    random_points,
    special_agrees,
    ulp_errors,
)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    jit._LOADED.clear()
    yield
    jit._LOADED.clear()


@pytest.mark.parametrize("name", sorted(vecmath.FUNCTIONS))
def test_within_one_ulp_of_mpmath(name):
    rng = np.random.default_rng(20)
    x = np.concatenate([random_points(name, rng, 1500), edge_points(name)])
    ours = evaluate(name, x)
    errors = ulp_errors(name, x, ours)
    worst = int(np.argmax(errors))
    assert errors[worst] <= 1.0, f"{name}({x[worst]!r}) = {ours[worst]!r}: {errors[worst]} ulp"


@pytest.mark.parametrize("name", sorted(vecmath.FUNCTIONS))
def test_special_values_as_numpy(name):
    """NaN, infinities, signed zeros and the ends of the range: what numpy gives."""
    x = edge_points(name)
    ours = evaluate(name, x)
    bad = ~special_agrees(name, x, ours)
    assert not bad.any(), f"{name} at {x[bad][:5]}: {ours[bad][:5]}"


@pytest.mark.parametrize("name", ["sin", "exp", "log"])
def test_the_plan_loop_is_vectorized_at_the_host_width(name):
    """The point loop uses the widest registers the host has, and calls no libm."""
    width = jit.vector_width()
    assembly = plan_assembly(name)
    register = {8: "zmm", 4: "ymm", 2: "xmm"}[width]
    assert f"{register}" in assembly
    assert f"{name}@PLT" not in assembly


def test_names_the_published_constants():
    """The 2/pi bits and pi/2's pieces are the true constants (mpmath as the reference)."""
    from gradcli.vecmath import trig

    mpmath.mp.prec = 1500
    bits = len(trig.TWO_OVER_PI_BITS) * 4
    assert int(trig.TWO_OVER_PI_BITS, 16) == int(mpmath.floor(2 / mpmath.pi * 2 ** bits))
    mpmath.mp.prec = 300
    pieces = mpmath.mpf(trig.PIO2_1) + trig.PIO2_2 + trig.PIO2_3
    assert abs(pieces - mpmath.pi / 2) < mpmath.mpf(2) ** -158
    assert REFERENCES.keys() >= vecmath.FUNCTIONS.keys()


def test_a_target_that_does_not_vectorize_keeps_the_c_library():
    """Unvectorized, our functions would be slower than glibc's: plans call glibc there,
    and an AVX2 target still gets ours, vectorized on ymm registers."""
    avx2 = "+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt,+movbe,+popcnt,+sse4.1,+sse4.2,+ssse3"
    try:
        jit.set_target("x86-64-v3", avx2, vectorize=False)
        assert "exp@PLT" in plan_assembly("exp")
        jit.set_target("x86-64-v3", avx2)
        assembly = plan_assembly("exp")
        assert "exp@PLT" not in assembly and "ymm" in assembly and "zmm" not in assembly
        x = np.linspace(-700, 700, 10_001)
        assert np.max(ulp_errors("exp", x, evaluate("exp", x))) <= 1.0
    finally:
        jit.set_target()
