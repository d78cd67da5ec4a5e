"""Batch benchmark: many points, one expression, against plain numpy.

W1: the Jacobian of [cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)] over (a, b).
W2: the gradient of sum_i exp(-x_i^2)*sin(3*x_i) + log(1 + x_i^2) + sum_i x_i*x_{i+1}
    over ten scalar variables x0 ... x9.

Measured in the same run (medians; the commands of one workload run in turn):
* engine: gradcli's batched pass (values and derivatives, chunk by chunk) against
  plain numpy evaluating the same function once, without derivatives.
  Targets: <= 0.6 on W1, <= 0.75 on W2.
* CLI, CSV to CSV: `gradcli ... --points in.csv --out out.csv` against a script that
  reads the CSV with numpy.loadtxt, evaluates the function (no derivatives) and writes
  it with numpy.savetxt. Target: <= 0.35.
* CLI, CSV to CSV and Parquet to Parquet, against a pyarrow script that reads the
  points, computes the same value and derivative columns from closed forms with numpy
  and writes them with pyarrow. Target: <= 1.2.
* Peak resident memory of W1 at 10,000,000 rows, CSV to CSV and Parquet to Parquet
  (getrusage of the child process). Target: < 500 MB.

Dask (`dask_section`): `--scheduler local:2` against the single-process run over
10,000,000 points in 20 Parquet files, the same command otherwise; and the fixed
cost of a cluster run (start-up and shutdown of the LocalCluster, measured on a
one-file, 1,000-point input).

Back ends (`backends`, issue 16): at 1,000,000 points, gradcli with the numpy replay
and with the compiled loop, warm (plan recorded and compiled) and cold (recording,
then compiling or loading the cached kernel), and PyTorch eager autograd and JAX
jit where installed (`pip install '.[bench]'`), all as ratios to numpy's forward
pass in the same run; then the per-process cost of the compiled back end.
Targets, warm: W1 <= 0.2, W2 <= 0.45 (issue 20), ahead of both peers; the host's
vector width is printed with them.

Run: python benchmarks/batch.py [--points N] [--cli-points N] [--rss-points N]
     [--repeats R] [--dask-points N (0: skip)] [--dask-files F]
     [--backend-points N (0: skip)] [--only engine|cli|rss|dask|backends]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from timing import median_time

from gradcli.batch.kernel import BatchKernel
from gradcli.language import parse
from gradcli.plans import engines

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

# The same columns gradcli writes (values and derivatives, from closed forms), read and
# written with pyarrow: what a careful hand-written Arrow pipeline costs.
ARROW_SCRIPT = """
import sys, numpy as np, pyarrow as pa
fmt = sys.argv[3]
if fmt == "csv":
    import pyarrow.csv as pacsv
    table = pacsv.read_csv(sys.argv[1])
else:
    import pyarrow.parquet as pq
    table = pq.read_table(sys.argv[1])
cols = {{n: table.column(n).to_numpy() for n in table.column_names}}
{body}
out = pa.table({{"line": np.arange(1, len(next(iter(cols.values()))) + 1), **result}})
if fmt == "csv":
    pacsv.write_csv(out, sys.argv[2])
else:
    pq.write_table(out, sys.argv[2])
"""
W1_CLOSED = """a, b = cols["a"], cols["b"]
s, c, s2, c2 = np.sin(a), np.cos(a), np.sin(a + b), np.cos(a + b)
result = {"value[0]": c + 0.5*c2, "value[1]": s + 0.5*s2,
          "jac[f[0],a]": -s - 0.5*s2, "jac[f[0],b]": -0.5*s2,
          "jac[f[1],a]": c + 0.5*c2, "jac[f[1],b]": 0.5*c2}"""
W2_CLOSED = """xs = [cols[f"x{i}"] for i in range(10)]
value = sum(np.exp(-x**2)*np.sin(3*x) + np.log(1 + x**2) for x in xs)
value = value + sum(xs[i]*xs[i+1] for i in range(9))
result = {"value": value}
for i, x in enumerate(xs):
    g = np.exp(-x**2)*(3*np.cos(3*x) - 2*x*np.sin(3*x)) + 2*x/(1 + x**2)
    if i > 0:
        g = g + xs[i - 1]
    if i < 9:
        g = g + xs[i + 1]
    result[f"grad[x{i}]"] = g"""

PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _quietly(command: list[str]) -> None:
    subprocess.run(command, check=False, capture_output=True)


def _alternating(commands: list[list[str]], repeats: int) -> list[float]:
    """Median seconds of each command, run in turn so that machine noise hits all alike."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(repeats):
        for k, command in enumerate(commands):
            start = time.perf_counter()
            _quietly(command)
            times[k].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _write_points(path: str, data: np.ndarray, names: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({n: data[:, k] for k, n in enumerate(names)})
    if path.endswith(".parquet"):
        pq.write_table(table, path)
    else:
        import polars as pl

        pl.from_arrow(table).write_csv(path)  # type: ignore[union-attr]


def _peak_rss_mb(command: list[str]) -> float:
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], capture_output=True,
                          text=True, check=True)
    return int(done.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--cli-points", type=int, default=1_000_000)
    parser.add_argument("--rss-points", type=int, default=10_000_000,
                        help="rows for the peak-memory runs (0: skip them)")
    parser.add_argument("--chunk", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dask-points", type=int, default=10_000_000)
    parser.add_argument("--dask-files", type=int, default=20)
    parser.add_argument("--only", choices=("engine", "cli", "rss", "dask", "backends"),
                        default=None)
    parser.add_argument("--backend-points", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.backend_points and args.only in (None, "backends"):
        backends(args.backend_points, args.repeats)
    if args.only == "backends":
        return
    rng = np.random.default_rng(0)
    workloads = [
        ("W1", "jacobian", W1, ["a", "b"], w1_numpy, W1_BODY, W1_CLOSED),
        ("W2", "grad", W2, [f"x{i}" for i in range(10)], w2_numpy, W2_BODY, W2_CLOSED),
    ]
    if args.only in (None, "engine"):
        print(f"engine: {args.points:,} points, chunks of {args.chunk}; medians of "
              f"{args.repeats}")
        print(f"{'':4} {'gradcli s':>10} {'numpy forward s':>16} {'ratio':>7} {'target':>7}")
        for name, command, text, variables, reference, *_ in workloads:
            columns = {v: rng.uniform(-1.5, 1.5, args.points) for v in variables}
            ours = median_time(lambda c=command, t=text, p=columns: engine(c, t, p, args.chunk),
                               args.repeats)
            plain = median_time(lambda r=reference, p=columns: r(p), args.repeats)
            target = 0.6 if name == "W1" else 0.75
            verdict = "ok" if ours / plain <= target else "MISS"
            print(f"{name:4} {ours:>10.3f} {plain:>16.3f} {ours / plain:>7.2f} {target:>7} "
                  f"{verdict}")
    entry = shutil.which("gradcli", path=os.path.dirname(sys.executable)) or "gradcli"
    # what `pip install` leaves behind: byte-compiled modules (an editable install, or
    # PYTHONDONTWRITEBYTECODE, would otherwise recompile gradcli in every process)
    import compileall

    import gradcli

    compileall.compile_dir(os.path.dirname(gradcli.__file__), quiet=1)
    with tempfile.TemporaryDirectory() as folder:
        if args.only in (None, "cli"):
            _cli(args, rng, workloads, entry, folder)
        if args.only in (None, "rss") and args.rss_points:
            _rss(args, rng, entry, folder)
    if args.only in (None, "dask") and args.dask_points:
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


def _cli(args: argparse.Namespace, rng: np.random.Generator, workloads: list, entry: str,
         folder: str) -> None:
    print(f"\nCLI end to end: {args.cli_points:,} points; each command run in turn, medians "
          f"of {args.repeats}; ratios within the run")
    print(f"{'':4} {'':16} {'gradcli s':>10} {'reference s':>12} {'ratio':>7} {'target':>7}")
    for name, command, text, variables, _, body, closed in workloads:
        data = rng.uniform(-1.5, 1.5, (args.cli_points, len(variables)))
        csv_in = os.path.join(folder, f"{name}.csv")
        parquet_in = os.path.join(folder, f"{name}.parquet")
        np.savetxt(csv_in, data, delimiter=",", fmt="%.17g", header=",".join(variables),
                   comments="")
        _write_points(parquet_in, data, variables)
        scripts = {}
        for label, code in (("numpy", NUMPY_SCRIPT.format(body=body)),
                            ("arrow", ARROW_SCRIPT.format(body=closed))):
            scripts[label] = os.path.join(folder, f"{name}-{label}.py")
            with open(scripts[label], "w") as f:
                f.write(code)
        out = os.path.join(folder, f"{name}-out")
        ours_csv = [entry, command, text, "--points", csv_in, "--out", out + ".csv", "--quiet"]
        ours_parquet = [entry, command, text, "--points", parquet_in, "--out",
                        out + ".parquet", "--quiet"]
        numpy_csv = [sys.executable, scripts["numpy"], csv_in, out + "-np.csv"]
        arrow_csv = [sys.executable, scripts["arrow"], csv_in, out + "-pa.csv", "csv"]
        arrow_parquet = [sys.executable, scripts["arrow"], parquet_in, out + "-pa.parquet",
                         "parquet"]
        times = _alternating([ours_csv, numpy_csv, arrow_csv, ours_parquet, arrow_parquet],
                             args.repeats)
        rows = [("CSV->CSV", times[0], times[1], "numpy loadtxt", 0.35),
                ("CSV->CSV", times[0], times[2], "pyarrow script", 1.2),
                ("Parquet->Parquet", times[3], times[4], "pyarrow script", 1.2)]
        for label, ours, reference, against, target in rows:
            verdict = "ok" if ours / reference <= target else "MISS"
            print(f"{name:4} {label:16} {ours:>10.3f} {reference:>12.3f} "
                  f"{ours / reference:>7.2f} {'<= ' + str(target):>7} {verdict}  "
                  f"(vs {against})")


def _rss(args: argparse.Namespace, rng: np.random.Generator, entry: str, folder: str) -> None:
    print(f"\npeak resident memory, W1 at {args.rss_points:,} rows (target < 500 MB)")
    csv_in = os.path.join(folder, "big.csv")
    parquet_in = os.path.join(folder, "big.parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(csv_in, "w") as f, pq.ParquetWriter(parquet_in, pa.schema(
            [("a", pa.float64()), ("b", pa.float64())])) as parquet:
        f.write("a,b\n")
        for start in range(0, args.rss_points, 1_000_000):
            block = rng.uniform(-1.5, 1.5, (min(1_000_000, args.rss_points - start), 2))
            np.savetxt(f, block, delimiter=",", fmt="%.17g")
            parquet.write_table(pa.table({"a": block[:, 0], "b": block[:, 1]}))
    for label, source, out in (("CSV->CSV", csv_in, "big-out.csv"),
                               ("Parquet->Parquet", parquet_in, "big-out.parquet")):
        start = time.perf_counter()
        peak = _peak_rss_mb([entry, "jacobian", W1, "--points", source, "--out",
                             os.path.join(folder, out), "--quiet"])
        seconds = time.perf_counter() - start
        verdict = "ok" if peak < 500 else "MISS"
        print(f"{label:16} {peak:>8.0f} MB peak  {seconds:>7.1f} s  {verdict}")
        os.remove(os.path.join(folder, out))


# -- back ends and peers (issue 16) ------------------------------------------------------
def _warm_kernel(command: str, text: str, columns: dict[str, np.ndarray], engine: str
                 ) -> Callable[[], object]:
    """A kernel that has already recorded (and compiled) its plan: each call is warm."""
    kernel = BatchKernel(command, parse(text), {}, engine=engine,
                         points_hint=len(next(iter(columns.values()))))
    kernel.columns(columns)
    return lambda: kernel.columns(columns)


def _cold(command: str, text: str, columns: dict[str, np.ndarray], engine: str) -> None:
    """A new kernel: recording, then compiling or loading the cached kernel (as a new
    process would, apart from importing llvmlite)."""
    from gradcli.plans import jit

    jit._LOADED.clear()
    BatchKernel(command, parse(text), {}, engine=engine,
                points_hint=len(next(iter(columns.values())))).columns(columns)


def _torch_w1(torch: Any, a: Any, b: Any) -> Any:
    a, b = a.detach().requires_grad_(True), b.detach().requires_grad_(True)
    f0 = torch.cos(a) + 0.5 * torch.cos(a + b)
    f1 = torch.sin(a) + 0.5 * torch.sin(a + b)
    rows = [torch.autograd.grad(f.sum(), (a, b), retain_graph=True) for f in (f0, f1)]
    return f0, f1, rows


def _torch_w2(torch: Any, xs: list[Any]) -> Any:
    xs = [x.detach().requires_grad_(True) for x in xs]
    total = sum(torch.exp(-x**2) * torch.sin(3 * x) + torch.log(1 + x**2) for x in xs)
    total = total + sum(xs[i] * xs[i + 1] for i in range(9))
    return total, torch.autograd.grad(total.sum(), xs)


def _peers(name: str, columns: dict[str, np.ndarray], repeats: int) -> dict[str, float]:
    """PyTorch eager autograd and JAX jit, where installed (`pip install '.[bench]'`)."""
    found: dict[str, float] = {}
    try:
        import torch

        torch.set_num_threads(_threads())
        tensors = {k: torch.from_numpy(v) for k, v in columns.items()}
        if name == "W1":
            found["PyTorch eager autograd"] = median_time(
                lambda: _torch_w1(torch, tensors["a"], tensors["b"]), repeats)
        else:
            xs = [tensors[f"x{i}"] for i in range(10)]
            found["PyTorch eager autograd"] = median_time(lambda: _torch_w2(torch, xs), repeats)
    except ImportError:
        print("  (PyTorch not installed: pip install '.[bench]')")
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        if name == "W1":
            def f(p: Any) -> Any:
                a, b = p[0], p[1]
                return jnp.stack([jnp.cos(a) + 0.5 * jnp.cos(a + b),
                                  jnp.sin(a) + 0.5 * jnp.sin(a + b)])

            run = jax.jit(jax.vmap(lambda p: (f(p), jax.jacrev(f)(p))))
            data = jnp.stack([columns["a"], columns["b"]], axis=1)
        else:
            def g(p: Any) -> Any:
                return (jnp.sum(jnp.exp(-p**2) * jnp.sin(3 * p) + jnp.log(1 + p**2))
                        + jnp.sum(p[:-1] * p[1:]))

            run = jax.jit(jax.vmap(jax.value_and_grad(g)))
            data = jnp.stack([columns[f"x{i}"] for i in range(10)], axis=1)
        start = time.perf_counter()
        jax.block_until_ready(run(data))
        first = time.perf_counter() - start
        warm = median_time(lambda: jax.block_until_ready(run(data)), repeats)
        found["JAX jit(vmap(...)), compile excluded"] = warm
        found["JAX compile (once)"] = first - warm
    except ImportError:
        print("  (JAX not installed: pip install '.[bench]')")
    return found


def _threads() -> int:
    from gradcli.plans.plan import _workers

    return _workers()


PROCESS_SCRIPT = """
import sys, time
start = time.perf_counter()
import numpy as np
import gradcli.batch
columns = {name: np.linspace(-1.0, 1.0, 1000) for name in sys.argv[3].split(",")}
gradcli.batch.compute(sys.argv[1], sys.argv[2], columns, engine=sys.argv[4])
print(time.perf_counter() - start)
"""


def _process_seconds(command: str, text: str, variables: list[str], engine: str,
                     cache: str) -> float:
    done = subprocess.run([sys.executable, "-c", PROCESS_SCRIPT, command, text,
                           ",".join(variables), engine], capture_output=True, text=True,
                          check=True, env={**os.environ, "XDG_CACHE_HOME": cache})
    return float(done.stdout.strip())


BACKEND_WORKLOADS = [
    ("W1", "jacobian", W1, ["a", "b"], w1_numpy),
    ("W2", "grad", W2, [f"x{i}" for i in range(10)], w2_numpy),
]


def backends(points: int, repeats: int) -> None:
    """Each back end, warm and cold, and the peers, as ratios to numpy's forward pass."""
    rng = np.random.default_rng(0)
    print(f"\nback ends: {points:,} points, {_threads()} threads; medians of {repeats}; "
          "ratios to plain numpy's forward pass (no derivatives) in the same run")
    if engines.compiled_available():
        from gradcli.plans import jit

        width = jit.vector_width()
        print(f"  compiled plans vectorize at {width} doubles "
              f"({ {8: 'AVX-512', 4: 'AVX2', 2: 'SSE2'}.get(width, 'scalar') } on this host); "
              "their sin, exp, log ... are gradcli's own (--math accurate)")
    for name, command, text, variables, reference in BACKEND_WORKLOADS:
        columns = {v: rng.uniform(-1.5, 1.5, points) for v in variables}
        plain = median_time(lambda r=reference, p=columns: r(p), repeats)
        rows: dict[str, float] = {}
        for engine in ("numpy", "compiled"):
            if engine == "compiled" and not engines.compiled_available():
                print("  (compiled back end not installed: pip install '.[fast]')")
                continue
            rows[f"gradcli {engine}, warm"] = median_time(
                _warm_kernel(command, text, columns, engine), repeats)
            rows[f"gradcli {engine}, cold"] = median_time(
                lambda c=command, t=text, p=columns, e=engine: _cold(c, t, p, e), repeats)
        rows.update(_peers(name, columns, repeats))
        print(f"{name}: numpy forward {plain:.3f} s")
        for label, seconds in rows.items():
            print(f"  {label:40} {seconds:8.3f} s  ratio {seconds / plain:5.2f}")
        if engines.compiled_available():
            with tempfile.TemporaryDirectory() as cache:
                first = _process_seconds(command, text, variables, "compiled", cache)
                hits = [_process_seconds(command, text, variables, "compiled", cache)
                        for _ in range(repeats)]
                plains = [_process_seconds(command, text, variables, "numpy", cache)
                          for _ in range(repeats)]
            hit, numpy_only = statistics.median(hits), statistics.median(plains)
            print(f"  per process (1,000 points): numpy {numpy_only:.3f} s; compiled "
                  f"{hit:.3f} s from the cache (overhead {hit - numpy_only:+.3f} s), "
                  f"{first:.3f} s with the first compile (overhead "
                  f"{first - numpy_only:+.3f} s)")


if __name__ == "__main__":
    main()
