"""Start-up benchmark: the whole `gradcli grad "(x+1)*(x+2)" x=2` process against
`python -c "import numpy, typer, rich, lark"`, the floor of merely importing the stack.

Runs alternate between the two commands (so machine noise hits both alike),
after a warm-up; medians of at least 15 runs each. Target: ratio <= 0.9.

Run: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    runs = max(15, args.runs)
    entry = shutil.which("gradcli", path=os.path.dirname(sys.executable)) or "gradcli"
    ours = [entry, "grad", "(x+1)*(x+2)", "x=2"]
    # what `pip install` leaves behind: byte-compiled modules (an editable install, or
    # PYTHONDONTWRITEBYTECODE, would otherwise recompile gradcli on every run)
    import compileall

    import gradcli

    compileall.compile_dir(os.path.dirname(gradcli.__file__), quiet=1)
    floor = [sys.executable, "-c", "import numpy, typer, rich, lark"]
    for _ in range(3):  # warm-up: file caches, and gradcli's parser cache
        wall(ours)
        wall(floor)
    ours_times, floor_times = [], []
    for _ in range(runs):
        ours_times.append(wall(ours))
        floor_times.append(wall(floor))
    a, b = statistics.median(ours_times), statistics.median(floor_times)
    print(f"gradcli grad \"(x+1)*(x+2)\" x=2   median {a * 1e3:7.1f} ms  ({runs} runs)")
    print(f"python -c 'import numpy, typer, rich, lark' median {b * 1e3:7.1f} ms")
    verdict = "ok" if a / b <= 0.9 else "MISS"
    print(f"ratio {a / b:.2f} (target <= 0.90) {verdict}")


if __name__ == "__main__":
    main()
