"""The one helper for values that carry a leading batch axis.

Batched values (many points at once) and batched tangents (many directions
at once) both put the batch first: shape (B, *per-item shape). Two things are
needed to line them up with per-item code, and both live here:

* `pad_leading`: insert length-1 axes right after the batch axis, so numpy's
  right-aligned broadcasting matches per-item axes with per-item axes;
* `shift_axes`: per-item axes (canonical, None meaning all) as axes of the
  batched value.
"""

from __future__ import annotations

from typing import Any, TypeVar

V = TypeVar("V")


def pad_leading(value: V, item_ndim: int) -> V:
    """`value` (batch axis first) reshaped so its per-item part has `item_ndim` axes."""
    shape = value.shape  # type: ignore[attr-defined]
    missing = item_ndim - (len(shape) - 1)
    if missing <= 0:
        return value
    return value.reshape((shape[0],) + (1,) * missing + tuple(shape[1:]))  # type: ignore


def shift_axes(axes: Any, item_ndim: int) -> tuple[int, ...]:
    """Canonical per-item axes (a tuple of non-negative ints, or None for all) -> batched."""
    if axes is None:
        return tuple(range(1, item_ndim + 1))
    return tuple(a + 1 for a in axes)
