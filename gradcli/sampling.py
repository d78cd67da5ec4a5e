"""`gradcli plot`'s numbers: values and derivatives of f sampled over a range.

The drawing is `gradcli.drawing.plot`'s job; this module only samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.compute import gradient
from gradcli.engine.autograd import grad
from gradcli.engine.tensor import Tensor
from gradcli.errors import ArgumentError, ShapeError, Span
from gradcli.language.program import Program, parse


def plot(expression: str, at: Mapping[str, Any], over: Sequence[tuple[str, float, float]],
         order: int = 1, samples: int = 400, mark: Mapping[str, Any] | None = None) -> Any:
    """Values and derivatives of f over a range, all samples in one vectorised pass."""
    from gradcli.results import PlotResult

    if order not in (0, 1, 2):
        raise ArgumentError(f"--order must be 0, 1 or 2, not {order}")
    if not 1 <= len(over) <= 2:
        raise ArgumentError("give one --over NAME=LO:HI (a curve) or two (a heat map)")
    if samples < 2 or samples > 1_000_000:
        raise ArgumentError("--samples must be between 2 and 1,000,000")
    names = [name for name, _, _ in over]
    if len(set(names)) != len(names):
        raise ArgumentError("each --over needs a different variable")
    for name, lo, hi in over:
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
            raise ArgumentError(f"--over {name}={lo}:{hi}: the range needs LO < HI, both finite")
    program = parse(expression)
    for name in names:
        if name in at:
            raise ArgumentError(f"{name} is both given a value and plotted over a range",
                                hint=f"drop {name}={at[name]!r} or its --over")
        if name not in program.free_variables:
            raise ArgumentError(f"--over names '{name}', which is not a variable of the "
                                "expression", hint="the expression's variables are: "
                                + (", ".join(program.free_variables) or "none"))
    constants = {n: np.asarray(v, dtype=np.float64) for n, v in at.items()}
    if len(over) == 1:
        return _plot_curve(program, expression, constants, over[0], order, samples, mark,
                           PlotResult)
    return _plot_surface(program, expression, constants, over, samples, PlotResult)


def _sampled(program: Program, constants: dict[str, np.ndarray],
             samples: Mapping[str, Tensor], size: int) -> Tensor:
    """f at every sample through the batched interpreter: one value per sample."""
    out = program.evaluate_batched(samples, constants, size)
    if out.shape != (size,):
        raise ShapeError(
            f"plot needs a single number at each sample, and the expression gives shape "
            f"{out.shape[1:]}", span=Span(0, len(program.text)),
            hint="reduce a vector result to one number (sum, norm, an index) to plot it")
    return out


def _plot_curve(program: Program, expression: str, constants: dict[str, np.ndarray],
                over: tuple[str, float, float], order: int, samples: int,
                mark: Mapping[str, Any] | None, result_type: Any) -> Any:
    name, lo, hi = over
    xs = np.linspace(lo, hi, samples)
    x = Tensor(xs, requires_grad=True)
    series: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        out = _sampled(program, constants, {name: x}, samples)
        series["f"] = out.data
        if order >= 1:
            first = _derivative(out, x, create_graph=order >= 2)
            series["f'"] = first.data
            if order >= 2:
                series["f''"] = _derivative(first, x, create_graph=False).data
    marked = None
    if mark:
        if set(mark) != {name}:
            raise ArgumentError(f"--at marks a point on the plotted variable: --at {name}=X0")
        x0 = float(np.asarray(mark[name], dtype=np.float64).reshape(()))
        point = gradient(expression, {**constants, name: x0}, wrt=[name])
        marked = {"x": x0, "value": float(point.value), "slope": float(point.gradient[name])}
    value = series["f"]
    result = result_type("plot", expression, {**constants}, value, [], nonfinite=False,
                         over=[over], order=order, samples=xs, series=series, mark=marked)
    bad = sum(int(np.count_nonzero(~np.isfinite(v))) for v in result.drawn().values())
    if bad:  # counted as drawn: a slope left out where f is undefined is a gap too
        result.warnings.append(f"{bad} sampled values are not finite (shown as gaps)")
        result.nonfinite = True
    return result


def _derivative(out: Tensor, x: Tensor, create_graph: bool) -> Tensor:
    """Elementwise d out_i / d x_i, for all samples at once (the samples are independent)."""
    if not out.requires_grad:
        return Tensor._wrap(np.zeros(x.shape))
    (g,) = grad(out, x, grad_outputs=Tensor._wrap(np.ones(out.shape)),
                create_graph=create_graph, retain_graph=True, allow_unused=True)
    return Tensor._wrap(np.zeros(x.shape)) if g is None else g


def _plot_surface(program: Program, expression: str, constants: dict[str, np.ndarray],
                  over: Sequence[tuple[str, float, float]], samples: int,
                  result_type: Any) -> Any:
    (nx, x_lo, x_hi), (ny, y_lo, y_hi) = over
    side = min(samples, 200)
    gx, gy = np.meshgrid(np.linspace(x_lo, x_hi, side), np.linspace(y_lo, y_hi, side))
    x = Tensor(gx.reshape(-1), requires_grad=True)
    y = Tensor(gy.reshape(-1), requires_grad=True)
    with np.errstate(all="ignore"):
        flat = _sampled(program, constants, {nx: x, ny: y}, gx.size)
        if flat.requires_grad:
            gu, gv = grad(flat, [x, y], grad_outputs=Tensor._wrap(np.ones(gx.size)),
                          allow_unused=True)
        else:
            gu = gv = None
    out = Tensor._wrap(flat.data.reshape(gx.shape))
    grid = {"z": out.data,
            "u": np.zeros(gx.shape) if gu is None else gu.data.reshape(gx.shape),
            "v": np.zeros(gx.shape) if gv is None else gv.data.reshape(gx.shape)}
    bad = int(np.count_nonzero(~np.isfinite(out.data)))
    warnings = [f"{bad} sampled values are not finite (shown as gaps)"] if bad else []
    return result_type("plot", expression, {**constants}, out.data, warnings,
                       nonfinite=bad > 0, over=list(over), order=1, samples=(gx, gy),
                       series={}, grid=grid)
