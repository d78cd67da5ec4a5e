"""The prompt's first answer: how long `grad (x+1)*(x+2) x=2` takes once `gradcli repl`
has opened, against the same command as a whole new process.

Each run is a fresh interpreter that opens the prompt as `gradcli repl` does (imports,
warm-up), then times the first line and a second one; the shell side times the whole
`gradcli grad "(x+1)*(x+2)" x=2` process. Runs alternate between the two. Target: the
first answer under 50 ms (medians).

Run: python benchmarks/repl.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

CHILD = """
import io, json, time
from gradcli.cli.prompt import PromptSession
from gradcli.cli.repl import warm_up
start = time.perf_counter()
warm_up()
opened = time.perf_counter()
session = PromptSession()
out, err = io.StringIO(), io.StringIO()
session.handle("grad (x+1)*(x+2) x=2", out, err)
first = time.perf_counter()
session.handle("hessian x*x*y x=2 y=3 --eig", out, err)
second = time.perf_counter()
assert "∂/∂x = 7" in out.getvalue(), out.getvalue() + err.getvalue()
print(json.dumps([opened - start, first - opened, second - first]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    entry = shutil.which("gradcli", path=os.path.dirname(sys.executable)) or "gradcli"
    opens, firsts, seconds, processes = [], [], [], []
    for _ in range(args.runs):
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                              check=True)
        opened, first, second = json.loads(done.stdout)
        opens.append(opened)
        firsts.append(first)
        seconds.append(second)
        start = time.perf_counter()
        subprocess.run([entry, "grad", "(x+1)*(x+2)", "x=2"], check=True,
                       stdout=subprocess.DEVNULL)
        processes.append(time.perf_counter() - start)
    ms = 1000.0
    first = statistics.median(firsts)
    process = statistics.median(processes)
    print(f"runs: {args.runs} (medians)")
    print(f"opening the prompt (imports, warm-up): {statistics.median(opens) * ms:7.1f} ms")
    print(f"first answer at the prompt:            {first * ms:7.1f} ms   target < 50 ms: "
          f"{'met' if first < 0.05 else 'NOT met'}")
    print(f"second answer (hessian --eig):         {statistics.median(seconds) * ms:7.1f} ms")
    print(f"the same grad as a new process:        {process * ms:7.1f} ms")
    print(f"ratio first answer / new process:      {first / process:7.3f}")


if __name__ == "__main__":
    main()
