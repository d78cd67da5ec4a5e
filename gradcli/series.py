"""`gradcli taylor`: the Taylor coefficients of an expression at a point.

f(a + v t) = sum_k c_k t^k, computed by Taylor-mode AD (`gradcli.engine.taylor`:
O(N^2) per op, read from the op table) rather than by nesting derivatives. For
one variable the direction is 1, so c_k = f^(k)(a)/k!; for several, `dir`
gives v, flattened over the variables in order, and the coefficients are those
of the directional derivatives. The polynomial comes back as text in the
expression language, so it parses (and evaluates) as the truncated series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.engine.taylor import taylor_coefficients
from gradcli.errors import ArgumentError
from gradcli.results import TaylorResult
from gradcli.steps import function_of, make_leaves, nonfinite_warnings, prepare

#: the highest order `taylor` computes (each order costs O(order) per op)
MAX_ORDER = 1000


def taylor(expression: str, at: Mapping[str, Any], order: int = 5,
           dir: Any = None, wrt: Sequence[str] | None = None) -> TaylorResult:
    """The coefficients c_0..c_order of f(a + v t) in t, and f's derivatives along v
    (`dir`, the CLI's --dir; None for one scalar variable, along itself)."""
    direction = dir
    program, values, chosen, warnings = prepare(expression, at, wrt)
    if not 0 <= order <= MAX_ORDER:
        raise ArgumentError(f"--order must be between 0 and {MAX_ORDER}, not {order}")
    if not chosen:
        raise ArgumentError("the expression has no variables to expand in")
    directions = _directions(direction, [values[n] for n in chosen], chosen)
    f = function_of(program, values, chosen)
    coefficients = taylor_coefficients(f, [values[n] for n in chosen], directions, order)
    derivatives = [_times_factorial(c, k) for k, c in enumerate(coefficients)]
    warnings += nonfinite_warnings(program, program.run(make_leaves(values, [])), values)
    one_variable = direction is None
    centre = values[chosen[0]] if one_variable else None
    variable = chosen[0] if one_variable else "t"
    polynomial = None
    if coefficients[0].ndim <= 1:
        polynomial = polynomial_text(coefficients, variable,
                                     None if centre is None else float(centre))
    nonfinite = not all(np.isfinite(c).all() for c in coefficients)
    return TaylorResult("taylor", expression, values, coefficients[0], warnings,
                        nonfinite=nonfinite, order=order, variables=list(chosen),
                        direction=None if one_variable else np.concatenate(
                            [d.reshape(-1) for d in directions]),
                        coefficients=coefficients, derivatives=derivatives,
                        polynomial=polynomial, variable=variable)


def _times_factorial(c: np.ndarray, k: int) -> np.ndarray:
    """k! c without overflowing first: k! alone passes float64's range at k = 171."""
    if k <= 170:
        return c * float(math.factorial(k))
    with np.errstate(all="ignore"):
        return np.where(c == 0, 0.0, np.sign(c) * np.exp(np.log(np.abs(c)) + math.lgamma(k + 1)))


def _directions(direction: Any, points: list[np.ndarray], names: list[str]
                ) -> list[np.ndarray]:
    if direction is None:
        if len(names) > 1 or points[0].size != 1:
            raise ArgumentError(
                f"taylor of {'several variables' if len(names) > 1 else 'a vector'} needs "
                "a direction", hint="give --dir V, one number per element of the variables "
                f"({', '.join(names)}), e.g. --dir [1, 0]")
        return [np.ones(points[0].shape)]
    flat = np.asarray(direction, dtype=np.float64).reshape(-1)
    sizes = [p.size for p in points]
    if flat.size != sum(sizes):
        raise ArgumentError(f"--dir has {flat.size} numbers, but the variables "
                            f"({', '.join(names)}) have {sum(sizes)} elements",
                            hint="one number per element, in the order of the variables")
    pieces = np.split(flat, np.cumsum(sizes)[:-1])
    return [piece.reshape(p.shape) for piece, p in zip(pieces, points, strict=True)]


def _number(x: float) -> str:
    text = repr(float(x))
    if text.endswith(".0"):
        text = text[:-2]
    return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(text, text)


def polynomial_text(coefficients: Sequence[np.ndarray], variable: str,
                    centre: float | None) -> str:
    """sum c_k (x - a)^k as an expression: exact numbers, zero terms left out."""
    if coefficients[0].ndim == 1:
        return "[" + ", ".join(polynomial_text([c[i] for c in coefficients], variable, centre)
                               for i in range(coefficients[0].shape[0])) + "]"
    if centre is None or centre == 0:
        base = variable
    elif centre > 0:
        base = f"({variable} - {_number(centre)})"
    else:
        base = f"({variable} + {_number(-centre)})"
    terms: list[str] = []
    for k, c in enumerate(coefficients):
        value = float(c)
        if value == 0 and k > 0:
            continue
        power = "" if k == 0 else base if k == 1 else f"{base}^{k}"
        magnitude = _number(abs(value)) if not math.isnan(value) else "nan"
        if k == 0:
            term = _number(value)
        elif magnitude == "1":
            term = power
        else:
            term = f"{magnitude}*{power}"
        if not terms:
            terms.append(term if k == 0 or value >= 0 or math.isnan(value) else f"-{term}")
        else:
            terms.append(f" - {term}" if value < 0 else f" + {term}")
    return "".join(terms)
