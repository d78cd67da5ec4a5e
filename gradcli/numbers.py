"""Numbers in strict JSON: RFC 8259 has no NaN or infinity, so they become strings."""

from __future__ import annotations

import math


def json_number(x: float) -> float | str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x
