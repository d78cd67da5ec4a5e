"""The names of output columns, built here and nowhere else.

Single-point CSV output and batch output (every format) name the same
numbers the same way, so both call these builders:

* `value`, or `value[0]`, `value[0,1]`, ... for a non-scalar output;
* `grad[x]`, or `grad[m[0]]` for an element of a vector variable;
* `jac[f[0],a]`: output element, input element (rows are outputs);
* `hess[x,y]`: the second derivative by x then y;
* `line`, `error` and, with several inputs, `file`: the batch bookkeeping.

It also holds the one layout: which columns a result has, in which order
(`result_columns`: value, then gradients, then the Hessian; or value, then
the Jacobian), and which columns a batch record has around them, with their
types (`record_layout`: `file`, `line`, the results, `error`). Single-point
CSV (one point), the batch kernel (a chunk), the batch writers and the
cluster's manifest all read it, so a new column is added here once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

LINE = "line"
ERROR = "error"
FILE = "file"

RESULT_TYPE = "float64"
"""The type of every result column (values and derivatives)."""
BOOKKEEPING = {FILE: "int32", LINE: "int64", ERROR: "string"}
"""The batch record's own columns and their types (Arrow type names)."""

Columns = list[tuple[str, np.ndarray]]
"""Named columns: one array per name, the points on its first axis."""
Matrix = np.ndarray | Sequence[Sequence[np.ndarray]]
"""A per-point matrix: (points, rows, columns), or rows of columns over the points."""


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


# -- the layout ---------------------------------------------------------------------------
def result_columns(value: np.ndarray, *, gradients: Sequence[tuple[str, np.ndarray]] = (),
                   labels: Sequence[str] = (), hessian: Matrix | None = None,
                   jacobian: Matrix | None = None, outputs: Sequence[str] | None = None
                   ) -> Columns:
    """Every result column, in the order every output shows them (see `each_result_column`)."""
    return list(each_result_column(value, gradients=gradients, labels=labels, hessian=hessian,
                                   jacobian=jacobian, outputs=outputs))


def each_result_column(value: np.ndarray, *, gradients: Sequence[tuple[str, np.ndarray]] = (),
                       labels: Sequence[str] = (), hessian: Matrix | None = None,
                       jacobian: Matrix | None = None, outputs: Sequence[str] | None = None
                       ) -> Iterator[tuple[str, np.ndarray]]:
    """Every result column, one at a time: value, gradients, then the Hessian; or value, then
    the Jacobian. One at a time, so that a single point's 600 x 600 Jacobian streams out as
    CSV without its 360,000 names ever existing at once.

    Each array has the points on its first axis (one point for single-point CSV):
    `value` (P, *output shape); each gradient (P, *variable shape); `hessian`
    (P, n, n) and `jacobian` (P, m, n) over the input element `labels`, with
    `outputs` the Jacobian's row labels (default `f[0]`, `f[1]`, ...). A matrix may
    also be given as rows of columns (entry [i][j] an array over the points), as a
    recorded plan's outputs are, so that no copy is made.
    """
    size = np.shape(value)[0]
    yield from _flat(value_names(np.shape(value)[1:]), value, size)
    for name, g in gradients:
        yield from _flat(grad_names(name, np.shape(g)[1:]), g, size)
    if hessian is not None:
        yield from zip((hess_name(a, b) for a in labels for b in labels),
                       _entries(hessian, size), strict=True)
    if jacobian is not None:
        out_labels = element_labels("f", np.shape(value)[1:]) if outputs is None else outputs
        yield from zip((jac_name(o, x) for o in out_labels for x in labels),
                       _entries(jacobian, size), strict=True)


def _flat(names: list[str], array: np.ndarray, size: int) -> Columns:
    """One column per element of a per-point array, in C order."""
    flat = np.reshape(array, (size, len(names)))
    return list(zip(names, flat.T, strict=True))


def _entries(matrix: Matrix, size: int) -> Iterator[np.ndarray]:
    """A matrix's entries row by row, each a column over the points."""
    if isinstance(matrix, np.ndarray):
        yield from np.reshape(matrix, (size, int(np.prod(matrix.shape[1:])))).T
    else:
        for row in matrix:
            yield from row


def record_layout(result_names: Sequence[str], with_file: bool) -> list[tuple[str, str]]:
    """A batch record's columns with their types: `file` (several inputs), `line`, the
    results, then `error`; every format writes them in this order."""
    fields = [(FILE, BOOKKEEPING[FILE])] if with_file else []
    fields.append((LINE, BOOKKEEPING[LINE]))
    fields += [(name, RESULT_TYPE) for name in result_names]
    fields.append((ERROR, BOOKKEEPING[ERROR]))
    return fields


def result_names(record_names: Sequence[str]) -> list[str]:
    """The result columns among a record's columns (those that are not bookkeeping)."""
    return [name for name in record_names if name not in BOOKKEEPING]
