"""Which back end runs a batch: the numpy replay, the compiled loop, or `auto`'s pick.

`--engine` (or `GRADCLI_ENGINE`) names one of `ENGINES`. The compiled back end
needs the optional extra `gradcli[fast]` (llvmlite); without it `auto` is the
numpy replay and asking for `compiled` is an error naming the extra.

`auto` compiles only where the work repays the compiled back end's fixed
cost per process (importing llvmlite and loading the kernel from the cache,
about 0.2 s; a first compile costs 0.1-1 s more, once per expression). The
work is counted as points times plan steps; `AUTO_MIN_WORK` was measured with
`benchmarks/batch.py --threshold` on two shared cores: below it the numpy
replay finishes first even against a cached kernel.
"""

from __future__ import annotations

import importlib.util
import os

from gradcli.errors import ArgumentError

ENGINES = ("auto", "numpy", "compiled")
EXTRA = "gradcli[fast]"
AUTO_MIN_WORK = 400_000_000
"""Points x plan steps from which `auto` compiles."""


def requested(engine: str | None = None) -> str:
    """The engine asked for: numpy or compiled if named, else `GRADCLI_ENGINE`, else auto.

    `auto` (the default everywhere) defers to the environment variable, so a
    setting in the environment reaches every run that does not name an engine."""
    choice = (engine or "auto").strip().lower()
    if choice == "auto":
        choice = (os.environ.get("GRADCLI_ENGINE") or "auto").strip().lower()
    if choice not in ENGINES:
        raise ArgumentError(f"unknown engine '{choice}'",
                            hint=f"use one of: {', '.join(ENGINES)} (--engine or "
                                 "GRADCLI_ENGINE)")
    if choice == "compiled" and not compiled_available():
        raise ArgumentError(f"the compiled engine needs the optional extra {EXTRA}",
                            hint=f"install it with: pip install '{EXTRA}', or use "
                                 "--engine numpy")
    return choice


def compiled_available() -> bool:
    """Whether llvmlite can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec("llvmlite") is not None
    except (ImportError, ValueError):
        return False


def worth_compiling(points: int, steps: int) -> bool:
    return points * steps >= AUTO_MIN_WORK


def may_compile(engine: str | None) -> bool:
    """Whether a run with this engine setting could use the compiled back end."""
    return requested(engine) != "numpy" and compiled_available()
