"""Taylor mode: the 20th derivative of exp(sin(x)) at a point, and how the cost grows
with the order, against nesting reverse mode (grad of grad of ... with create_graph).

Target: order 20 under 10 ms in process (median). Doubling the order should cost about
4x (O(N^2) per op); nested reverse mode grows much faster.

Run: python benchmarks/taylor.py [--repeats N]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_time

from gradcli import Tensor, grad
from gradcli.engine.taylor import taylor_coefficients
from gradcli.ops import fn


def f(x: Tensor) -> Tensor:
    return fn.exp(fn.sin(x))


def by_taylor(order: int) -> float:
    return float(taylor_coefficients(f, [np.array(0.3)], [np.array(1.0)], order)[order]) * \
        math.factorial(order)


def by_nested_reverse(order: int) -> float:
    x = Tensor(0.3, requires_grad=True)
    y = f(x)
    for _ in range(order):
        (y,) = grad(y, [x], create_graph=True)
    return float(y.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    by_taylor(20)
    print("order   taylor (ms)   nested reverse (ms)   ratio nested/taylor")
    for order in (2, 4, 6, 8, 10):
        t = median_time(lambda order=order: by_taylor(order), args.repeats)
        n = median_time(lambda order=order: by_nested_reverse(order), max(3, args.repeats // 3))
        assert math.isclose(by_taylor(order), by_nested_reverse(order), rel_tol=1e-9)
        print(f"{order:5d}   {t * 1e3:11.3f}   {n * 1e3:19.3f}   {n / t:19.1f}")
    times = {n: median_time(lambda n=n: by_taylor(n), args.repeats) for n in (10, 20, 40, 80)}
    for n, t in times.items():
        print(f"order {n:3d}: {t * 1e3:8.3f} ms" + (f"   x{t / times[n // 2]:.2f} for twice "
                                                   "the order" if n // 2 in times else ""))
    verdict = "met" if times[20] < 0.010 else "NOT met"
    print(f"20th derivative of exp(sin(x)): {times[20] * 1e3:.2f} ms (target < 10 ms: "
          f"{verdict})")


if __name__ == "__main__":
    main()
