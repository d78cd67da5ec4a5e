"""What each command computes, as plain data: the one thing every renderer reads.

A command makes one library call (gradcli.compute) and gets one of these back;
table, JSON and CSV are three views of the same object, so they cannot
disagree. Plain classes rather than dataclasses: every run of the CLI builds
these types, and dataclass creation costs more start-up time than the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gradcli.classification import Verdict


class Result:
    """Fields every command shares."""

    __slots__ = ("at", "command", "expression", "nonfinite", "value", "warnings")

    def __init__(self, command: str, expression: str, at: dict[str, np.ndarray],
                 value: np.ndarray, warnings: list[str] | None = None,
                 nonfinite: bool = False):
        self.command = command
        self.expression = expression
        #: the bindings, by name, in the order the expression first uses them
        self.at = at
        self.value = value
        #: messages for stderr (non-finite values, unused variables); never the answer
        self.warnings = list(warnings or [])
        #: whether a non-finite value or derivative appeared (--strict: exit 1)
        self.nonfinite = nonfinite


class EvalResult(Result):
    __slots__ = ()


class GradResult(Result):
    __slots__ = ("gradient", "seed")

    def __init__(self, *args: Any, gradient: dict[str, np.ndarray],
                 seed: np.ndarray | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gradient = gradient
        self.seed = seed


class _Matrix:
    """A result's matrix, dense, or built from its coordinates when first read (a view
    that needs the whole matrix: a table, CSV); the size limit applies then."""

    __slots__ = ("name", "what")

    def __init__(self, name: str, what: str):
        self.name = name
        self.what = what

    def __get__(self, result: Any, owner: Any = None) -> Any:
        if result is None:
            return self
        dense = getattr(result, "_" + self.name)
        if dense is None:
            from gradcli.limits import check_shape

            check_shape(result.sparse.shape, self.what)
            dense = result.sparse.dense()
            setattr(result, "_" + self.name, dense)
        return dense


class HessianResult(Result):
    """`sparse` is the `SparseMatrix` when the sparse path computed it; `coordinates`
    says the user asked for it (--sparse on), so JSON gives rows, cols and values."""

    __slots__ = ("_hessian", "coordinates", "gradient", "labels", "sparse", "verdict")
    hessian = _Matrix("hessian", "the Hessian")

    def __init__(self, *args: Any, gradient: dict[str, np.ndarray], labels: list[str],
                 hessian: np.ndarray | None, verdict: Verdict | None = None,
                 sparse: Any = None, coordinates: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gradient = gradient
        self.labels = labels
        self._hessian = hessian
        self.verdict = verdict
        self.sparse = sparse
        self.coordinates = coordinates

    @property
    def eigenvalues(self) -> np.ndarray | None:
        return None if self.verdict is None else self.verdict.eigenvalues

    @property
    def classification(self) -> str | None:
        return None if self.verdict is None else self.verdict.classification


class JacobianResult(Result):
    """`sparse` and `coordinates` as for `HessianResult`."""

    __slots__ = ("_jacobian", "coordinates", "labels", "mode", "outputs", "sparse")
    jacobian = _Matrix("jacobian", "the Jacobian")

    def __init__(self, *args: Any, outputs: list[str], labels: list[str],
                 jacobian: np.ndarray | None, mode: str, sparse: Any = None,
                 coordinates: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.outputs = outputs
        self.labels = labels
        self._jacobian = jacobian
        self.mode = mode
        self.sparse = sparse
        self.coordinates = coordinates


class GraphRow:
    __slots__ = ("grad", "grad_fn", "is_leaf", "label", "op", "requires_grad", "shape", "value")

    def __init__(self, label: str, op: str, grad_fn: str | None, shape: tuple[int, ...],
                 value: np.ndarray, requires_grad: bool, is_leaf: bool,
                 grad: np.ndarray | None):
        self.label = label
        self.op = op
        self.grad_fn = grad_fn
        self.shape = shape
        self.value = value
        self.requires_grad = requires_grad
        self.is_leaf = is_leaf
        self.grad = grad


class GraphResult(Result):
    __slots__ = ("rows", "seed")

    def __init__(self, *args: Any, rows: list[GraphRow], seed: np.ndarray | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rows = rows
        self.seed = seed


class CheckRow:
    """One compared component. `status` is "ok", "mismatch", "unresolved" (does not
    agree, but the finite difference's own error exceeds the tolerance: not ok, and not
    proof of a wrong derivative), or "undefined" (no finite difference exists here: not
    compared, and not a mismatch); `fd_error` is the finite difference's own error
    estimate."""

    __slots__ = ("abs_error", "autodiff", "component", "fd_error", "numeric", "ok",
                 "rel_error", "status", "step")

    def __init__(self, component: str, autodiff: float, numeric: float, abs_error: float,
                 rel_error: float, step: float, ok: bool, status: str | None = None,
                 fd_error: float | None = None):
        self.component = component
        self.autodiff = autodiff
        self.numeric = numeric
        self.abs_error = abs_error
        self.rel_error = rel_error
        self.step = step
        self.ok = ok
        self.status = status or ("ok" if ok else "mismatch")
        self.fd_error = fd_error


class CheckResult(Result):
    __slots__ = ("atol", "order", "rows", "rtol")

    def __init__(self, *args: Any, order: int, rtol: float, atol: float,
                 rows: list[CheckRow], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.order = order
        self.rtol = rtol
        self.atol = atol
        self.rows = rows

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)


class FunctionRow:
    __slots__ = ("aliases", "domain", "group", "help", "kind", "name", "note", "signature")

    def __init__(self, name: str, signature: str, kind: str, domain: str | None, help: str,
                 note: str | None, group: str = "", aliases: tuple[str, ...] = ()):
        self.name = name
        self.group = group
        self.aliases = aliases
        self.signature = signature
        self.kind = kind
        self.domain = domain
        self.help = help
        self.note = note


class FunctionsResult:
    __slots__ = ("command", "nonfinite", "rows", "warnings")

    def __init__(self, command: str, rows: list[FunctionRow]):
        self.command = command
        self.rows = rows
        self.warnings: list[str] = []
        self.nonfinite = False


class GraphPictureResult(Result):
    """The graph as a picture: the model that the tree, DOT and Mermaid views draw."""

    __slots__ = ("model", "order")

    def __init__(self, *args: Any, model: Any, order: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.model = model
        self.order = order


class PlotResult(Result):
    """Sampled values and derivatives over one variable's range, or a grid over two."""

    __slots__ = ("grid", "mark", "order", "over", "samples", "series")

    def __init__(self, *args: Any, over: list[tuple[str, float, float]], order: int,
                 samples: np.ndarray | tuple[np.ndarray, np.ndarray],
                 series: dict[str, np.ndarray], mark: dict[str, float] | None = None,
                 grid: dict[str, np.ndarray] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.over = over
        self.order = order
        self.samples = samples
        #: "f", "f'", "f''" -> values at the samples (non-finite values stay as nan)
        self.series = series
        #: with --at: x, the value, the slope there
        self.mark = mark
        #: two variables: Z and its gradient field U, V on the grid
        self.grid = grid

    def drawn(self) -> dict[str, np.ndarray]:
        """The series as a picture shows them: no derivative drawn where f itself is
        undefined (log at x < 0 has the formula 1/x there, but no curve to be the slope
        of). The numbers (`series`, CSV, JSON) stay what `grad` gives at each sample."""
        undefined = ~np.isfinite(self.series["f"]) if "f" in self.series else None
        if undefined is None or not undefined.any():
            return self.series
        return {key: ys if key == "f" else np.where(undefined, np.nan, ys)
                for key, ys in self.series.items()}


class DiffResult(Result):
    """What `diff` found: formulas by variable (order 1), by output and variable (a
    non-scalar f), or a labelled matrix (order 2); values when a point was given. Each
    formula is a `gradcli.formula.Formula`: its `.text`, and `.latex()`."""

    __slots__ = ("formulas", "hessian", "jacobian", "labels", "order", "outputs", "values",
                 "variables")

    def __init__(self, *args: Any, order: int, variables: list[str],
                 formulas: dict[str, Any] | None = None,
                 outputs: list[str] | None = None,
                 jacobian: list[dict[str, Any]] | None = None,
                 labels: list[str] | None = None,
                 hessian: list[list[Any]] | None = None,
                 values: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.order = order
        self.variables = variables
        self.formulas = formulas
        self.outputs = outputs
        self.jacobian = jacobian
        self.labels = labels
        self.hessian = hessian
        #: like formulas/jacobian/hessian, with arrays in place of formulas (bindings given)
        self.values = values


class TaylorResult(Result):
    """What `taylor` found: f(a + v t) = sum_k coefficients[k] t^k, the derivatives
    k! c_k along v, and the truncated series as an expression in `variable`."""

    __slots__ = ("coefficients", "derivatives", "direction", "order", "polynomial",
                 "variable", "variables")

    def __init__(self, *args: Any, order: int, variables: list[str],
                 direction: np.ndarray | None, coefficients: list[np.ndarray],
                 derivatives: list[np.ndarray], polynomial: str | None, variable: str,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.order = order
        self.variables = variables
        #: v, flattened over the variables (None: one variable, along itself)
        self.direction = direction
        self.coefficients = coefficients
        self.derivatives = derivatives
        #: the series in the language (x, or t along a direction); None for a matrix
        self.polynomial = polynomial
        self.variable = variable
