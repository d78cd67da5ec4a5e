"""Engine benchmark: ratios measured in one run, medians of repeats.

(a) Build and backpropagate a scalar graph of N ops (N = 10,000 and 100,000),
    per op, against the same arithmetic on plain numpy 0-d arrays with no graph
    and, where it is installed, against PyTorch eager building and
    backpropagating the same graph (float64, the collector on for both, runs
    interleaved). Targets: at most 12 us per op, and at most 1.0x torch at both N.
(b) Hessian of the n-dimensional Rosenbrock function (n = 10, 100, 1000)
    against the closed-form numpy Hessian. Target: at most 30x at n = 1000.

Run: python benchmarks/engine.py [--repeats R]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from timing import interleaved, median_time

import gradcli as g
from gradcli import functional


# -- (a) scalar chains ------------------------------------------------------------
def chain_engine(n: int) -> None:
    x = g.tensor(0.5, requires_grad=True)
    y = x
    # a mix of the common scalar ops: 4 ops per round
    for _ in range(n // 4):
        y = g.sin(y * 1.0001 + 0.1) - 0.05
    y.backward()


def chain_torch(n: int) -> None:
    import torch

    x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(n // 4):
        y = torch.sin(y * 1.0001 + 0.1) - 0.05
    y.backward()


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def chain_numpy(n: int) -> None:
    y = np.array(0.5)
    for _ in range(n // 4):
        y = np.sin(y * 1.0001 + 0.1) - 0.05


# -- (b) Rosenbrock Hessian ----------------------------------------------------------
def rosenbrock(x: g.Tensor) -> g.Tensor:
    return g.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian_closed_form(x: np.ndarray) -> np.ndarray:
    n = x.size
    h = np.zeros((n, n))
    diag = np.zeros(n)
    diag[:-1] += 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    diag[1:] += 200.0
    off = -400.0 * x[:-1]
    idx = np.arange(n)
    h[idx, idx] = diag
    h[idx[:-1], idx[1:]] = off
    h[idx[1:], idx[:-1]] = off
    return h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    with_torch = _torch_available()
    print("(a) scalar graph: build + backward, per op (median of interleaved repeats)")
    print(f"{'ops':>8} {'gradcli us/op':>14} {'numpy us/op':>12} {'ratio':>7} {'target':>8}"
          f"{'':5} {'torch us/op':>12} {'/torch':>7} {'target':>7}")
    for n in (10_000, 100_000):
        repeats = args.repeats if n <= 10_000 else max(3, args.repeats // 2)
        actions: list[Callable[[], object]] = [lambda n=n: chain_engine(n),
                                               lambda n=n: chain_numpy(n)]
        if with_torch:
            actions.append(lambda n=n: chain_torch(n))
        medians = [t / n * 1e6 for t in interleaved(actions, repeats)]
        engine, plain = medians[0], medians[1]
        verdict = "ok" if engine <= 12 else "MISS"
        line = (f"{n:>8} {engine:>14.2f} {plain:>12.2f} {engine / plain:>7.1f} "
                f"{'<=12us':>8} {verdict:<4}")
        if with_torch:
            ratio = engine / medians[2]
            line += (f" {medians[2]:>12.2f} {ratio:>7.2f} {'<=1.0':>7} "
                     f"{'ok' if ratio <= 1.0 else 'MISS'}")
        else:
            line += "   (torch not installed: pip install torch==2.13.0)"
        print(line)

    print("\n(b) Rosenbrock Hessian: gradcli (forward-over-reverse) vs closed form")
    print(f"{'n':>6} {'gradcli ms':>11} {'closed ms':>10} {'ratio':>7}")
    rng = np.random.default_rng(0)
    for n in (10, 100, 1000):
        x = rng.uniform(-1, 1, n)
        ours = functional.hessian(rosenbrock, g.tensor(x)).data
        reference = rosenbrock_hessian_closed_form(x)
        assert np.allclose(ours, reference, rtol=1e-12, atol=1e-9), "Hessians disagree"
        t_ours = median_time(lambda x=x: functional.hessian(rosenbrock, g.tensor(x)),
                             args.repeats)
        t_ref = median_time(lambda x=x: rosenbrock_hessian_closed_form(x), args.repeats * 5)
        target = " (target <= 30)" if n == 1000 else ""
        verdict = (" ok" if t_ours / t_ref <= 30 else " MISS") if n == 1000 else ""
        print(f"{n:>6} {t_ours * 1e3:>11.3f} {t_ref * 1e3:>10.3f} {t_ours / t_ref:>7.1f}"
              f"{target}{verdict}")


if __name__ == "__main__":
    main()
