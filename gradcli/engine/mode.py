"""Whether operations record a graph: `no_grad` and `enable_grad`.

One process-wide switch, read on every operation, so it is a plain class
attribute rather than anything costlier. The backward pass flips it to the
value of `create_graph`, which is how a backward pass records itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class GradMode:
    enabled: bool = True


@contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    previous = GradMode.enabled
    GradMode.enabled = enabled
    try:
        yield
    finally:
        GradMode.enabled = previous


def no_grad():
    """Operations inside record no graph: results do not require grad."""
    return set_grad_enabled(False)


def enable_grad():
    """Recording back on, for instance inside a `no_grad` block."""
    return set_grad_enabled(True)


def is_grad_enabled() -> bool:
    return GradMode.enabled
