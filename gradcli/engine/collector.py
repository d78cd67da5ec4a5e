"""Keeping the cycle collector out of gradcli's own loops over a graph.

The engine's graphs hold no reference cycles (a Node points at its inputs,
never at the Tensor it made), so reference counting frees them and the cycle
collector can find nothing in them. Yet every full collection rescans every
object alive, and a loop that builds or walks a graph of 100,000 ops sets off
several of them. The loops gradcli runs itself (a backward pass, evaluating a
parsed program, parsing) pause the collector; user code between ops is never
run with it paused.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The collector paused inside the block, and back on (if it was on) however it ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
