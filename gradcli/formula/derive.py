"""`diff`: derivative formulas, read off the graph that create_graph records.

The expression runs once through the engine at a point (the bindings, or a
generic point), with the recorder on; `grad(create_graph=True)` then records
the derivative as ordinary ops, and, for order 2, each gradient element is
differentiated the same way. The reader turns the recording into formulas,
the simplifier puts them in canonical form, and each is checked by parsing
its printed text and evaluating it at the point: a formula that does not give
the engine's numbers is never returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.engine.autograd import grad
from gradcli.engine.mode import enable_grad
from gradcli.engine.tensor import Tensor
from gradcli.engine.trace import recording
from gradcli.errors import ArgumentError, FormulaError
from gradcli.formula.expr import Expr
from gradcli.formula.printer import to_text
from gradcli.formula.reader import Reader
from gradcli.formula.simplify import Algebra
from gradcli.language.program import Program, parse
from gradcli.results import DiffResult

#: a value a formula and the engine may differ by (relative), from rounding alone
AGREEMENT = 1e-9


class Formula:
    """One derivative formula: its canonical expression and its text."""

    __slots__ = ("algebra", "expr", "reserved", "text")

    def __init__(self, expr: Expr, reserved: Sequence[str], algebra: Algebra):
        self.expr = expr
        #: the algebra that made expr (simplify it, or build on it, only with this one)
        self.algebra = algebra
        self.reserved = tuple(reserved)
        self.text = to_text(expr, reserved)

    def latex(self) -> str:
        from gradcli.formula.latex import to_latex

        return to_latex(self.expr, self.reserved)

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


def generic_point(program: Program) -> dict[str, np.ndarray]:
    """Values for unbound variables: inside (0, 1), so that log, sqrt, asin... are defined,
    and all different, so that no tie decides a branch."""
    return {name: np.array(0.3 + 0.11 * k) for k, name in enumerate(program.free_variables)}


def diff(expression: str, at: Mapping[str, Any] | None = None,
         wrt: Sequence[str] | None = None, order: int = 1) -> DiffResult:
    if order not in (1, 2):
        raise ArgumentError(f"--order must be 1 or 2, not {order}")
    program = parse(expression)
    given = {name: np.asarray(v, dtype=np.float64) for name, v in (at or {}).items()}
    point = {**generic_point(program), **given}
    program.check_bindings(point)
    free = program.free_variables
    chosen = _chosen(free, wrt)
    bound = bool(given) and all(name in given for name in free)
    warnings = [f"{name} is not used by the expression" for name in given if name not in free]
    if given and not bound:
        missing = ", ".join(n for n in free if n not in given)
        warnings.append(f"no value for {missing}: formulas only, no values")
    point = {name: point[name] for name in free}

    leaves = {name: Tensor(point[name], requires_grad=name in chosen) for name in free}
    algebra = Algebra()
    with recording() as recorder, enable_grad(), np.errstate(all="ignore"):
        output = program.evaluate(leaves)
        targets = _targets(output, [leaves[n] for n in chosen], order)
    reader = Reader(algebra, recorder.entries,
                    {id(leaves[n].data): (n, leaves[n].data) for n in free})

    def formula(array: np.ndarray | None, shape: tuple[int, ...]) -> Formula:
        expr = algebra.zero if array is None else reader.read(array)
        made = Formula(algebra.fit(expr, shape), free, algebra)
        _check(made, array, point, shape)
        return made

    result_args = ("diff", expression, point if bound else {}, output.data, warnings)
    nonfinite = bound and not np.isfinite(output.data).all()
    if order == 2:
        labels = [label for n in chosen for label in _flat_labels(n, point[n].shape)]
        hessian = [[formula(entry, ()) for entry in row] for row in targets]
        matrix_values = [[_value(f, point) for f in row] for row in hessian] if bound else None
        return DiffResult(*result_args, order=2, variables=chosen, labels=labels,
                          hessian=hessian, values=matrix_values,
                          nonfinite=nonfinite or _any_nonfinite(matrix_values))
    if output.size == 1:
        formulas = {n: formula(g, point[n].shape) for n, g in zip(chosen, targets[0],
                                                                  strict=True)}
        values = {n: _value(f, point) for n, f in formulas.items()} if bound else None
        return DiffResult(*result_args, order=1, variables=chosen, formulas=formulas,
                          values=values, nonfinite=nonfinite or _any_nonfinite(values))
    rows = [{n: formula(g, point[n].shape) for n, g in zip(chosen, row, strict=True)}
            for row in targets]
    row_values = [{n: _value(f, point) for n, f in row.items()} for row in rows] \
        if bound else None
    return DiffResult(*result_args, order=1, variables=chosen,
                      outputs=_flat_labels("f", output.shape), jacobian=rows,
                      values=row_values, nonfinite=nonfinite or _any_nonfinite(row_values))


def canonical(expression: str) -> Formula:
    """The expression itself in canonical form: what the simplifier makes of it."""
    program = parse(expression)
    point = generic_point(program)
    leaves = {name: Tensor(point[name]) for name in point}
    with recording() as recorder, np.errstate(all="ignore"):
        output = program.evaluate(leaves)
    algebra = Algebra()
    reader = Reader(algebra, recorder.entries,
                    {id(t.data): (name, t.data) for name, t in leaves.items()})
    made = Formula(reader.read(output.data), list(point), algebra)
    _check(made, output.data, point, output.shape)
    return made


def nth_derivative(expression: str, variable: str, n: int) -> Formula:
    """d^n f / d variable^n of a scalar f of one scalar variable: grad of grad of ...,
    each recorded with create_graph, read back once at the end."""
    if n < 1:
        raise ArgumentError(f"the order must be at least 1, not {n}")
    program = parse(expression)
    point = generic_point(program)
    program.check_bindings(point)
    leaves = {name: Tensor(point[name], requires_grad=name == variable) for name in point}
    if variable not in leaves:
        raise ArgumentError(f"'{variable}' is not a variable of the expression")
    with recording() as recorder, enable_grad(), np.errstate(all="ignore"):
        value: Tensor | None = program.evaluate(leaves).reshape(())
        for _ in range(n):
            if value is None:
                break
            (value,) = _grads(value, [leaves[variable]])
    algebra = Algebra()
    reader = Reader(algebra, recorder.entries,
                    {id(t.data): (name, t.data) for name, t in leaves.items()})
    made = Formula(algebra.zero if value is None else reader.read(value.data), list(point),
                   algebra)
    _check(made, None if value is None else value.data, point, ())
    return made


def _any_nonfinite(values: Any) -> bool:
    if values is None:
        return False
    rows = values if isinstance(values, list) else [values]
    arrays = [v for row in rows for v in (row.values() if isinstance(row, dict) else row)]
    return any(not np.isfinite(a).all() for a in arrays)


def _chosen(free: list[str], wrt: Sequence[str] | None) -> list[str]:
    if not free:
        raise ArgumentError("the expression has no variables to differentiate")
    if wrt is None:
        return list(free)
    chosen: list[str] = []
    for name in wrt:
        if name not in free:
            raise ArgumentError(f"--wrt names '{name}', which is not a variable of the "
                                "expression", hint="the expression's variables are: "
                                + ", ".join(free))
        if name not in chosen:
            chosen.append(name)
    return chosen


def _targets(output: Tensor, leaves: list[Tensor], order: int
             ) -> list[list[np.ndarray | None]]:
    """The recorded derivative values: per output element (order 1) or per flattened
    variable element (order 2), one array per variable (order 1) or per element."""
    if order == 2 and output.size != 1:
        raise ArgumentError(f"--order 2 needs a scalar expression, got shape {output.shape}",
                            hint="differentiate one output at a time, e.g. f[0]")
    if output.size == 1:
        rows = [_grads(output.reshape(()), leaves)]
    else:
        flat = output.reshape(-1)
        rows = [_grads(flat[k], leaves) for k in range(output.size)]
    if order == 1:
        return [[None if g is None else g.data for g in row] for row in rows]
    matrix: list[list[np.ndarray | None]] = []
    for g, leaf in zip(rows[0], leaves, strict=True):
        flat_g = None if g is None else g.reshape(-1)
        for k in range(leaf.size):
            second = _grads(flat_g[k], leaves) if flat_g is not None else [None] * len(leaves)
            row: list[np.ndarray | None] = []
            for s, other in zip(second, leaves, strict=True):
                flat_s = None if s is None else s.reshape(-1)
                row += [None if flat_s is None else flat_s[j].data for j in range(other.size)]
            matrix.append(row)
    return matrix


def _grads(value: Tensor, leaves: list[Tensor]) -> list[Tensor | None]:
    if not value.requires_grad:
        return [None] * len(leaves)
    return list(grad(value, leaves, create_graph=True, allow_unused=True))


def _flat_labels(name: str, shape: tuple[int, ...]) -> list[str]:
    from gradcli.compute import flat_labels

    return flat_labels(name, shape)


def _value(formula: Formula, point: Mapping[str, np.ndarray]) -> np.ndarray:
    program = parse(formula.text)
    with np.errstate(all="ignore"):
        return program.evaluate({n: Tensor(point[n]) for n in program.free_variables}).data


def _check(formula: Formula, array: np.ndarray | None, point: Mapping[str, np.ndarray],
           shape: tuple[int, ...]) -> None:
    """The printed formula must give the engine's numbers at the point it was read at."""
    expected = np.zeros(shape) if array is None else np.broadcast_to(array, shape)
    got = _value(formula, point)
    same_shape = got.shape == expected.shape
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(expected), 1.0)
        agree = same_shape and np.all(
            (np.abs(got - expected) <= AGREEMENT * scale) | (np.isnan(got) & np.isnan(expected))
            | (got == expected))
    if not agree:
        raise FormulaError(
            f"gradcli wrote the derivative as {formula.text!r}, but that formula does not give "
            "the engine's value; this is a bug in diff, please report it")
