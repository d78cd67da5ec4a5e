"""`gradcli check`: autodiff against central finite differences, component by component."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.engine.tensor import Tensor
from gradcli.errors import ArgumentError
from gradcli.results import CheckResult, CheckRow
from gradcli.steps import backward, flat_labels, function_of, make_leaves, prepare, require_scalar


def check(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
          order: int = 1, rtol: float = 1e-5, atol: float = 1e-8) -> CheckResult:
    """Autodiff against central finite differences, component by component."""
    if order not in (1, 2):
        raise ArgumentError(f"--order must be 1 or 2, not {order}")
    program, values, chosen, warnings = prepare(expression, at, wrt)
    if not chosen:
        raise ArgumentError("the expression has no variables to differentiate")
    base = program.run(make_leaves(values, []))
    require_scalar(program, base.output, "check")
    f = function_of(program, values, chosen)
    flat = np.concatenate([values[n].reshape(-1) for n in chosen])
    sizes = [values[n].size for n in chosen]
    labels = [label for n in chosen for label in flat_labels(n, values[n].shape)]

    def unflatten(vector: np.ndarray) -> list[Tensor]:
        pieces, offset = [], 0
        for name, size in zip(chosen, sizes, strict=True):
            pieces.append(Tensor(vector[offset:offset + size].reshape(values[name].shape)))
            offset += size
        return pieces

    def scalar(vector: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return float(f(*unflatten(vector)).data.reshape(()))

    def gradient_at(vector: np.ndarray) -> np.ndarray:
        leaves = [t.requires_grad_(True) for t in unflatten(vector)]
        out = f(*leaves)
        grads = backward(out, leaves, None)
        return np.concatenate([np.zeros(t.size) if g is None else g.data.reshape(-1)
                               for g, t in zip(grads, leaves, strict=True)])

    rows: list[CheckRow] = []
    eps = np.finfo(np.float64).eps
    if order == 1:
        analytic = gradient_at(flat)
        for k, label in enumerate(labels):
            h = eps ** (1 / 3) * max(1.0, abs(flat[k]))
            plus, minus = flat.copy(), flat.copy()
            plus[k] += h
            minus[k] -= h
            numeric = (scalar(plus) - scalar(minus)) / (2 * h)
            rows.append(_row(f"∂/∂{label}", analytic[k], numeric, h, rtol, atol))
    else:
        from gradcli import functional

        _, _, blocks = functional.gradient_and_hessian(f, tuple(unflatten(flat)))
        matrix = np.block([[blocks[i][j].reshape(sizes[i], sizes[j])
                            for j in range(len(chosen))] for i in range(len(chosen))])
        for k in range(len(labels)):
            h = eps ** (1 / 3) * max(1.0, abs(flat[k]))
            plus, minus = flat.copy(), flat.copy()
            plus[k] += h
            minus[k] -= h
            column = (gradient_at(plus) - gradient_at(minus)) / (2 * h)
            for i, label in enumerate(labels):
                rows.append(_row(f"∂²/∂{label}∂{labels[k]}", matrix[i, k], column[i], h,
                                 rtol, atol))
    return CheckResult("check", expression, values, base.output.data, warnings,
                       nonfinite=base.nonfinite is not None, order=order, rtol=rtol,
                       atol=atol, rows=rows)


def _row(label: str, analytic: float, numeric: float, step: float, rtol: float,
         atol: float) -> CheckRow:
    error = abs(analytic - numeric)
    relative = error / abs(numeric) if numeric != 0 else (0.0 if error == 0 else np.inf)
    ok = bool(error <= atol + rtol * abs(numeric))
    return CheckRow(label, float(analytic), float(numeric), float(error), float(relative),
                    float(step), ok)
