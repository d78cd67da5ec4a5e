"""Batch orchestration: read a chunk of points, compute it, write it, repeat; here or on a cluster.

The layout shows the layers: `gradcli.pointfiles` reads and writes point files,
`gradcli.plans` compiles a recorded chunk into a plan, and this package schedules the
two (`run`, `kernel`, `cluster`) and holds the Python entry point `compute`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DEFAULT_CHUNK = 65536
"""Points read, computed and written at a time. Big enough that every thread gets
several replay blocks per chunk; small enough that memory stays in the tens of MB."""


def compute(command: str, expression: str, points: Mapping[str, Any], *,
            at: Mapping[str, Any] | None = None, wrt: Sequence[str] | None = None,
            engine: str = "auto", math: str = "accurate") -> dict[str, np.ndarray]:
    """Values and derivatives at many points: see `gradcli.batch.api.compute`."""
    from gradcli.batch.api import compute as run

    return run(command, expression, points, at=at, wrt=wrt, engine=engine, math=math)
