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

Run: python benchmarks/vecmath.py [--points N] [--jobs J] [--only accuracy|speed]
     [--functions sin,exp,...]
(mpmath is slow: 10^6 points per function take about a minute per core.)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time

import numpy as np
from timing import median_time

from gradcli import vecmath
from gradcli.plans import jit
from gradcli.vecmath.accuracy import NUMPY, compiled, edge_points, random_points, ulp_errors

#: where each function is timed (typical arguments, no special values)
SPEED_RANGES = {"sin": (-10, 10), "cos": (-10, 10), "tan": (-1.5, 1.5), "exp": (-50, 50),
                "exp2": (-50, 50), "expm1": (-2, 2), "log": (1e-3, 1e3), "log2": (1e-3, 1e3),
                "log10": (1e-3, 1e3), "log1p": (-0.5, 10), "sinh": (-5, 5), "cosh": (-5, 5),
                "tanh": (-5, 5), "atan": (-10, 10)}


def _errors(job: tuple[str, np.ndarray, np.ndarray]) -> np.ndarray:
    return ulp_errors(*job)


def accuracy(names: list[str], points: int, jobs: int) -> None:
    print(f"accuracy against mpmath (200 bits), {points:,} random points per function "
          "plus the edges; ulp of the exact value")
    rng = np.random.default_rng(2026)
    with multiprocessing.Pool(jobs) as pool:
        for name in names:
            start = time.perf_counter()
            edges = edge_points(name)
            x = np.concatenate([random_points(name, rng, points), edges])
            ours = compiled(name, x)[0]
            parts = np.array_split(np.arange(len(x)), max(1, jobs * 8))
            errors = np.concatenate(pool.map(_errors, [(name, x[p], ours[p]) for p in parts]))
            worst = int(np.argmax(errors))
            edge_worst = float(np.max(errors[-len(edges):]))
            print(f"  {name:6s} {len(x):>10,} points  max {errors[worst]:.3f} ulp at "
                  f"x = {x[worst]!r}  (edges alone: {edge_worst:.3f}; "
                  f"{'ok' if errors[worst] <= 1.0 else 'OVER 1 ULP'})  "
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
        print(f"\nns per element, 10^6 points, 1 thread, target {label}: vector width "
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
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
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
        accuracy(names, args.points, args.jobs)


if __name__ == "__main__":
    main()
