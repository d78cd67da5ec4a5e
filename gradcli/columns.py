"""The names of output columns, built here and nowhere else.

Single-point CSV output and batch output (every format) name the same
numbers the same way, so both call these builders:

* `value`, or `value[0]`, `value[0,1]`, ... for a non-scalar output;
* `grad[x]`, or `grad[m[0]]` for an element of a vector variable;
* `jac[f[0],a]`: output element, input element (rows are outputs);
* `hess[x,y]`: the second derivative by x then y;
* `line`, `error` and, with several inputs, `file`: the batch bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LINE = "line"
ERROR = "error"
FILE = "file"


def element_labels(name: str, shape: tuple[int, ...]) -> list[str]:
    """x -> [x]; m of shape (2,) -> [m[0], m[1]]; shape (2, 2) -> [m[0,0], m[0,1], ...]."""
    if shape == ():
        return [name]
    return [f"{name}[{','.join(str(i) for i in index)}]" for index in np.ndindex(shape)]


def value_names(shape: tuple[int, ...]) -> list[str]:
    """`value`, or one `value[i,j]` per element of a non-scalar output."""
    return element_labels("value", shape)


def grad_names(name: str, shape: tuple[int, ...]) -> list[str]:
    """`grad[x]`, or one `grad[m[i]]` per element of a vector variable."""
    return [f"grad[{label}]" for label in element_labels(name, shape)]


def jac_name(out_label: str, in_label: str) -> str:
    """`jac[f[0],a]`: the derivative of output element f[0] by input element a."""
    return f"jac[{out_label},{in_label}]"


def hess_name(a: str, b: str) -> str:
    """`hess[x,y]`: the second derivative by x then y."""
    return f"hess[{a},{b}]"


def jac_names(out_labels: Sequence[str], in_labels: Sequence[str]) -> list[str]:
    """Row by row: `jac[f[0],a]`, `jac[f[0],b]`, `jac[f[1],a]`, ..."""
    return [jac_name(o, x) for o in out_labels for x in in_labels]


def hess_names(labels: Sequence[str]) -> list[str]:
    """Row by row: `hess[x,x]`, `hess[x,y]`, `hess[y,x]`, ..."""
    return [hess_name(a, b) for a in labels for b in labels]
