"""Timing shared by the benchmark scripts: medians, because this machine is noisy."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(action: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of `repeats` calls of `action`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(actions: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median seconds of each action, the actions taking turns, so that load hits all alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for action, kept in zip(actions, times, strict=True):
            start = time.perf_counter()
            action()
            kept.append(time.perf_counter() - start)
    return [statistics.median(kept) for kept in times]
