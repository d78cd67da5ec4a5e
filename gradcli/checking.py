"""`gradcli check`: autodiff against finite differences, component by component.

The step rule (the README quotes it):

* each component k gets its own step, relative to its own size:
  h = 2^round(log2(ε^(1/5)·|x_k|)) (|x_k| taken as 1 at x_k = 0). A power of
  two keeps x ± h exact; scaling with |x_k| keeps the step inside the sign of
  x_k, so `log(x)` at 1e-8 never steps below 0, and keeps the relative
  truncation error the same at 1e-6 as at 1e6;
* at each step h the derivative is the Richardson extrapolation of two
  central differences, R(h) = (4·D(h/2) − D(h))/3, with truncation error O(h⁴);
* steps h, h/4, h/16, ... (up to 12) are tried. Each R(h) gets the error
  estimate |R(h) − R(4h)| + ε·max|f|/h (its change from the step before,
  plus rounding), and each component keeps the R with the smallest estimate,
  which is reported as `fd_error`. The search stops early once the estimate
  has grown for two steps in a row while every estimate is within 1e-6
  (relative);
* the domain comes from the ops themselves: a step at which f (or its
  gradient, for `--order 2`) is not finite at one of x ± h, x ± h/2 left the
  domain of some op, and is skipped for a smaller one. If no step works the
  component is reported as "finite difference undefined here", naming the op
  and the domain its table entry declares, and is not counted as a mismatch.

A component agrees when |autodiff − numeric| ≤ atol + rtol·|numeric|. `fd_error` is
reported but never widens that tolerance: otherwise a component the finite difference
cannot resolve (a kink, noise) would let a wrong derivative pass. A component that does
not agree and whose fd_error itself exceeds atol + rtol·|numeric| is reported as
"finite difference unresolved here" (status "unresolved"): not ok, since the check
could not confirm the derivative, with a hint to move away from a kink or loosen --rtol.
A component that agrees is ok whatever its fd_error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.columns import element_labels as flat_labels
from gradcli.engine.op import OPS
from gradcli.engine.tensor import Tensor
from gradcli.engine.watch import watch_nonfinite
from gradcli.errors import ArgumentError
from gradcli.results import CheckResult, CheckRow
from gradcli.steps import backward, function_of, make_leaves, prepare, require_scalar

EPS = float(np.finfo(np.float64).eps)
STEP_RATIO = EPS ** (1 / 5)  # about 7.4e-4: balances O(h^4) truncation against rounding
SHRINK = 4.0
TRIES = 12
SETTLED = 1e-6  # the search may stop early once every estimate is this good (relative)
UNDEFINED = "finite difference undefined here"
UNRESOLVED = "finite difference unresolved here"


def check(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
          order: int = 1, rtol: float = 1e-5, atol: float = 1e-8) -> CheckResult:
    """Autodiff against Richardson-extrapolated central differences, per component."""
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

    def value_at(vector: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return f(*unflatten(vector)).data.reshape(1)

    def gradient_at(vector: np.ndarray) -> np.ndarray:
        leaves = [t.requires_grad_(True) for t in unflatten(vector)]
        with np.errstate(all="ignore"):
            out = f(*leaves)
            grads = backward(out, leaves, None)
        return np.concatenate([np.zeros(t.size) if g is None else g.data.reshape(-1)
                               for g, t in zip(grads, leaves, strict=True)])

    rows: list[CheckRow] = []
    if order == 1:
        analytic = gradient_at(flat)
        for k, label in enumerate(labels):
            found = differentiate(value_at, flat, k)
            component = f"∂/∂{label}"
            rows.append(compare(component, analytic[k], found, 0, rtol, atol))
            warnings += _undefined_warning(component, found, value_at, flat, k)
    else:
        from gradcli import functional

        with np.errstate(all="ignore"):
            _, _, blocks = functional.gradient_and_hessian(f, tuple(unflatten(flat)))
        matrix = np.block([[blocks[i][j].reshape(sizes[i], sizes[j])
                            for j in range(len(chosen))] for i in range(len(chosen))])
        for k in range(len(labels)):
            found = differentiate(gradient_at, flat, k)
            for i, label in enumerate(labels):
                component = f"∂²/∂{label}∂{labels[k]}"
                rows.append(compare(component, matrix[i, k], found, i, rtol, atol))
            warnings += _undefined_warning(f"column ∂/∂{labels[k]} of the Hessian", found,
                                           gradient_at, flat, k)
    warnings += [_unresolved_warning(row) for row in rows if row.status == "unresolved"]
    return CheckResult("check", expression, values, base.output.data, warnings,
                       nonfinite=base.nonfinite is not None, order=order, rtol=rtol,
                       atol=atol, rows=rows)


class Difference:
    """A finite-difference derivative along one axis: estimate, error estimate, step.

    `estimate` is None when no step kept f finite (the difference is undefined)."""

    __slots__ = ("error", "estimate", "step")

    def __init__(self, estimate: np.ndarray | None, error: np.ndarray | None, step: float):
        self.estimate = estimate
        self.error = error
        self.step = step


def first_step(x: float) -> float:
    """ε^(1/5)·|x| rounded to a power of two (|x| read as 1 at 0 or where it is not finite)."""
    size = abs(x) if x != 0 and np.isfinite(x) else 1.0
    return float(2.0 ** np.round(np.log2(STEP_RATIO * size)))


def differentiate(g: Callable[[np.ndarray], np.ndarray], x: np.ndarray, k: int) -> Difference:
    """d g / d x_k by Richardson extrapolation of central differences, inside g's domain.

    Steps h0, h0/4, h0/16, ... are tried. The extrapolation R(h) at each has the error
    estimate |R(h) - R(4h)| (its change from the step before) plus the rounding
    ε·max|g|/h; each entry keeps the R with the smallest estimate. A step where g is not
    finite left some op's domain and is skipped. The search stops once the estimate has
    grown for two steps in a row (rounding has taken over) and is already good."""
    h = first_step(float(x[k]))
    best: np.ndarray | None = None
    best_error: np.ndarray | None = None
    best_step = h
    previous: np.ndarray | None = None
    worse = 0
    for _ in range(TRIES):
        samples = []
        for offset in (h, -h, h / 2, -h / 2):
            moved = x.copy()
            moved[k] += offset
            samples.append(g(moved))
        if not all(np.all(np.isfinite(s)) for s in samples):
            if previous is not None:
                break  # finite before, not now: the steps are only getting worse
            h /= SHRINK
            continue
        wide = (samples[0] - samples[1]) / (2 * h)
        narrow = (samples[2] - samples[3]) / h
        estimate = (4 * narrow - wide) / 3
        change = np.abs(estimate - (narrow if previous is None else previous))
        error = change + EPS * np.max(np.abs(samples), axis=0) / h
        if best is None or best_error is None:
            best, best_error, best_step = estimate, error, h
        else:
            better = error < best_error
            worse = 0 if better.any() else worse + 1
            best = np.where(better, estimate, best)
            best_error = np.where(better, error, best_error)
            if better.all():
                best_step = h
        previous = estimate
        if worse >= 2 and np.all(best_error <= SETTLED * np.abs(best)):
            break
        h /= SHRINK
    if best is None:
        return Difference(None, None, h * SHRINK)
    return Difference(best, best_error, best_step)


def compare(label: str, analytic: float, found: Difference, index: int, rtol: float,
         atol: float) -> CheckRow:
    if found.estimate is None:
        return CheckRow(label, float(analytic), float("nan"), float("nan"), float("nan"),
                        found.step, True, status="undefined")
    numeric = float(found.estimate[index])
    error = abs(analytic - numeric)
    relative = error / abs(numeric) if numeric != 0 else (0.0 if error == 0 else np.inf)
    fd_error = float(found.error[index]) if found.error is not None else 0.0
    tolerance = atol + rtol * abs(numeric)
    ok = bool(error <= tolerance)
    # a disagreement the difference cannot resolve is still not ok, but it is not
    # evidence of a wrong derivative either: it gets its own status
    status = "ok" if ok else "unresolved" if fd_error > tolerance else "mismatch"
    return CheckRow(label, float(analytic), numeric, float(error), float(relative),
                    found.step, ok, status=status, fd_error=fd_error)


def _unresolved_warning(row: CheckRow) -> str:
    """Why an unresolved component is not ok, and what to try instead."""
    return (f"{UNRESOLVED} for {row.component}: the finite difference's own error "
            f"estimate ({row.fd_error:.3g}) exceeds the tolerance, so autodiff "
            f"({row.autodiff:.6g}) could not be confirmed; try a point away from a kink "
            "or a looser --rtol")


def _undefined_warning(component: str, found: Difference,
                       g: Callable[[np.ndarray], np.ndarray], x: np.ndarray, k: int
                       ) -> list[str]:
    """Why a difference is undefined: the op whose domain the smallest step still left."""
    if found.estimate is not None:
        return []
    reason = ""
    for offset in (found.step, -found.step):
        moved = x.copy()
        moved[k] += offset
        with watch_nonfinite() as log:
            g(moved)
        event = log.first
        if event is not None:
            op = OPS.get(event.op)
            domain = f" ({op.domain})" if op is not None and op.domain else ""
            reason = f": a step of {offset:+.3g} leaves the domain of {event.op}{domain}"
            break
    return [f"{UNDEFINED} for {component}{reason or ': f is not finite on either side'}; "
            "not compared"]
