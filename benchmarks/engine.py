"""Engine benchmark: ratios measured in one run, medians of repeats.

(a) Build and backpropagate a scalar graph of N ops (N = 10,000 and 100,000),
    per op, against the same arithmetic on plain numpy 0-d arrays with no graph
    and, where it is installed, against PyTorch eager building and
    backpropagating the same graph (float64, the collector on for both, runs
    interleaved). Targets: at most 12 us per op, and at most 1.0x torch at both N.
(b) Hessian of the n-dimensional Rosenbrock function (n = 10, 100, 1000)
    against the closed-form numpy Hessian. Target: at most 30x at n = 1000.
(c) Issue 21: the sparse Rosenbrock Hessian (pattern from the graph, 3 colours,
    3 Hessian-vector products) at n = 1,000 and 100,000 against its closed form
    (numpy: the three diagonals and their coordinates). Target: within 2x. At
    n = 1,000 against jax.jit(jax.hessian) (compiled once before timing, float64),
    where jax is installed. Target: at least 3x faster. And a dense function
    through `compute.hessian` and `compute.jacobian` with --sparse auto (detection
    runs, finds it dense) against --sparse off (today's path). Target: at most 5%
    slower.

Run: python benchmarks/engine.py [--repeats R] [--only sparse]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from timing import interleaved, median_time

import gradcli as g
from gradcli import compute, functional
from gradcli import functional_sparse as sparse


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
    parser.add_argument("--only", choices=("sparse",), help="run section (c) alone")
    args = parser.parse_args()
    if args.only == "sparse":
        sparse_section(args.repeats)
        return

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
    sparse_section(args.repeats)


# -- (c) sparse Hessians ----------------------------------------------------------------
def rosenbrock_tridiagonal(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The closed-form Hessian as coordinates: diagonal, then the two off-diagonals."""
    n = x.size
    diag = np.zeros(n)
    diag[:-1] += 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    diag[1:] += 200.0
    off = -400.0 * x[:-1]
    idx = np.arange(n)
    rows = np.concatenate((idx, idx[:-1], idx[1:]))
    cols = np.concatenate((idx, idx[1:], idx[:-1]))
    return rows, cols, np.concatenate((diag, off, off))


def _jax_hessian() -> Callable[[np.ndarray], object] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def f(x: object) -> object:
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)  # type: ignore[index]

    compiled = jax.jit(jax.hessian(f))

    def run(x: np.ndarray) -> object:
        return compiled(x).block_until_ready()  # type: ignore[attr-defined]

    return run


DENSE_EXPRESSION = "sum(sin(x))^2 + sum(x*x)*sum(cos(x))"
DENSE_JACOBIAN = "sin(x)*sum(cos(x))"


def sparse_section(repeats: int) -> None:
    print("\n(c) sparse Rosenbrock Hessian (pattern + star colouring + HVPs) vs closed form"
          " and jax")
    print(f"{'n':>8} {'gradcli ms':>11} {'closed ms':>10} {'ratio':>7} {'target':>7}"
          f"{'':5} {'jax ms':>8} {'jax/ours':>9} {'target':>7}")
    rng = np.random.default_rng(0)
    jax_run = _jax_hessian()
    for n in (1000, 100_000):
        x = rng.uniform(-1, 1, n)
        ours = sparse.sparse_hessian(rosenbrock, g.tensor(x))
        rows, cols, values = rosenbrock_tridiagonal(x)
        order = np.lexsort((cols, rows))
        assert np.array_equal(ours.rows, rows[order]) and np.array_equal(ours.cols, cols[order])
        reference = values[order]
        assert np.allclose(ours.values, reference, rtol=1e-12, atol=1e-9), "Hessians disagree"
        assert ours.colours == 3
        actions: list[Callable[[], object]] = [
            lambda x=x: sparse.sparse_hessian(rosenbrock, g.tensor(x)),
            lambda x=x: rosenbrock_tridiagonal(x)]
        if jax_run is not None and n == 1000:
            jax_run(x)  # compile
            np.testing.assert_allclose(np.asarray(jax_run(x)), ours.dense(), rtol=1e-12,
                                       atol=1e-9)
            actions.append(lambda x=x: jax_run(x))
        count = repeats * 3 if n == 1000 else repeats
        medians = interleaved(actions, count)
        ratio = medians[0] / medians[1]
        line = (f"{n:>8} {medians[0] * 1e3:>11.3f} {medians[1] * 1e3:>10.3f} {ratio:>7.1f} "
                f"{'<=2':>7} {'ok' if ratio <= 2 else 'MISS':<4}")
        if len(medians) == 3:
            speedup = medians[2] / medians[0]
            line += (f" {medians[2] * 1e3:>8.3f} {speedup:>9.2f} {'>=3':>7} "
                     f"{'ok' if speedup >= 3 else 'MISS'}")
        elif n == 1000:
            line += "   (jax not installed: pip install 'jax>=0.4')"
        print(line)
    at = {"x": rng.uniform(-1, 1, 300)}
    for command, expression in ((compute.hessian, DENSE_EXPRESSION),
                                (compute.jacobian, DENSE_JACOBIAN)):
        auto, off = interleaved([lambda c=command, e=expression: c(e, at),
                                 lambda c=command, e=expression: c(e, at, sparse="off")],
                                repeats * 8)
        slower = auto / off - 1
        print(f"dense {command.__name__}, n = 300: --sparse auto {auto * 1e3:.2f} ms, off "
              f"{off * 1e3:.2f} ms: {slower * 100:+.1f}% (target <= +5%) "
              f"{'ok' if slower <= 0.05 else 'MISS'}")


if __name__ == "__main__":
    main()
