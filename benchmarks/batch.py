"""Batch benchmark: many points, one expression, against plain numpy.

W1: the Jacobian of [cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)] over (a, b).
W2: the gradient of sum_i exp(-x_i^2)*sin(3*x_i) + log(1 + x_i^2) + sum_i x_i*x_{i+1}
    over ten scalar variables x0 ... x9.

Two ratios each, measured in the same run (medians):
* engine: gradcli's batched pass (values and derivatives, chunk by chunk) against
  plain numpy evaluating the same function once, without derivatives.
  Targets: <= 0.6 on W1, <= 0.75 on W2.
* CLI: `gradcli ... --points in.csv --out out.csv` against a script that reads the
  CSV with numpy.loadtxt, evaluates the function with numpy and writes it with
  numpy.savetxt. Target: below 1.

Dask (`dask_section`): `--scheduler local:2` against the single-process run over
10,000,000 points in 20 Parquet files, the same command otherwise; and the fixed
cost of a cluster run (start-up and shutdown of the LocalCluster, measured on a
one-file, 1,000-point input).

Run: python benchmarks/batch.py [--points N] [--cli-points N] [--repeats R]
                                [--dask-points N (0: skip)] [--dask-files F]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from timing import median_time

from gradcli.batch.kernel import BatchKernel
from gradcli.language import parse

W1 = "[cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)]"
W2 = (" + ".join(f"exp(-x{i}^2)*sin(3*x{i}) + log(1 + x{i}^2)" for i in range(10)) + " + "
      + " + ".join(f"x{i}*x{i + 1}" for i in range(9)))


def w1_numpy(columns: dict[str, np.ndarray]) -> np.ndarray:
    a, b = columns["a"], columns["b"]
    return np.stack([np.cos(a) + 0.5 * np.cos(a + b), np.sin(a) + 0.5 * np.sin(a + b)],
                    axis=1)


def w2_numpy(columns: dict[str, np.ndarray]) -> np.ndarray:
    xs = [columns[f"x{i}"] for i in range(10)]
    total = sum(np.exp(-x**2) * np.sin(3 * x) + np.log(1 + x**2) for x in xs)
    return total + sum(xs[i] * xs[i + 1] for i in range(9))  # type: ignore[no-any-return]



def engine(command: str, text: str, columns: dict[str, np.ndarray], chunk: int) -> None:
    kernel = BatchKernel(command, parse(text), {})
    total = next(iter(columns.values())).shape[0]
    for start in range(0, total, chunk):
        kernel.columns({n: v[start:start + chunk] for n, v in columns.items()})


NUMPY_SCRIPT = """
import sys, numpy as np
data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
{body}
np.savetxt(sys.argv[2], result, delimiter=",", fmt="%.17g")
"""
W1_BODY = ("a, b = data[:, 0], data[:, 1]\n"
           "result = np.stack([np.cos(a) + 0.5*np.cos(a+b), np.sin(a) + 0.5*np.sin(a+b)], 1)")
W2_BODY = ("xs = [data[:, i] for i in range(10)]\n"
           "result = sum(np.exp(-x**2)*np.sin(3*x) + np.log(1 + x**2) for x in xs)"
           " + sum(xs[i]*xs[i+1] for i in range(9))")


def _quietly(command: list[str]) -> None:
    subprocess.run(command, check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--cli-points", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dask-points", type=int, default=10_000_000)
    parser.add_argument("--dask-files", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    workloads = [
        ("W1", "jacobian", W1, ["a", "b"], w1_numpy, W1_BODY),
        ("W2", "grad", W2, [f"x{i}" for i in range(10)], w2_numpy, W2_BODY),
    ]
    print(f"engine: {args.points:,} points, chunks of {args.chunk}; medians of {args.repeats}")
    print(f"{'':4} {'gradcli s':>10} {'numpy forward s':>16} {'ratio':>7} {'target':>7}")
    for name, command, text, variables, reference, _ in workloads:
        columns = {v: rng.uniform(-1.5, 1.5, args.points) for v in variables}
        ours = median_time(lambda c=command, t=text, p=columns: engine(c, t, p, args.chunk),
                           args.repeats)
        plain = median_time(lambda r=reference, p=columns: r(p), args.repeats)
        target = 0.6 if name == "W1" else 0.75
        verdict = "ok" if ours / plain <= target else "MISS"
        print(f"{name:4} {ours:>10.3f} {plain:>16.3f} {ours / plain:>7.2f} {target:>7} "
              f"{verdict}")

    entry = shutil.which("gradcli", path=os.path.dirname(sys.executable)) or "gradcli"
    print(f"\nCLI end to end, CSV to CSV: {args.cli_points:,} points; medians of "
          f"{args.repeats}")
    print(f"{'':4} {'gradcli s':>10} {'numpy script s':>15} {'ratio':>7} {'target':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for name, command, text, variables, _, body in workloads:
            points = os.path.join(folder, f"{name}.csv")
            data = rng.uniform(-1.5, 1.5, (args.cli_points, len(variables)))
            np.savetxt(points, data, delimiter=",", fmt="%.17g", header=",".join(variables),
                       comments="")
            script = os.path.join(folder, f"{name}.py")
            with open(script, "w") as f:
                f.write(NUMPY_SCRIPT.format(body=body))
            ours_cmd = [entry, command, text, "--points", points, "--out",
                        os.path.join(folder, f"{name}-out.csv"), "--quiet"]
            numpy_cmd = [sys.executable, script, points, os.path.join(folder, f"{name}-np.csv")]
            ours = median_time(lambda c=ours_cmd: _quietly(c), args.repeats)
            plain = median_time(lambda c=numpy_cmd: _quietly(c), args.repeats)
            verdict = "ok" if ours < plain else "MISS"
            print(f"{name:4} {ours:>10.3f} {plain:>15.3f} {ours / plain:>7.2f} {'< 1':>7} "
                  f"{verdict}")
    if args.dask_points:
        dask_section(entry, args.dask_points, args.dask_files, args.repeats)


def _parquet_inputs(folder: str, rows: int, files: int) -> str:
    """W1 points (a, b) in `files` Parquet files; the glob that names them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    os.makedirs(folder)
    for k, size in enumerate(np.diff(np.linspace(0, rows, files + 1).astype(int))):
        pq.write_table(pa.table({"a": rng.uniform(-1.5, 1.5, size),
                                 "b": rng.uniform(-1.5, 1.5, size)}),
                       os.path.join(folder, f"part-{k:03d}.parquet"))
    return os.path.join(folder, "*.parquet")


def _timed_runs(entry: str, points: str, folder: str, repeats: int) -> tuple[float, float]:
    """Median seconds of the single-process run and of the `--scheduler local:2` run."""
    single = [entry, "jacobian", W1, "--points", points, "--out",
              os.path.join(folder, "single.parquet"), "--quiet"]
    cluster = [entry, "jacobian", W1, "--points", points, "--scheduler", "local:2",
               "--overwrite", "--out", os.path.join(folder, "parts"), "--quiet"]
    for command in (single, cluster):  # a failed run would time nothing: show why
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[:2])} ... failed: {done.stderr.strip()}")
    return (median_time(lambda: _quietly(single), repeats),
            median_time(lambda: _quietly(cluster), repeats))


def dask_section(entry: str, rows: int, files: int, repeats: int) -> None:
    """Dask with `--scheduler local:2` against the single-process run, and its fixed cost."""
    print(f"\nDask, --scheduler local:2 (2 worker processes): W1 over {rows:,} points in "
          f"{files} Parquet files, Parquet parts out; medians of {repeats}")
    with tempfile.TemporaryDirectory() as folder:
        small = _timed_runs(entry, _parquet_inputs(os.path.join(folder, "small"), 1000, 1),
                            folder, repeats)
        big = _timed_runs(entry, _parquet_inputs(os.path.join(folder, "big"), rows, files),
                          folder, repeats)
    print(f"{'':12} {'single s':>9} {'local:2 s':>10} {'ratio':>7}")
    print(f"{f'{rows:,}':>12} {big[0]:>9.3f} {big[1]:>10.3f} {big[1] / big[0]:>7.2f}")
    print(f"{'1,000':>12} {small[0]:>9.3f} {small[1]:>10.3f}   fixed cost of a cluster run: "
          f"{small[1] - small[0]:.2f} s (LocalCluster start-up and shutdown)")


if __name__ == "__main__":
    main()
