"""One function per command: expression and bindings in, a result object out.

This is the library the CLI stands on; it knows nothing of Typer, Rich or the
terminal. Every user mistake surfaces as a `GradcliError` (with a span into
the expression where there is one). Finite-difference checking lives in
`gradcli.checking`, Hessian classification in `gradcli.classification` and plot
sampling in `gradcli.sampling`; the steps they share are in `gradcli.steps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.classification import classify
from gradcli.columns import element_labels as flat_labels
from gradcli.engine.autograd import grad
from gradcli.engine.tensor import Tensor
from gradcli.engine.watch import watch_nonfinite
from gradcli.errors import ArgumentError, NotScalarError
from gradcli.language.program import Program
from gradcli.limits import check_shape
from gradcli.results import (
    EvalResult,
    FunctionRow,
    FunctionsResult,
    GradResult,
    GraphResult,
    GraphRow,
    HessianResult,
    JacobianResult,
)
from gradcli.steps import (
    backward,
    check_derivatives,
    function_of,
    make_leaves,
    nonfinite_warnings,
    prepare,
    require_scalar,
    seed_for,
)

__all__ = ["NotScalarError"]  # batch.kernel reads it from here


# -- commands ----------------------------------------------------------------------------
def evaluate(expression: str, at: Mapping[str, Any]) -> EvalResult:
    program, values, _, warnings = prepare(expression, at, [])
    evaluation = program.run(make_leaves(values, []))
    warnings += nonfinite_warnings(program, evaluation, values)
    return EvalResult("eval", expression, values, evaluation.output.data, warnings,
                      nonfinite=evaluation.nonfinite is not None or
                      not np.all(np.isfinite(evaluation.output.data)))


def gradient(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
             seed: Any = None) -> GradResult:
    program, values, chosen, warnings = prepare(expression, at, wrt)
    leaves = make_leaves(values, chosen)
    with watch_nonfinite() as log:
        evaluation = program.run(leaves)
        output = evaluation.output
        seed_array = seed_for(program, output, seed, "grad")
        grads = backward(output, [leaves[n] for n in chosen], seed_array)
    gradient_arrays = {}
    for name, g in zip(chosen, grads, strict=True):
        gradient_arrays[name] = np.zeros(values[name].shape) if g is None else g.data
    unused = [name for name, g in zip(chosen, grads, strict=True) if g is None]
    if unused:
        warnings.append(f"no gradient reached {', '.join(unused)} (the path is detached or "
                        "the variable does not affect the output): reported as 0")
    warnings += nonfinite_warnings(program, evaluation, values)
    warnings += check_derivatives(gradient_arrays, log, "the gradient")
    nonfinite = evaluation.nonfinite is not None or not np.isfinite(output.data).all() or \
        any(not np.isfinite(v).all() for v in gradient_arrays.values())
    return GradResult("grad", expression, values, output.data, warnings, nonfinite=nonfinite,
                      gradient=gradient_arrays, seed=seed_array)


def _sparse_choice(sparse: str) -> str:
    if sparse not in ("auto", "on", "off"):
        raise ArgumentError(f"--sparse must be auto, on or off, not '{sparse}'")
    return sparse


def hessian(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
            eig: bool = False, gtol: float | None = None, sparse: str = "auto"
            ) -> HessianResult:
    """The value, gradient and Hessian. `sparse`: "on" finds the pattern from the graph
    and computes the Hessian by a star colouring and Hessian-vector products (the
    result keeps the coordinates, and JSON gives them); "off" is the dense pass;
    "auto" takes the sparse path when the pattern is at most a quarter full (see
    `functional_sparse.worth_it`), with the same output as "off"."""
    from gradcli import functional_sparse

    _sparse_choice(sparse)
    program, values, chosen, warnings = prepare(expression, at, wrt)
    f = function_of(program, values, chosen)
    evaluation = program.run(make_leaves(values, []))
    require_scalar(program, evaluation.output, "hessian")
    if not chosen:
        raise ArgumentError("the expression has no variables to differentiate")
    n_in = sum(values[n].size for n in chosen)
    if sparse != "on":
        check_shape((n_in, n_in), "the Hessian")
    with watch_nonfinite() as log:
        value, grads, found = functional_sparse.gradient_and_hessian_either(
            f, tuple(Tensor(values[n]) for n in chosen), sparse)
    sizes = [values[n].size for n in chosen]
    coordinates = sparse == "on"
    if isinstance(found, functional_sparse.SparseMatrix):
        matrix, held = None, found
        entries = found.values
    else:
        matrix = np.block([[found[i][j].reshape(sizes[i], sizes[j])
                            for j in range(len(chosen))] for i in range(len(chosen))])
        held, entries = None, matrix
    labels = [label for n in chosen for label in flat_labels(n, values[n].shape)]
    gradient_arrays = dict(zip(chosen, grads, strict=True))
    warnings += nonfinite_warnings(program, evaluation, values)
    warnings += check_derivatives(gradient_arrays, log, "the gradient")
    warnings += check_derivatives({"the variables": entries}, log, "the Hessian")
    result = HessianResult("hessian", expression, values, value.data, warnings,
                           nonfinite=not (np.all(np.isfinite(entries)) and np.isfinite(
                               value.data).all()),
                           gradient=gradient_arrays, labels=labels, hessian=matrix,
                           sparse=held, coordinates=coordinates)
    if eig or gtol is not None:
        point = np.concatenate([values[n].reshape(-1) for n in chosen])
        result.verdict = classify(result.hessian, grads, point,
                                  rounding=_gradient_rounding(f, values, chosen), gtol=gtol)
    return result


def _gradient_rounding(f: Any, values: dict[str, np.ndarray], chosen: list[str]) -> np.ndarray:
    """The running error bound of the gradient, flattened in the Hessian's order."""
    from gradcli.rounding import absolute_gradient

    leaves = [Tensor(values[n], requires_grad=True) for n in chosen]
    with np.errstate(all="ignore"):
        bound = absolute_gradient(f(*leaves), leaves)
    return np.concatenate([b.reshape(-1) for b in bound.bounds()])


def jacobian(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
             mode: str = "auto", sparse: str = "auto") -> JacobianResult:
    """The Jacobian. `sparse` as for `hessian`: "on" colours the columns of the detected
    pattern and runs compressed forward mode (so it does not go with --mode reverse);
    "auto" does so when the pattern is at most a quarter full and --mode is not
    reverse."""
    from gradcli import functional_sparse

    if mode not in ("auto", "forward", "reverse"):
        raise ArgumentError(f"--mode must be auto, forward or reverse, not '{mode}'")
    _sparse_choice(sparse)
    if sparse == "on" and mode == "reverse":
        raise ArgumentError("--sparse on computes the Jacobian by forward mode (compressed "
                            "columns), so it does not go with --mode reverse",
                            hint="leave out --mode, or use --sparse off")
    program, values, chosen, warnings = prepare(expression, at, wrt)
    if not chosen:
        raise ArgumentError("the expression has no variables to differentiate")
    evaluation = program.run(make_leaves(values, []))
    output = evaluation.output
    n_in = sum(values[n].size for n in chosen)
    if sparse != "on":
        check_shape((output.size, n_in), "the Jacobian")
    used = mode if mode != "auto" else ("forward" if n_in <= output.size else "reverse")
    with watch_nonfinite() as log:
        found = functional_sparse.jacobian_either(
            function_of(program, values, chosen), tuple(Tensor(values[n]) for n in chosen),
            sparse, used, reverse_only=mode == "reverse")
    if isinstance(found, functional_sparse.SparseMatrix):
        matrix, held, entries, used = None, found, found.values, "forward"
    else:
        matrix = np.hstack([b.reshape(output.size, values[n].size)
                            for b, n in zip(found, chosen, strict=True)])
        held, entries = None, matrix
    labels = [label for n in chosen for label in flat_labels(n, values[n].shape)]
    outputs = output_labels(program, output.shape)
    warnings += nonfinite_warnings(program, evaluation, values)
    warnings += check_derivatives({"the variables": entries}, log, "the Jacobian")
    return JacobianResult("jacobian", expression, values, output.data, warnings,
                          nonfinite=not (np.all(np.isfinite(entries)) and
                                         np.isfinite(output.data).all()),
                          outputs=outputs, labels=labels, jacobian=matrix, mode=used,
                          sparse=held, coordinates=sparse == "on")


def output_labels(program: Program, shape: tuple[int, ...]) -> list[str]:
    """f for a scalar output, f[0], f[1], ... for a vector, f[i,j] for a matrix."""
    return flat_labels("f", shape)


def graph(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None = None,
          seed: Any = None, retain_grad: bool = False, order: int = 1,
          picture: bool = False) -> Any:
    """The graph forward and backward ran through, one row per node; or, with
    picture=True or order 2, the graph as a picture model (see `graph_picture`)."""
    if picture or order != 1:
        return graph_picture(expression, at, wrt, seed, order=order)
    program, values, chosen, warnings = prepare(expression, at, wrt)
    leaves = make_leaves(values, chosen)
    evaluation = program.run(leaves)
    output = evaluation.output
    seed_array = seed_for(program, output, seed, "graph")
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
    warnings += nonfinite_warnings(program, evaluation, values)
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


def functions(name: str | None = None) -> FunctionsResult:
    """Every function of the language, or the one called `name` (by name or alias)."""
    from gradcli.language.builder import language_functions, suggest

    table = language_functions()
    if name is not None:
        if name not in table:
            near = suggest(name, list(table))
            raise ArgumentError(f"there is no function called {name!r}",
                                hint=f"did you mean {' or '.join(near)}?" if near else
                                "'gradcli functions' lists them all")
        table = {name: table[name]}
    ops = {op.name: op for op in table.values()}.values()  # aliases once
    rows = [FunctionRow(op.name, op.signature, op.kind, op.domain, op.help, op.note,
                        op.group, op.aliases)
            for op in sorted(ops, key=lambda o: (o.group, o.name))]
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
    program, values, chosen, warnings = prepare(expression, at, wrt)
    leaves = make_leaves(values, chosen)
    evaluation = program.run(leaves)
    output = evaluation.output
    seed_array = seed_for(program, output, seed, "graph")
    seed_tensor = None if seed_array is None else Tensor._wrap(seed_array)
    gradients: list[Tensor] = []
    if not output.requires_grad:
        model = graph_model([output])
    elif order == 1:
        for t in evaluation.values:
            if not t.is_leaf:
                t.retain_grad()
        output.backward(seed_tensor, retain_graph=True)
        gradients = [t.grad for t in leaves.values() if t.grad is not None]
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
        gradients = [g for _, g in live]
        model = graph_model(gradients, [f"∂f/∂{n}" for n, _ in live])
    # the picture shows the same values the table does: --strict and the domain
    # warnings apply to it alike
    warnings += nonfinite_warnings(program, evaluation, values)
    nonfinite = evaluation.nonfinite is not None or not all(
        np.isfinite(g.data).all() for g in gradients)
    return GraphPictureResult("graph", expression, values, output.data, warnings,
                              nonfinite=nonfinite, model=model, order=order)
