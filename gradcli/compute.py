"""One function per command: expression and bindings in, a result object out.

This is the library the CLI stands on; it knows nothing of Typer, Rich or the
terminal. Every user mistake surfaces as a `GradcliError` (with a span into
the expression where there is one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.engine.autograd import grad
from gradcli.engine.tensor import Tensor
from gradcli.engine.watch import watch_nonfinite
from gradcli.errors import ArgumentError, GradcliError, ShapeError, Span
from gradcli.language.program import Program, parse
from gradcli.results import (
    CheckResult,
    CheckRow,
    EvalResult,
    FunctionRow,
    FunctionsResult,
    GradResult,
    GraphResult,
    GraphRow,
    HessianResult,
    JacobianResult,
)


class NotScalarError(GradcliError):
    kind = "not-scalar"


# -- shared steps ----------------------------------------------------------------------
def _prepare(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None
             ) -> tuple[Program, dict[str, np.ndarray], list[str], list[str]]:
    program = parse(expression)
    values = {name: np.asarray(v, dtype=np.float64) for name, v in at.items()}
    program.check_bindings(values)
    warnings = [f"{name} is not used by the expression" for name in values
                if name not in program.free_variables]
    free = program.free_variables
    if wrt is None:
        chosen = list(free)
    else:
        chosen = []
        for name in wrt:
            if name not in free:
                known = ", ".join(free) or "none"
                raise ArgumentError(
                    f"--wrt names '{name}', which is not a variable of the expression",
                    hint=f"the expression's variables are: {known}")
            if name not in chosen:
                chosen.append(name)
    ordered = {name: values[name] for name in free}
    return program, ordered, chosen, warnings


def _leaves(at: dict[str, np.ndarray], wrt: Sequence[str]) -> dict[str, Tensor]:
    return {name: Tensor(value, requires_grad=name in wrt) for name, value in at.items()}


def describe_point(at: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"{name} = {_short(value)}" for name, value in at.items())


def _short(value: np.ndarray) -> str:
    if value.size == 1:
        return f"{value.reshape(()).item():.6g}"
    return np.array2string(value, precision=6, separator=", ", threshold=8)


def flat_labels(name: str, shape: tuple[int, ...]) -> list[str]:
    """x -> [x]; m of shape (2,) -> [m[0], m[1]]; shape (2, 2) -> [m[0,0], m[0,1], ...]."""
    if shape == ():
        return [name]
    return [f"{name}[{','.join(str(i) for i in index)}]" for index in np.ndindex(shape)]


def _nonfinite_warnings(program: Program, evaluation: Any, at: Mapping[str, np.ndarray]
                        ) -> list[str]:
    if evaluation.nonfinite is not None:
        return [evaluation.nonfinite.message(describe_point(at))]
    return []


def _check_derivatives(named: Mapping[str, np.ndarray], log: Any, what: str) -> list[str]:
    bad = [name for name, value in named.items() if not np.all(np.isfinite(value))]
    if not bad:
        return []
    where = ""
    event = log.first
    if event is not None and event.context is not None:
        label = getattr(event.context, "label", None) or event.context.name()
        seen = ", ".join(_short(np.asarray(a)) for a in event.inputs)
        where = f"; it first appears in the derivative of {label} (values seen: {seen})"
    return [f"{what} with respect to {', '.join(bad)} is not finite{where}"]


def _require_scalar(program: Program, output: Tensor, command: str) -> None:
    if output.size != 1:
        raise NotScalarError(
            f"{command} needs a scalar output, but the expression gives shape {output.shape}",
            span=Span(0, len(program.text)),
            hint="pass --seed VALUE (of the output's shape) to get seedᵀJ, as backward(gradient) "
                 "does, or use 'gradcli jacobian' for the whole matrix")


def _seed_for(program: Program, output: Tensor, seed: Any, command: str) -> np.ndarray | None:
    """The seed v of vᵀJ: required (and shape-checked) for a non-scalar output."""
    if seed is None:
        _require_scalar(program, output, command)
        return None
    seed_array = np.asarray(seed, dtype=np.float64)
    if seed_array.shape != output.shape:
        raise ShapeError(f"--seed has shape {seed_array.shape} but the output has shape "
                         f"{output.shape}", hint="give a seed of exactly the output's shape")
    return seed_array


# -- commands ----------------------------------------------------------------------------
def evaluate(expression: str, at: Mapping[str, Any]) -> EvalResult:
    program, values, _, warnings = _prepare(expression, at, [])
    evaluation = program.run(_leaves(values, []))
    warnings += _nonfinite_warnings(program, evaluation, values)
    return EvalResult("eval", expression, values, evaluation.output.data, warnings,
                      nonfinite=evaluation.nonfinite is not None or
                      not np.all(np.isfinite(evaluation.output.data)))


def gradient(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
             seed: Any = None) -> GradResult:
    program, values, chosen, warnings = _prepare(expression, at, wrt)
    leaves = _leaves(values, chosen)
    with watch_nonfinite() as log:
        evaluation = program.run(leaves)
        output = evaluation.output
        seed_array = _seed_for(program, output, seed, "grad")
        grads = _backward(output, [leaves[n] for n in chosen], seed_array)
    gradient_arrays = {}
    for name, g in zip(chosen, grads, strict=True):
        gradient_arrays[name] = np.zeros(values[name].shape) if g is None else g.data
    unused = [name for name, g in zip(chosen, grads, strict=True) if g is None]
    if unused:
        warnings.append(f"no gradient reached {', '.join(unused)} (the path is detached or "
                        "the variable does not affect the output): reported as 0")
    warnings += _nonfinite_warnings(program, evaluation, values)
    warnings += _check_derivatives(gradient_arrays, log, "the gradient")
    nonfinite = evaluation.nonfinite is not None or not np.isfinite(output.data).all() or \
        any(not np.isfinite(v).all() for v in gradient_arrays.values())
    return GradResult("grad", expression, values, output.data, warnings, nonfinite=nonfinite,
                      gradient=gradient_arrays, seed=seed_array)


def _backward(output: Tensor, inputs: list[Tensor], seed: np.ndarray | None
              ) -> tuple[Tensor | None, ...]:
    if not inputs:
        return ()
    if not output.requires_grad:
        return (None,) * len(inputs)
    return grad(output, inputs, grad_outputs=None if seed is None else Tensor._wrap(seed),
                allow_unused=True)


def _function_of(program: Program, values: dict[str, np.ndarray], chosen: list[str]
                 ) -> Callable[..., Tensor]:
    constants = {name: Tensor(v) for name, v in values.items() if name not in chosen}

    def f(*xs: Tensor) -> Tensor:
        return program.evaluate({**constants, **dict(zip(chosen, xs, strict=True))})

    return f


def hessian(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
            eig: bool = False) -> HessianResult:
    from gradcli import functional

    program, values, chosen, warnings = _prepare(expression, at, wrt)
    f = _function_of(program, values, chosen)
    evaluation = program.run(_leaves(values, []))
    _require_scalar(program, evaluation.output, "hessian")
    if not chosen:
        raise ArgumentError("the expression has no variables to differentiate")
    with watch_nonfinite() as log:
        value, grads, blocks = functional.gradient_and_hessian(
            f, tuple(Tensor(values[n]) for n in chosen))
    sizes = [values[n].size for n in chosen]
    matrix = np.block([[blocks[i][j].reshape(sizes[i], sizes[j]) for j in range(len(chosen))]
                       for i in range(len(chosen))]) if chosen else np.zeros((0, 0))
    labels = [label for n in chosen for label in flat_labels(n, values[n].shape)]
    gradient_arrays = dict(zip(chosen, grads, strict=True))
    warnings += _nonfinite_warnings(program, evaluation, values)
    warnings += _check_derivatives(gradient_arrays, log, "the gradient")
    warnings += _check_derivatives({"the variables": matrix}, log, "the Hessian")
    eigenvalues = classification = None
    if eig:
        eigenvalues, classification = classify(matrix, grads)
    return HessianResult("hessian", expression, values, value.data, warnings,
                         nonfinite=not (np.all(np.isfinite(matrix)) and np.isfinite(
                             value.data).all()),
                         gradient=gradient_arrays, labels=labels, hessian=matrix,
                         eigenvalues=eigenvalues, classification=classification)


def classify(matrix: np.ndarray, grads: Sequence[np.ndarray]) -> tuple[np.ndarray, str]:
    """Eigenvalues of the Hessian, and what kind of point that makes a critical point."""
    if not np.all(np.isfinite(matrix)):
        return np.full(matrix.shape[0], np.nan), "undetermined (the Hessian is not finite)"
    eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    scale = max(1.0, float(np.max(np.abs(eigenvalues))) if eigenvalues.size else 1.0)
    tol = 1e-9 * scale
    gradient_norm = max((float(np.max(np.abs(g))) for g in grads if g.size), default=0.0)
    if gradient_norm > 1e-9 * max(1.0, scale):
        return eigenvalues, "not a critical point (the gradient is not zero)"
    if np.all(eigenvalues > tol):
        return eigenvalues, "local minimum"
    if np.all(eigenvalues < -tol):
        return eigenvalues, "local maximum"
    if np.any(eigenvalues > tol) and np.any(eigenvalues < -tol):
        return eigenvalues, "saddle point"
    return eigenvalues, "degenerate (a zero eigenvalue: the second-order test cannot tell)"


def jacobian(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
             mode: str = "auto") -> JacobianResult:
    from gradcli import functional

    if mode not in ("auto", "forward", "reverse"):
        raise ArgumentError(f"--mode must be auto, forward or reverse, not '{mode}'")
    program, values, chosen, warnings = _prepare(expression, at, wrt)
    if not chosen:
        raise ArgumentError("the expression has no variables to differentiate")
    evaluation = program.run(_leaves(values, []))
    output = evaluation.output
    n_in = sum(values[n].size for n in chosen)
    used = mode if mode != "auto" else ("forward" if n_in <= output.size else "reverse")
    with watch_nonfinite() as log:
        blocks = functional.jacobian(_function_of(program, values, chosen),
                                     tuple(Tensor(values[n]) for n in chosen),
                                     strategy="forward" if used == "forward" else "reverse")
    matrix = np.hstack([b.data.reshape(output.size, values[n].size)
                        for b, n in zip(blocks, chosen, strict=True)])
    labels = [label for n in chosen for label in flat_labels(n, values[n].shape)]
    outputs = output_labels(program, output.shape)
    warnings += _nonfinite_warnings(program, evaluation, values)
    warnings += _check_derivatives({"the variables": matrix}, log, "the Jacobian")
    return JacobianResult("jacobian", expression, values, output.data, warnings,
                          nonfinite=not (np.all(np.isfinite(matrix)) and
                                         np.isfinite(output.data).all()),
                          outputs=outputs, labels=labels, jacobian=matrix, mode=used)


def output_labels(program: Program, shape: tuple[int, ...]) -> list[str]:
    """f for a scalar output, f[0], f[1], ... for a vector, f[i,j] for a matrix."""
    return flat_labels("f", shape)


def graph(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
          seed: Any = None, retain_grad: bool = False) -> GraphResult:
    program, values, chosen, warnings = _prepare(expression, at, wrt)
    leaves = _leaves(values, chosen)
    evaluation = program.run(leaves)
    output = evaluation.output
    seed_array = _seed_for(program, output, seed, "graph")
    tensors = _unique([*evaluation.values, output])
    if retain_grad:
        for t in tensors:
            if not t.is_leaf:
                t.retain_grad()
    if output.requires_grad:
        output.backward(None if seed_array is None else Tensor._wrap(seed_array))
    rows = []
    labels = {id(v): program.label(i) for i, v in zip(program.instructions, evaluation.values,
                                                       strict=True)}
    for t in tensors:
        node = t.grad_fn
        label = labels.get(id(t)) or (node.label if node is not None else None) or "output"
        instruction_op = node.op.name if node is not None else (
            "variable" if t.requires_grad or (t.label in values) else "constant")
        rows.append(GraphRow(label, instruction_op, node.name() if node is not None else None,
                             t.shape, t.data, t.requires_grad, t.is_leaf,
                             None if t.grad is None else t.grad.data))
    warnings += _nonfinite_warnings(program, evaluation, values)
    return GraphResult("graph", expression, values, output.data, warnings,
                       nonfinite=evaluation.nonfinite is not None, rows=rows, seed=seed_array)


def _unique(tensors: list[Tensor]) -> list[Tensor]:
    seen: set[int] = set()
    out = []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def check(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
          order: int = 1, rtol: float = 1e-5, atol: float = 1e-8) -> CheckResult:
    """Autodiff against central finite differences, component by component."""
    if order not in (1, 2):
        raise ArgumentError(f"--order must be 1 or 2, not {order}")
    program, values, chosen, warnings = _prepare(expression, at, wrt)
    if not chosen:
        raise ArgumentError("the expression has no variables to differentiate")
    base = program.run(_leaves(values, []))
    _require_scalar(program, base.output, "check")
    f = _function_of(program, values, chosen)
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
        grads = _backward(out, leaves, None)
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


def functions() -> FunctionsResult:
    from gradcli.language.builder import language_functions

    rows = [FunctionRow(op.name, op.signature, op.kind, op.domain, op.help, op.note)
            for op in sorted(language_functions().values(), key=lambda o: (o.kind, o.name))]
    return FunctionsResult("functions", rows)


# -- pictures ---------------------------------------------------------------------------------
def graph_picture(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
                  seed: Any = None, order: int = 1) -> Any:
    """The graph forward and backward ran through (order 1), or the graph that
    create_graph recorded for the gradient, the one a Hessian differentiates (order 2)."""
    from gradcli.drawing.graph import graph_model
    from gradcli.results import GraphPictureResult

    if order not in (1, 2):
        raise ArgumentError(f"--order must be 1 or 2, not {order}")
    program, values, chosen, warnings = _prepare(expression, at, wrt)
    leaves = _leaves(values, chosen)
    evaluation = program.run(leaves)
    output = evaluation.output
    seed_array = _seed_for(program, output, seed, "graph")
    seed_tensor = None if seed_array is None else Tensor._wrap(seed_array)
    if not output.requires_grad:
        model = graph_model([output])
    elif order == 1:
        for t in evaluation.values:
            if not t.is_leaf:
                t.retain_grad()
        output.backward(seed_tensor, retain_graph=True)
        model = graph_model([output], ["f"] if output.grad_fn is not None else None)
    else:
        grads = grad(output, [leaves[n] for n in chosen], grad_outputs=seed_tensor,
                     create_graph=True, allow_unused=True)
        live = [(n, g) for n, g in zip(chosen, grads, strict=True)
                if g is not None and g.requires_grad]
        if not live:
            raise ArgumentError("the gradient does not depend on the variables, so there is "
                                "no second-order graph to draw",
                                hint="every second derivative is 0 here; try --order 1")
        model = graph_model([g for _, g in live], [f"∂f/∂{n}" for n, _ in live])
    return GraphPictureResult("graph", expression, values, output.data, warnings,
                              model=model, order=order)


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


def _elementwise(program: Program, out: Tensor, shape: tuple[int, ...]) -> Tensor:
    if out.shape == shape:
        return out
    if out.shape == () and not out.requires_grad:
        return Tensor._wrap(np.broadcast_to(out.data, shape).copy())
    raise ShapeError(
        f"plot evaluates the expression at every sample at once, and got shape {out.shape} "
        f"for {shape} samples", span=Span(0, len(program.text)),
        hint="plot needs a scalar function applied elementwise to the plotted variable "
             "(reductions such as sum or mean over it, and vector outputs, cannot be plotted)")


def _plot_curve(program: Program, expression: str, constants: dict[str, np.ndarray],
                over: tuple[str, float, float], order: int, samples: int,
                mark: Mapping[str, Any] | None, result_type: Any) -> Any:
    name, lo, hi = over
    xs = np.linspace(lo, hi, samples)
    x = Tensor(xs, requires_grad=True)
    series: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        out = _elementwise(program, program.evaluate({**constants, name: x}), xs.shape)
        series["f"] = out.data
        if order >= 1:
            first = _derivative(out, x, create_graph=order >= 2)
            series["f'"] = first.data
            if order >= 2:
                series["f''"] = _derivative(first, x, create_graph=False).data
    # a derivative where f itself is undefined (log at x < 0) is not shown either
    undefined = ~np.isfinite(series["f"])
    for key in ("f'", "f''"):
        if key in series and undefined.any():
            series[key] = np.where(undefined, np.nan, series[key])
    marked = None
    if mark:
        if set(mark) != {name}:
            raise ArgumentError(f"--at marks a point on the plotted variable: --at {name}=X0")
        x0 = float(np.asarray(mark[name], dtype=np.float64).reshape(()))
        point = gradient(expression, {**constants, name: x0}, wrt=[name])
        marked = {"x": x0, "value": float(point.value), "slope": float(point.gradient[name])}
    bad = sum(int(np.count_nonzero(~np.isfinite(v))) for v in series.values())
    warnings = [f"{bad} sampled values are not finite (shown as gaps)"] if bad else []
    value = series["f"]
    return result_type("plot", expression, {**constants}, value, warnings, nonfinite=bad > 0,
                       over=[over], order=order, samples=xs, series=series, mark=marked)


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
    x, y = Tensor(gx, requires_grad=True), Tensor(gy, requires_grad=True)
    with np.errstate(all="ignore"):
        out = _elementwise(program, program.evaluate({**constants, nx: x, ny: y}), gx.shape)
        if out.requires_grad:
            gu, gv = grad(out, [x, y], grad_outputs=Tensor._wrap(np.ones(gx.shape)),
                          allow_unused=True)
        else:
            gu = gv = None
    grid = {"z": out.data,
            "u": np.zeros(gx.shape) if gu is None else gu.data,
            "v": np.zeros(gx.shape) if gv is None else gv.data}
    bad = int(np.count_nonzero(~np.isfinite(out.data)))
    warnings = [f"{bad} sampled values are not finite (shown as gaps)"] if bad else []
    return result_type("plot", expression, {**constants}, out.data, warnings,
                       nonfinite=bad > 0, over=list(over), order=1, samples=(gx, gy),
                       series={}, grid=grid)


def run_command(command: str, expression: str, at: Mapping[str, Any],
                wrt: Sequence[str] | None = None, seed: Any = None, *, eig: bool = False,
                mode: str = "auto", retain_grad: bool = False, order: int = 1,
                rtol: float = 1e-5, atol: float = 1e-8) -> Any:
    """One command by name: what the CLI and batch job files both call."""
    if command == "eval":
        return evaluate(expression, at)
    if command == "grad":
        return gradient(expression, at, wrt, seed)
    if command == "hessian":
        return hessian(expression, at, wrt, eig=eig)
    if command == "jacobian":
        return jacobian(expression, at, wrt, mode=mode)
    if command == "graph":
        return graph(expression, at, wrt, seed, retain_grad=retain_grad)
    if command == "check":
        return check(expression, at, wrt, order=order, rtol=rtol, atol=atol)
    raise ArgumentError(f"unknown command '{command}'",
                        hint="one of eval, grad, hessian, jacobian, graph, check")
