"""`gradcli.batch.compute`: values and derivatives at many points, from Python.

The one call the benchmark (and any script) makes: the same work as
`gradcli COMMAND EXPRESSION --points FILE`, on arrays already in memory, with
the result as named columns instead of a file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.errors import ArgumentError, UnboundVariableError

COMMANDS = ("eval", "grad", "jacobian", "hessian")


def compute(command: str, expression: str, points: Mapping[str, Any], *,
            at: Mapping[str, Any] | None = None, wrt: Sequence[str] | None = None,
            engine: str = "auto", math: str = "accurate") -> dict[str, np.ndarray]:
    """Every output column of `command` on `expression` at every point.

    `points` maps variable names to arrays with the points on the first axis
    (a vector variable of length 3 over N points has shape (N, 3)); `at` gives
    constants shared by every point; `wrt` picks the variables to differentiate
    by (default: all in `points`). The keys are the CLI's column names
    (`value`, `value[0]`, `grad[x]`, `jac[f[0],a]`, `hess[x,y]`), each an array
    of N numbers (possibly a view into a larger block). `engine` is `auto`,
    `numpy` or `compiled` (see the README's "Batch work"); `math` is where a
    compiled plan's sin, exp, ... come from: `accurate` (ours, within 1 ulp) or
    `libm` (the C library, numpy's bits).
    """
    from gradcli.batch.kernel import BatchKernel
    from gradcli.language.program import parse

    if command not in COMMANDS:
        raise ArgumentError(f"unknown batch command '{command}'",
                            hint=f"use one of: {', '.join(COMMANDS)}")
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in points.items()}
    if not arrays:
        raise ArgumentError("points is empty: give at least one variable's values")
    sizes = {name: (a.shape[0] if a.ndim else None) for name, a in arrays.items()}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        raise ArgumentError(f"every variable needs the same number of points on its first "
                            f"axis, got {sizes}")
    constants = dict(at or {})
    program = parse(expression)
    missing = [v for v in program.free_variables if v not in arrays and v not in constants]
    if missing:
        raise UnboundVariableError(f"no value for {', '.join(missing)}",
                                   hint="add it to points, or to at= for a constant")
    used = {name: a for name, a in arrays.items() if name in program.free_variables}
    if not used:
        raise ArgumentError("none of the variables in points appears in the expression")
    size = next(iter(used.values())).shape[0]
    kernel = BatchKernel(command, program, constants, wrt, engine=engine, points_hint=size,
                         math=math)
    return dict(kernel.columns(used))
