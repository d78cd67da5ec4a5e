"""Products of "all the other elements", without division: shared by prod and det.

Dividing the whole product by one element gives 0/0 where that element is 0;
prefix and suffix products give the same number exactly, zeros included.
"""

from __future__ import annotations

import numpy as np


def others_along_last(flat: np.ndarray) -> np.ndarray:
    """Along the last axis: for each element, the product of the others (no division)."""
    ones = np.ones((*flat.shape[:-1], 1))
    left = np.concatenate([ones, np.cumprod(flat, axis=-1)[..., :-1]], axis=-1)
    right = np.concatenate([np.cumprod(flat[..., ::-1], axis=-1)[..., :-1][..., ::-1], ones],
                           axis=-1)
    return left * right
