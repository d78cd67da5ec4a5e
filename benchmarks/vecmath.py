"""Our vectorized math functions: accuracy against mpmath, and speed.

Accuracy (the full version of tests/test_vecmath.py): for each function, at
least 10^6 points (random over its range and over magnitudes, plus the edges
of argument reduction: huge |x|, doubles next to multiples of pi/2,
subnormals, zeros, +-inf, NaN), computed through a compiled plan; the
largest error in ulps against mpmath at 200 bits, and where. Target: <= 1.

Speed: ns per element of a compiled plan computing f(x) over 10^6 points on
one thread, with our functions (the default, `--math accurate`) and with the
C library's scalar ones (`--math libm`, what compiled plans called before),
against numpy's own loop; at the host's vector width, and with the code
forced to AVX2 (x86-64-v3) and to scalar (no vectorization), so that a
machine without AVX-512 can be judged too.

Run: python benchmarks/vecmath.py [--points N] [--exact-checks K] [--only accuracy|speed]
     [--functions sin,exp,...]
mpmath costs about 50 us a point here, so every point is first screened against
the x87 extended-precision C library (numpy longdouble, 11 bits beyond double,
all points at once), and mpmath then checks the K worst by the screen, the
edges and K random points; the script prints how far the screen is from mpmath
where both ran.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from timing import median_time

from gradcli import vecmath
from gradcli.plans import jit
from gradcli.vecmath.accuracy import (
    NUMPY,
    compiled,
    edge_points,
    random_points,
    screening_errors,
    ulp_errors,
)

#: where each function is timed (typical arguments, no special values)
SPEED_RANGES = {"sin": (-10, 10), "cos": (-10, 10), "tan": (-1.5, 1.5), "exp": (-50, 50),
                "exp2": (-50, 50), "expm1": (-2, 2), "log": (1e-3, 1e3), "log2": (1e-3, 1e3),
                "log10": (1e-3, 1e3), "log1p": (-0.5, 10), "sinh": (-5, 5), "cosh": (-5, 5),
                "tanh": (-5, 5), "atan": (-10, 10)}


def accuracy(names: list[str], points: int, exact_checks: int) -> None:
    print(f"accuracy, {points:,} random points per function plus the edges, in ulps of the "
          "exact value: every point screened against the x87 extended-precision C library "
          f"(numpy longdouble), then mpmath (200 bits) on the {exact_checks:,} worst by the "
          f"screen, the edges and {exact_checks:,} random ones")
    rng = np.random.default_rng(2026)
    for name in names:
        start = time.perf_counter()
        edges = edge_points(name)
        x = np.concatenate([random_points(name, rng, points), edges])
        ours = compiled(name, x)[0]
        screen = screening_errors(name, x, ours)
        worst = np.argsort(screen)[-exact_checks:]
        sample = rng.choice(len(x) - len(edges), exact_checks, replace=False)
        chosen = np.unique(np.concatenate([worst, sample,
                                           np.arange(len(x) - len(edges), len(x))]))
        exact = ulp_errors(name, x[chosen], ours[chosen])
        at = int(np.argmax(exact))
        finite = np.isfinite(screen[chosen]) & np.isfinite(exact)
        drift = float(np.max(np.abs(screen[chosen] - exact)[finite]))
        print(f"  {name:6s} {len(x):>10,} points  max {exact[at]:.3f} ulp (mpmath) at "
              f"x = {x[chosen][at]!r}; screen max {np.max(screen):.3f} over all, off mpmath by "
              f"<= {drift:.3f} where both ran  "
              f"{'ok' if exact[at] <= 1.0 and np.max(screen) <= 1.0 else 'OVER 1 ULP'}  "
              f"[{time.perf_counter() - start:.0f} s]", flush=True)


def _ns_per_element(name: str, x: np.ndarray, math_mode: str, repeats: int) -> float:
    kernel = compiled(name, x[:4096], math_mode)[1].compiled_kernel
    return median_time(lambda: kernel.run([x], len(x)), repeats) / len(x) * 1e9


def speed(names: list[str], repeats: int) -> None:
    os.environ["GRADCLI_THREADS"] = "1"
    rng = np.random.default_rng(7)
    avx2 = "+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt,+movbe,+popcnt,+sse4.1,+sse4.2,+ssse3"
    variants = [("host", None, None, True), ("AVX2", "x86-64-v3", avx2, True),
                ("scalar", "x86-64-v3", avx2, False)]
    for label, cpu, features, vectorize in variants:
        jit.set_target(cpu, features, vectorize)
        print(f"\nns per element, 10^6 points, 1 thread, target {label} (where loops are not "
              "vectorized, ours means the C library too): vector width "
              f"{jit.vector_width()} doubles (host CPU features: "
              f"{'AVX-512' if '+avx512f' in jit_host_features() else 'no AVX-512'}); "
              "medians; ratio = ours / libm")
        for name in names:
            low, high = SPEED_RANGES[name]
            x = rng.uniform(low, high, 1_000_000)
            ours = _ns_per_element(name, x, "accurate", repeats)
            libm = _ns_per_element(name, x, "libm", repeats)
            function = getattr(np, NUMPY.get(name, name))
            numpy_ns = median_time(lambda f=function, a=x: f(a), repeats) / len(x) * 1e9
            print(f"  {name:6s} ours {ours:6.2f}   libm (scalar glibc) {libm:6.2f}   "
                  f"numpy {numpy_ns:6.2f}   ratio {ours / libm:.2f}", flush=True)
    jit.set_target()


def jit_host_features() -> str:
    import llvmlite.binding as llvm

    return str(llvm.get_host_cpu_features().flatten())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--exact-checks", type=int, default=10_000,
                        help="points per function checked with mpmath (worst and random)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("accuracy", "speed"))
    parser.add_argument("--functions", default=",".join(sorted(vecmath.FUNCTIONS)))
    args = parser.parse_args()
    names = args.functions.split(",")
    unknown = [n for n in names if n not in vecmath.FUNCTIONS]
    if unknown:
        sys.exit(f"unknown function(s): {', '.join(unknown)}")
    if args.only != "accuracy":
        speed(names, args.repeats)
    if args.only != "speed":
        print()
        accuracy(names, args.points, args.exact_checks)


if __name__ == "__main__":
    main()
