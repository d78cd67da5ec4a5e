"""Views of one result object: a table for people, JSON and CSV for scripts (and LaTeX
for diff's formulas).

The table view is built as neutral blocks (key/value lines, labelled grids,
rows under headers) and drawn as plain aligned text, on a terminal as anywhere
else (the README's shape; a terminal adds only a bold title, and NO_COLOR not
even that), so output carries no escape codes off a terminal and needs no Rich
import.

JSON is strict RFC 8259: non-finite numbers become the strings "nan", "inf"
and "-inf"; arrays are nested lists in the value's shape. Keys are the
documented contract (README, "JSON output").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gradcli import columns as names
from gradcli import results as r
from gradcli.numbers import fmt, fmt_array, json_number

# -- numbers ---------------------------------------------------------------------------


def json_array(value: Any) -> Any:
    if np.asarray(value).dtype.kind == "U":  # a text option, as in norm(A, ord='nuc')
        return str(value)
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return json_number(float(array))
    return [json_array(v) for v in array]


class View:
    """One way to show results: a function per result type, looked up along the type's
    bases, so a result type gets its view by registering it, not by a branch elsewhere."""

    def __init__(self, name: str):
        self.name = name
        self.functions: dict[type, Callable[..., Any]] = {}

    def of(self, *types: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            for cls in types:
                self.functions[cls] = function
            return function

        return register

    def __call__(self, result: Any, *args: Any) -> Any:
        for cls in type(result).__mro__:
            function = self.functions.get(cls)
            if function is not None:
                return function(result, *args)
        raise TypeError(f"no {self.name} view for {type(result).__name__}")


JSON = View("JSON")
CSV = View("CSV")
TABLE = View("table")
LATEX = View("LaTeX")


def is_picture(result: Any) -> bool:
    """A graph drawn as a picture (tree, DOT, Mermaid) rather than as rows."""
    return isinstance(result, r.GraphPictureResult)


# -- JSON ------------------------------------------------------------------------------
def to_json_object(result: Any) -> dict[str, Any]:
    return {key: json_array(value) if isinstance(value, np.ndarray) else value
            for key, value in _raw_json_object(result).items()}


def _raw_json_object(result: Any) -> dict[str, Any]:
    """The JSON object, with any matrix (Jacobian, Hessian) still a numpy array."""
    obj: dict[str, Any] = JSON(result)
    if result.warnings:
        obj["warnings"] = list(result.warnings)
    return obj


def _json_common(result: Any) -> dict[str, Any]:
    # every binding given is in `at`; those the expression does not use are listed in
    # `unused` as well (they are never dropped)
    unused = getattr(result.at, "unused", {})
    obj = {"command": result.command, "expression": one_line(result.expression),
           "at": {name: json_array(v) for name, v in {**result.at, **unused}.items()},
           "value": json_array(result.value)}
    if unused:
        obj["unused"] = list(unused)
    return obj


@JSON.of(r.EvalResult)
def _eval_json(result: r.EvalResult) -> dict[str, Any]:
    return _json_common(result)


@JSON.of(r.GradResult)
def _grad_json(result: r.GradResult) -> dict[str, Any]:
    obj = _json_common(result)
    obj["gradient"] = {n: json_array(g) for n, g in result.gradient.items()}
    if result.seed is not None:
        obj["seed"] = json_array(result.seed)
    return obj


@JSON.of(r.HessianResult)
def _hessian_json(result: r.HessianResult) -> dict[str, Any]:
    obj = _json_common(result)
    obj["gradient"] = {n: json_array(g) for n, g in result.gradient.items()}
    obj["labels"] = result.labels
    # a matrix: converted (or streamed) as a whole; with --sparse on, its coordinates
    obj["hessian"] = _coordinates(result.sparse) if result.coordinates else result.hessian
    if result.coordinates:
        obj["products"] = result.sparse.colours
    verdict = result.verdict
    if verdict is not None:
        obj["eigenvalues"] = json_array(verdict.eigenvalues)
        obj["classification"] = verdict.classification
        obj["gradient_norm"] = json_number(verdict.gradient_norm)
        obj["gradient_bound"] = json_array(np.asarray(verdict.gradient_bound))
        obj["gradient_bound_from"] = verdict.bound_from
    return obj


@JSON.of(r.JacobianResult)
def _jacobian_json(result: r.JacobianResult) -> dict[str, Any]:
    obj = _json_common(result)
    obj["outputs"] = result.outputs
    obj["labels"] = result.labels
    obj["jacobian"] = _coordinates(result.sparse) if result.coordinates else result.jacobian
    obj["mode"] = result.mode
    if result.coordinates:
        obj["products"] = result.sparse.colours
    return obj


def _coordinates(matrix: Any) -> dict[str, Any]:
    """--sparse on: the matrix as {shape, rows, cols, values}, sorted by row then column,
    indices into the flattened outputs and variables (the labels' order)."""
    return {"shape": list(matrix.shape), "rows": matrix.rows.tolist(),
            "cols": matrix.cols.tolist(), "values": json_array(matrix.values)}


@JSON.of(r.GraphPictureResult)
def _picture_json(result: r.GraphPictureResult) -> dict[str, Any]:
    obj = _json_common(result)
    obj["order"] = result.order
    obj["nodes"] = [{
        "id": v.id, "kind": v.kind, "label": v.label, "op": v.op, "output": v.output,
        "shape": list(v.shape), "value": None if v.value is None else json_array(v.value),
        "grad": None if v.grad is None else json_array(v.grad),
    } for v in result.model.vertices]
    obj["edges"] = [list(e) for e in result.model.edges]
    return obj


@JSON.of(r.GraphResult)
def _graph_json(result: r.GraphResult) -> dict[str, Any]:
    obj = _json_common(result)
    obj["nodes"] = [{
        "label": row.label, "op": row.op, "grad_fn": row.grad_fn, "shape": list(row.shape),
        "value": json_array(row.value), "requires_grad": row.requires_grad,
        "is_leaf": row.is_leaf, "grad": None if row.grad is None else json_array(row.grad),
    } for row in result.rows]
    if result.seed is not None:
        obj["seed"] = json_array(result.seed)
    return obj


@JSON.of(r.CheckResult)
def _check_json(result: r.CheckResult) -> dict[str, Any]:
    obj = _json_common(result)
    obj["order"] = result.order
    obj["rtol"] = result.rtol
    obj["atol"] = result.atol
    obj["ok"] = result.ok
    obj["components"] = [{
        "component": row.component, "autodiff": json_number(row.autodiff),
        "numeric": json_number(row.numeric), "abs_error": json_number(row.abs_error),
        "rel_error": json_number(row.rel_error), "step": row.step, "ok": row.ok,
        "status": row.status,
        "fd_error": None if row.fd_error is None else json_number(row.fd_error),
    } for row in result.rows]
    return obj


@JSON.of(r.FunctionsResult)
def _functions_json(result: r.FunctionsResult) -> dict[str, Any]:
    return {"command": "functions", "functions": [
        {"name": row.name, "aliases": list(row.aliases), "group": row.group,
         "signature": row.signature, "kind": row.kind, "domain": row.domain,
         "help": row.help, "note": row.note} for row in result.rows]}


@JSON.of(r.TaylorResult)
def _taylor_json(result: r.TaylorResult) -> dict[str, Any]:
    obj = _json_common(result)
    obj["order"] = result.order
    obj["variables"] = result.variables
    obj["direction"] = None if result.direction is None else json_array(result.direction)
    obj["coefficients"] = [json_array(c) for c in result.coefficients]
    obj["derivatives"] = [json_array(d) for d in result.derivatives]
    obj["polynomial"] = result.polynomial
    return obj


@JSON.of(r.PlotResult)
def _plot_json(result: r.PlotResult) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "command": "plot", "expression": one_line(result.expression),
        "at": {name: json_array(v) for name, v in result.at.items()},
        "over": [{"name": n, "lo": lo, "hi": hi} for n, lo, hi in result.over],
    }
    if result.grid is not None:
        gx, gy = result.samples
        obj["x"] = json_array(gx[0])
        obj["y"] = json_array(gy[:, 0])
        obj["z"] = json_array(result.grid["z"])
        obj["gradient"] = {"u": json_array(result.grid["u"]), "v": json_array(result.grid["v"])}
    else:
        obj["x"] = json_array(result.samples)
        obj["series"] = {k: json_array(v) for k, v in result.series.items()}
    if result.mark:
        obj["mark"] = {k: json_number(v) for k, v in result.mark.items()}
    return obj


def to_json(result: Any) -> str:
    import json

    return json.dumps(to_json_object(result), ensure_ascii=False, allow_nan=False)


def write_json(result: Any, out: Any) -> None:
    """`to_json(result)` and a newline, written piece by piece: a matrix goes out one
    row at a time, so a 3000 x 3000 Jacobian never exists as one list or one string."""
    import json

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)

    out.write("{")
    for k, (key, value) in enumerate(_raw_json_object(result).items()):
        out.write((", " if k else "") + dumps(key) + ": ")
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            out.write("[")
            for i, row in enumerate(value):
                out.write((", " if i else "") + dumps(json_array(row)))
            out.write("]")
        else:
            out.write(dumps(value))
    out.write("}\n")


# -- CSV -------------------------------------------------------------------------------
COLUMNS = View("columns")
"""A result's columns, one at a time (`columns.each_result_column`, one point)."""


def record_columns(result: Any) -> list[tuple[str, float]]:
    """One record of named numbers: the CSV row (and the batch output's columns)."""
    return [(name, float(column[0])) for name, column in COLUMNS(result)]


def _one_point(value: Any) -> np.ndarray:
    """A single point's array, as the one point of a batch."""
    return np.asarray(value, dtype=np.float64)[None]


@COLUMNS.of(r.Result)
def _value_columns(result: r.Result) -> Iterator[tuple[str, np.ndarray]]:
    return names.each_result_column(_one_point(result.value))


@COLUMNS.of(r.GradResult)
def _grad_columns(result: r.GradResult) -> Iterator[tuple[str, np.ndarray]]:
    return names.each_result_column(_one_point(result.value), gradients=[
        (name, _one_point(g)) for name, g in result.gradient.items()])


@COLUMNS.of(r.HessianResult)
def _hessian_columns(result: r.HessianResult) -> Iterator[tuple[str, np.ndarray]]:
    return names.each_result_column(_one_point(result.value), gradients=[
        (name, _one_point(g)) for name, g in result.gradient.items()],
        labels=result.labels, hessian=_one_point(result.hessian))


@COLUMNS.of(r.JacobianResult)
def _jacobian_columns(result: r.JacobianResult) -> Iterator[tuple[str, np.ndarray]]:
    return names.each_result_column(_one_point(result.value), labels=result.labels,
                                jacobian=_one_point(result.jacobian), outputs=result.outputs)


class CsvOut:
    """CSV rows onto a stream; a row of millions of cells (a Jacobian's one record) is
    written in slices, never held as one list or one string."""

    SLICE = 4096

    def __init__(self, out: Any):
        import csv

        self.out = out
        self.rows = csv.writer(out, lineterminator="\n")
        self.cells = csv.writer(out, lineterminator="")

    def writerow(self, row: Any) -> None:
        self.rows.writerow(row)

    def write_long_row(self, cells: Iterator[str]) -> None:
        from itertools import islice

        first = True
        while chunk := list(islice(cells, self.SLICE)):
            if not first:
                self.out.write(",")
            self.cells.writerow(chunk)
            first = False
        self.out.write("\n")


def to_csv(result: Any, precision: int | None = None) -> str:
    import io

    buffer = io.StringIO()
    write_csv(result, precision, buffer)
    return buffer.getvalue()


def write_csv(result: Any, precision: int | None, out: Any) -> None:
    """The CSV view onto `out`: N significant digits with --precision N, else exact repr."""

    def num(x: float) -> str:
        return fmt(x, precision) if precision is not None else repr(float(x))

    CSV(result, CsvOut(out), num)


@CSV.of(r.Result)
def _record_csv(result: r.Result, writer: CsvOut, num: Callable[[float], str]) -> None:
    # two passes over the columns, one at a time: a large Jacobian is never held as text
    writer.write_long_row(name for name, _ in COLUMNS(result))
    writer.write_long_row(num(float(column[0])) for _, column in COLUMNS(result))


@CSV.of(r.PlotResult)
def _plot_csv(result: r.PlotResult, writer: Any, num: Callable[[float], str]) -> None:
    if result.grid is None:
        keys = list(result.series)
        writer.writerow([result.over[0][0], *keys])
        for i, x in enumerate(result.samples):
            writer.writerow([num(x), *(num(result.series[k][i]) for k in keys)])
        return
    (nx, _, _), (ny, _, _) = result.over
    writer.writerow([nx, ny, "f", *names.grad_names(nx, ()), *names.grad_names(ny, ())])
    gx, gy = result.samples
    grid = result.grid
    for index in np.ndindex(gx.shape):
        writer.writerow([num(float(gx[index])), num(float(gy[index])),
                         num(float(grid["z"][index])), num(float(grid["u"][index])),
                         num(float(grid["v"][index]))])


@CSV.of(r.TaylorResult)
def _taylor_csv(result: r.TaylorResult, writer: Any, num: Callable[[float], str]) -> None:
    import json

    writer.writerow(["k", "coefficient", "derivative"])
    for k, (c, d) in enumerate(zip(result.coefficients, result.derivatives, strict=True)):
        cells = [num(float(c)), num(float(d))] if np.ndim(c) == 0 else \
            [json.dumps(json_array(c)), json.dumps(json_array(d))]
        writer.writerow([str(k), *cells])


@CSV.of(r.FunctionsResult)
def _functions_csv(result: r.FunctionsResult, writer: Any, num: Callable[[float], str]
                   ) -> None:
    writer.writerow(["name", "signature", "kind", "domain", "help"])
    for row in result.rows:
        writer.writerow([row.name, row.signature, row.kind, row.domain or "", row.help])


@CSV.of(r.CheckResult)
def _check_csv(result: r.CheckResult, writer: Any, num: Callable[[float], str]) -> None:
    writer.writerow(["component", "autodiff", "numeric", "abs_error", "rel_error", "step",
                     "ok"])
    for c in result.rows:
        writer.writerow([c.component, num(c.autodiff), num(c.numeric), num(c.abs_error),
                         num(c.rel_error), num(c.step), str(c.ok).lower()])


@CSV.of(r.GraphResult)
def _graph_csv(result: r.GraphResult, writer: Any, num: Callable[[float], str]) -> None:
    import json

    writer.writerow(["label", "op", "grad_fn", "shape", "value", "requires_grad",
                     "is_leaf", "grad"])
    for g in result.rows:
        writer.writerow([g.label, g.op, g.grad_fn or "", "x".join(map(str, g.shape)),
                         json.dumps(json_array(g.value)), str(g.requires_grad).lower(),
                         str(g.is_leaf).lower(),
                         "" if g.grad is None else json.dumps(json_array(g.grad))])


# -- the table view ----------------------------------------------------------------------
def _aligned(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            .rstrip() for row in rows]


class Lines:
    """key = value lines."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs

    def plain(self) -> list[str]:
        return [f"{k} = {v}" for k, v in self.pairs]

    def rich(self) -> Any:
        from rich.table import Table

        table = Table(show_header=False, box=None, padding=(0, 1))
        table.add_column(style="cyan")
        table.add_column()
        for k, v in self.pairs:
            table.add_row(k, v)
        return table


class Grid:
    """A matrix with labelled rows and columns."""

    def __init__(self, title: str, row_labels: list[str], column_labels: list[str],
                 cells: list[list[str]]):
        self.title = title
        self.row_labels = row_labels
        self.column_labels = column_labels
        self.cells = cells

    def plain(self) -> list[str]:
        return [f"{self.title}:", *_aligned(
            [["", *self.column_labels]] +
            [[label, *row] for label, row in zip(self.row_labels, self.cells, strict=True)],
            indent="  ")]

    def rich(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, title_justify="left")
        table.add_column("")
        for label in self.column_labels:
            table.add_column(label, justify="right")
        for label, row in zip(self.row_labels, self.cells, strict=True):
            table.add_row(label, *row, style=None)
        return table


class Rows:
    """Rows under a header."""

    def __init__(self, headers: list[str], rows: list[list[str]]):
        self.headers = headers
        self.rows = rows

    def plain(self) -> list[str]:
        return _aligned([self.headers, *self.rows], indent="")

    def rich(self) -> Any:
        from rich.table import Table

        table = Table()
        for header in self.headers:
            table.add_column(header)
        for row in self.rows:
            table.add_row(*row)
        return table


Block = Lines | Grid | Rows


def one_line(expression: str) -> str:
    """A program written over several lines (from @FILE or stdin), shown on one.

    Lines end where the grammar ends them, at \n (or \r\n): a lone \r, a form feed
    is whitespace inside a statement, as a tab is, and is shown escaped, not as "; "
    (str.splitlines would also split at \r, \f, \x85 and U+2028)."""
    lines = [line.split("#", 1)[0].strip(" \t\f\r")
             for line in expression.strip(" \t\f\r\n").split("\n")]
    return "; ".join(line for line in lines if line)


def _heading(result: Any, p: int) -> str:
    """The title: command, expression and point, shown safely and elided when huge."""
    from gradcli.language.diagnostics import elide, shown

    point = ", ".join(f"{elide(n)} = {elide(fmt_array(v, p))}" for n, v in result.at.items())
    title = f"{result.command} {elide(one_line(result.expression))}"
    return shown(title + (f"  at {point}" if point else ""))


def table_view(result: Any, precision: int = 6) -> tuple[str, list[Block]]:
    """The title and the blocks of the table view."""
    title, blocks = TABLE(result, precision)
    return title, blocks


def _value_block(result: Any, p: int) -> Lines:
    return Lines([("value", fmt_array(result.value, p))])


def _gradient_block(result: Any, p: int) -> Lines:
    return Lines([(f"∂/∂{n}", fmt_array(g, p)) for n, g in result.gradient.items()])


@TABLE.of(r.Result)
def _value_table(result: r.Result, p: int) -> tuple[str, list[Block]]:
    return _heading(result, p), [_value_block(result, p)]


@TABLE.of(r.GradResult)
def _grad_table(result: r.GradResult, p: int) -> tuple[str, list[Block]]:
    value = _value_block(result, p)
    if result.seed is not None:
        value.pairs.append(("seed", fmt_array(result.seed, p)))
    return _heading(result, p), [value, _gradient_block(result, p)]


@TABLE.of(r.HessianResult)
def _hessian_table(result: r.HessianResult, p: int) -> tuple[str, list[Block]]:
    blocks: list[Block] = [_value_block(result, p), _gradient_block(result, p),
                           Grid("hessian", result.labels, result.labels,
                                [[fmt(v, p) for v in row] for row in result.hessian])]
    verdict = result.verdict
    if verdict is not None:
        blocks.append(Lines([("eigenvalues", fmt_array(verdict.eigenvalues, p)),
                             ("‖g‖∞", _gradient_test(verdict, p)),
                             ("point", verdict.classification)]))
    return _heading(result, p), blocks


def _gradient_test(verdict: Any, p: int) -> str:
    """‖g‖∞ and what it was held against, so a verdict is never a mystery."""
    if verdict.bound_from == "gtol":
        limit = fmt(verdict.gradient_bound, p)
        return f"{fmt(verdict.gradient_norm, p)} (zero if at most --gtol {limit})"
    bound = np.asarray(verdict.gradient_bound)
    largest = fmt(float(np.max(bound, initial=0.0)), p)
    return f"{fmt(verdict.gradient_norm, p)} (zero if each |gᵢ| is within its rounding bound, " \
        f"largest {largest})"


@TABLE.of(r.JacobianResult)
def _jacobian_table(result: r.JacobianResult, p: int) -> tuple[str, list[Block]]:
    return _heading(result, p), [
        _value_block(result, p),
        Grid(f"jacobian (rows: outputs, columns: inputs; {result.mode} mode)",
             result.outputs, result.labels,
             [[fmt(v, p) for v in row] for row in result.jacobian])]


@TABLE.of(r.GraphResult)
def _graph_table(result: r.GraphResult, p: int) -> tuple[str, list[Block]]:
    return _heading(result, p), [_value_block(result, p), Rows(
        ["label", "op", "grad_fn", "shape", "value", "requires_grad", "is_leaf", "grad"],
        [[g.label, g.op, g.grad_fn or "", "x".join(map(str, g.shape)) or "()",
          fmt_array(g.value, p), str(g.requires_grad), str(g.is_leaf),
          "" if g.grad is None else fmt_array(g.grad, p)] for g in result.rows])]


_CHECK_STATUS = {"ok": "ok", "mismatch": "NO", "unresolved": "unresolved here",
                 "undefined": "undefined here"}


@TABLE.of(r.CheckResult)
def _check_table(result: r.CheckResult, p: int) -> tuple[str, list[Block]]:
    mismatch = any(row.status == "mismatch" for row in result.rows)
    verdict = "all agree" if result.ok else "MISMATCH" if mismatch else "not confirmed"
    undefined = sum(row.status == "undefined" for row in result.rows)
    if undefined:
        verdict += f" ({undefined} undefined here, not compared)"
    unresolved = sum(row.status == "unresolved" for row in result.rows)
    if unresolved:
        verdict += (f" ({unresolved} finite difference unresolved here: try a point away "
                    "from a kink or a looser --rtol)")
    return _heading(result, p), [_value_block(result, p), Rows(
        ["component", "autodiff", "finite difference", "abs error", "rel error", "step",
         "ok"],
        [[c.component, fmt(c.autodiff, p), fmt(c.numeric, p), fmt(c.abs_error, p),
          fmt(c.rel_error, p), fmt(c.step, p), _CHECK_STATUS[c.status]]
         for c in result.rows]),
        Lines([("result", f"{verdict} within rtol={result.rtol:g}, atol={result.atol:g}")])]


@TABLE.of(r.FunctionsResult)
def _functions_table(result: r.FunctionsResult, p: int) -> tuple[str, list[Block]]:
    # grouped: the group's name on its first row; aliases next to their function
    return "gradcli functions", [Rows(["group", "name", "signature", "domain", "help"], [
        ["" if k and result.rows[k - 1].group == row.group else row.group,
         row.name + (f" ({', '.join(row.aliases)})" if row.aliases else ""),
         row.signature,
         row.domain or ("all reals" if row.kind in ("elementwise", "binary") else ""),
         row.help + (f" ({row.note})" if row.note else "")]
        for k, row in enumerate(result.rows)])]


def render_plain(title: str, blocks: list[Block]) -> str:
    return "\n".join([title, *(line for block in blocks for line in block.plain())]) + "\n"


# -- diff: formulas -------------------------------------------------------------------------
# JSON keys: order 1 {"command": "diff", "expression", "order", "formulas": {variable:
# formula}} (a non-scalar f: "outputs" and, per variable, one formula per output); order 2
# "labels" and "hessian", a square list of formula strings; "values" alongside, in the same
# layout, when the bindings gave a point.
@JSON.of(r.DiffResult)
def _diff_json(result: r.DiffResult) -> dict[str, Any]:
    obj: dict[str, Any] = {"command": "diff", "expression": one_line(result.expression),
                           "order": result.order}
    if result.hessian is not None:
        obj["labels"] = result.labels
        obj["hessian"] = [[f.text for f in row] for row in result.hessian]
        if result.values is not None:
            obj["values"] = [[json_array(v) for v in row] for row in result.values]
    elif result.jacobian is not None:
        obj["outputs"] = result.outputs
        obj["formulas"] = {n: [row[n].text for row in result.jacobian]
                           for n in result.variables}
        if result.values is not None:
            obj["values"] = {n: [json_array(row[n]) for row in result.values]
                             for n in result.variables}
    else:
        assert result.formulas is not None
        obj["formulas"] = {n: f.text for n, f in result.formulas.items()}
        if result.values is not None:
            obj["values"] = {n: json_array(v) for n, v in result.values.items()}
    return obj


@LATEX.of(r.DiffResult)
def _diff_latex(result: r.DiffResult) -> str:
    """One line of LaTeX per formula (a matrix for order 2 or a non-scalar f)."""
    from gradcli.formula.latex import latex_name, matrix

    if result.hessian is not None:
        return matrix([[f.latex() for f in row] for row in result.hessian]) + "\n"
    if result.jacobian is not None:
        return matrix([[row[n].latex() for n in result.variables]
                       for row in result.jacobian]) + "\n"
    assert result.formulas is not None
    if len(result.formulas) == 1:
        return next(iter(result.formulas.values())).latex() + "\n"
    return "".join(rf"\frac{{\partial f}}{{\partial {latex_name(n)}}} = {f.latex()}" + "\n"
                   for n, f in result.formulas.items())


@TABLE.of(r.TaylorResult)
def _taylor_table(result: r.TaylorResult, p: int) -> tuple[str, list[Block]]:
    blocks: list[Block] = []
    if result.direction is not None:
        blocks.append(Lines([("direction", fmt_array(result.direction, p))]))
    power = result.variable if result.direction is not None else \
        f"({result.variable} - a)" if float(np.asarray(result.at[result.variable]).reshape(-1)[0]) \
        else result.variable
    blocks.append(Rows(["k", f"coefficient of {power}^k", "derivative k! c_k"],
                       [[str(k), fmt_array(c, p), fmt_array(d, p)] for k, (c, d) in
                        enumerate(zip(result.coefficients, result.derivatives, strict=True))]))
    if result.polynomial is not None:
        blocks.append(Lines([("series", result.polynomial)]))
    return _heading(result, p), blocks


@TABLE.of(r.DiffResult)
def _diff_table(result: r.DiffResult, p: int) -> tuple[str, list[Block]]:
    blocks: list[Block] = []
    if result.hessian is not None:
        assert result.labels is not None
        blocks.append(Grid("second derivatives", result.labels, result.labels,
                           [[f.text for f in row] for row in result.hessian]))
        if result.values is not None:
            blocks.append(Grid("their values", result.labels, result.labels,
                               [[fmt_array(v, p) for v in row] for row in result.values]))
    elif result.jacobian is not None:
        assert result.outputs is not None
        blocks.append(Grid("jacobian (rows: outputs, columns: variables)", result.outputs,
                           result.variables,
                           [[row[n].text for n in result.variables] for row in result.jacobian]))
        if result.values is not None:
            blocks.append(Grid("their values", result.outputs, result.variables,
                               [[fmt_array(row[n], p) for n in result.variables]
                                for row in result.values]))
    else:
        assert result.formulas is not None
        if result.values is None:
            blocks.append(Lines([(f"∂/∂{n}", f.text) for n, f in result.formulas.items()]))
        else:
            blocks.append(Rows(["", "formula", "value"],
                               [[f"∂/∂{n}", f.text, fmt_array(result.values[n], p)]
                                for n, f in result.formulas.items()]))
    return _heading(result, p), blocks
