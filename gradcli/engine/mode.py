"""Whether operations record a graph: `no_grad` and `enable_grad`.

Read on every operation, so it lives in the engine's context-local state
(`gradcli.engine.state`). The backward pass switches it to the value of
`create_graph`, which is how a backward pass records itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gradcli.engine.state import changed, current


@contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    with changed(grad=bool(enabled)):
        yield


def no_grad():
    """Operations inside record no graph: results do not require grad."""
    return set_grad_enabled(False)


def enable_grad():
    """Recording back on, for instance inside a `no_grad` block."""
    return set_grad_enabled(True)


def is_grad_enabled() -> bool:
    return bool(current().grad)
