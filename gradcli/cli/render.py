"""Three views of one result object: a table for people, JSON and CSV for scripts.

The table view is built as neutral blocks (key/value lines, labelled grids,
rows under headers) and drawn by Rich on a terminal, or as plain aligned text
anywhere else, so output piped to a file carries no escape codes and needs no
Rich import.

JSON is strict RFC 8259: non-finite numbers become the strings "nan", "inf"
and "-inf"; arrays are nested lists in the value's shape. Keys are the
documented contract (README, "JSON output").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli import results as r
from gradcli.numbers import json_number

# -- numbers ---------------------------------------------------------------------------


def json_array(value: Any) -> Any:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return json_number(float(array))
    return [json_array(v) for v in array]


def fmt(x: float, precision: int) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{precision}g}"
    return "0" if text == "-0" else text


def fmt_array(value: Any, precision: int) -> str:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return fmt(float(array), precision)
    return "[" + ", ".join(fmt_array(v, precision) for v in array) + "]"


# -- JSON ------------------------------------------------------------------------------
def to_json_object(result: Any) -> dict[str, Any]:
    if isinstance(result, r.PlotResult):
        return _plot_json(result)
    if isinstance(result, r.FunctionsResult):
        return {"command": "functions", "functions": [
            {"name": row.name, "aliases": list(row.aliases), "group": row.group,
             "signature": row.signature, "kind": row.kind, "domain": row.domain,
             "help": row.help, "note": row.note} for row in result.rows]}
    obj: dict[str, Any] = {
        "command": result.command,
        "expression": result.expression,
        "at": {name: json_array(v) for name, v in result.at.items()},
        "value": json_array(result.value),
    }
    if isinstance(result, r.GradResult):
        obj["gradient"] = {n: json_array(g) for n, g in result.gradient.items()}
        if result.seed is not None:
            obj["seed"] = json_array(result.seed)
    elif isinstance(result, r.HessianResult):
        obj["gradient"] = {n: json_array(g) for n, g in result.gradient.items()}
        obj["labels"] = result.labels
        obj["hessian"] = json_array(result.hessian)
        if result.eigenvalues is not None:
            obj["eigenvalues"] = json_array(result.eigenvalues)
            obj["classification"] = result.classification
    elif isinstance(result, r.JacobianResult):
        obj["outputs"] = result.outputs
        obj["labels"] = result.labels
        obj["jacobian"] = json_array(result.jacobian)
        obj["mode"] = result.mode
    elif isinstance(result, r.GraphPictureResult):
        obj["order"] = result.order
        obj["nodes"] = [{
            "id": v.id, "kind": v.kind, "label": v.label, "op": v.op, "output": v.output,
            "shape": list(v.shape), "value": None if v.value is None else json_array(v.value),
            "grad": None if v.grad is None else json_array(v.grad),
        } for v in result.model.vertices]
        obj["edges"] = [list(e) for e in result.model.edges]
    elif isinstance(result, r.GraphResult):
        obj["nodes"] = [{
            "label": row.label, "op": row.op, "grad_fn": row.grad_fn, "shape": list(row.shape),
            "value": json_array(row.value), "requires_grad": row.requires_grad,
            "is_leaf": row.is_leaf, "grad": None if row.grad is None else json_array(row.grad),
        } for row in result.rows]
        if result.seed is not None:
            obj["seed"] = json_array(result.seed)
    elif isinstance(result, r.CheckResult):
        obj["order"] = result.order
        obj["rtol"] = result.rtol
        obj["atol"] = result.atol
        obj["ok"] = result.ok
        obj["components"] = [{
            "component": row.component, "autodiff": json_number(row.autodiff),
            "numeric": json_number(row.numeric), "abs_error": json_number(row.abs_error),
            "rel_error": json_number(row.rel_error), "step": row.step, "ok": row.ok,
        } for row in result.rows]
    if result.warnings:
        obj["warnings"] = list(result.warnings)
    return obj


def _plot_json(result: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "command": "plot", "expression": result.expression,
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
    if result.warnings:
        obj["warnings"] = list(result.warnings)
    return obj


def to_json(result: Any) -> str:
    import json

    return json.dumps(to_json_object(result), ensure_ascii=False, allow_nan=False)


# -- CSV -------------------------------------------------------------------------------
def flat_columns(prefix: str, value: Any) -> list[tuple[str, float]]:
    """value -> [("value", v)] or [("value[0]", v0), ...], the batch column names."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return [(prefix, float(array))]
    return [(f"{prefix}[{','.join(map(str, i))}]", float(array[i]))
            for i in np.ndindex(array.shape)]


def _variable_columns(prefix: str, name: str, value: Any) -> list[tuple[str, float]]:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return [(f"{prefix}[{name}]", float(array))]
    return [(f"{prefix}[{name}[{','.join(map(str, i))}]]", float(array[i]))
            for i in np.ndindex(array.shape)]


def record_columns(result: Any) -> list[tuple[str, float]]:
    """One record of named numbers: the CSV row (and the batch output's columns)."""
    columns = flat_columns("value", result.value)
    if isinstance(result, (r.GradResult, r.HessianResult)):
        for name, g in result.gradient.items():
            columns += _variable_columns("grad", name, g)
    if isinstance(result, r.HessianResult):
        for i, a in enumerate(result.labels):
            for j, b in enumerate(result.labels):
                columns.append((f"hess[{a},{b}]", float(result.hessian[i, j])))
    if isinstance(result, r.JacobianResult):
        for i, out in enumerate(result.outputs):
            for j, inp in enumerate(result.labels):
                columns.append((f"jac[{out},{inp}]", float(result.jacobian[i, j])))
    return columns


def to_csv(result: Any, precision: int | None = None) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    import json

    def num(x: float) -> str:
        return fmt(x, precision) if precision is not None else repr(float(x))

    if isinstance(result, r.PlotResult) and result.grid is None:
        keys = list(result.series)
        writer.writerow([result.over[0][0], *keys])
        for i, x in enumerate(result.samples):
            writer.writerow([num(x), *(num(result.series[k][i]) for k in keys)])
    elif isinstance(result, r.PlotResult):
        (nx, _, _), (ny, _, _) = result.over
        writer.writerow([nx, ny, "f", f"grad[{nx}]", f"grad[{ny}]"])
        gx, gy = result.samples
        grid: dict[str, np.ndarray] = result.grid or {}
        for index in np.ndindex(gx.shape):
            writer.writerow([num(float(gx[index])), num(float(gy[index])),
                             num(float(grid["z"][index])), num(float(grid["u"][index])),
                             num(float(grid["v"][index]))])
    elif isinstance(result, r.FunctionsResult):
        writer.writerow(["name", "signature", "kind", "domain", "help"])
        for row in result.rows:
            writer.writerow([row.name, row.signature, row.kind, row.domain or "", row.help])
    elif isinstance(result, r.CheckResult):
        writer.writerow(["component", "autodiff", "numeric", "abs_error", "rel_error", "step",
                         "ok"])
        for c in result.rows:
            writer.writerow([c.component, num(c.autodiff), num(c.numeric), num(c.abs_error),
                             num(c.rel_error), num(c.step), str(c.ok).lower()])
    elif isinstance(result, r.GraphResult):
        writer.writerow(["label", "op", "grad_fn", "shape", "value", "requires_grad",
                         "is_leaf", "grad"])
        for g in result.rows:
            writer.writerow([g.label, g.op, g.grad_fn or "", "x".join(map(str, g.shape)),
                             json.dumps(json_array(g.value)), str(g.requires_grad).lower(),
                             str(g.is_leaf).lower(),
                             "" if g.grad is None else json.dumps(json_array(g.grad))])
    else:
        columns = record_columns(result)
        writer.writerow([name for name, _ in columns])
        writer.writerow([num(v) for _, v in columns])
    return buffer.getvalue()


# -- the table view ----------------------------------------------------------------------
class Lines:
    """key = value lines."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs


class Grid:
    """A matrix with labelled rows and columns."""

    def __init__(self, title: str, row_labels: list[str], column_labels: list[str],
                 cells: list[list[str]]):
        self.title = title
        self.row_labels = row_labels
        self.column_labels = column_labels
        self.cells = cells


class Rows:
    """Rows under a header."""

    def __init__(self, headers: list[str], rows: list[list[str]]):
        self.headers = headers
        self.rows = rows


Block = Lines | Grid | Rows


def one_line(expression: str) -> str:
    """A program written over several lines (from @FILE or stdin), shown on one."""
    lines = [line.split("#", 1)[0].strip() for line in expression.strip().splitlines()]
    return "; ".join(line for line in lines if line)


def _heading(result: Any) -> str:
    point = ", ".join(f"{n} = {fmt_array(v, 6)}" for n, v in result.at.items())
    return f"{result.command} {one_line(result.expression)}" + (f"  at {point}" if point else "")


def table_view(result: Any, precision: int = 6) -> tuple[str, list[Block]]:
    p = precision
    if isinstance(result, r.FunctionsResult):
        # grouped: the group's name on its first row; aliases next to their function
        return "gradcli functions", [Rows(["group", "name", "signature", "domain", "help"], [
            ["" if k and result.rows[k - 1].group == row.group else row.group,
             row.name + (f" ({', '.join(row.aliases)})" if row.aliases else ""),
             row.signature,
             row.domain or ("all reals" if row.kind in ("elementwise", "binary") else ""),
             row.help + (f" ({row.note})" if row.note else "")]
            for k, row in enumerate(result.rows)])]
    blocks: list[Block] = [Lines([("value", fmt_array(result.value, p))])]
    if isinstance(result, r.GradResult):
        if result.seed is not None:
            blocks[0].pairs.append(("seed", fmt_array(result.seed, p)))  # type: ignore[union-attr]
        blocks.append(Lines([(f"∂/∂{n}", fmt_array(g, p)) for n, g in result.gradient.items()]))
    elif isinstance(result, r.HessianResult):
        blocks.append(Lines([(f"∂/∂{n}", fmt_array(g, p)) for n, g in result.gradient.items()]))
        blocks.append(Grid("hessian", result.labels, result.labels,
                           [[fmt(v, p) for v in row] for row in result.hessian]))
        if result.eigenvalues is not None:
            blocks.append(Lines([("eigenvalues", fmt_array(result.eigenvalues, p)),
                                 ("point", result.classification or "")]))
    elif isinstance(result, r.JacobianResult):
        blocks.append(Grid(f"jacobian (rows: outputs, columns: inputs; {result.mode} mode)",
                           result.outputs, result.labels,
                           [[fmt(v, p) for v in row] for row in result.jacobian]))
    elif isinstance(result, r.GraphResult):
        blocks.append(Rows(
            ["label", "op", "grad_fn", "shape", "value", "requires_grad", "is_leaf", "grad"],
            [[g.label, g.op, g.grad_fn or "", "x".join(map(str, g.shape)) or "()",
              fmt_array(g.value, p), str(g.requires_grad), str(g.is_leaf),
              "" if g.grad is None else fmt_array(g.grad, p)] for g in result.rows]))
    elif isinstance(result, r.CheckResult):
        verdict = "all agree" if result.ok else "MISMATCH"
        blocks.append(Rows(
            ["component", "autodiff", "finite difference", "abs error", "rel error", "step",
             "ok"],
            [[c.component, fmt(c.autodiff, p), fmt(c.numeric, p), fmt(c.abs_error, 3),
              fmt(c.rel_error, 3), fmt(c.step, 3), "ok" if c.ok else "NO"]
             for c in result.rows]))
        blocks.append(Lines([("result", f"{verdict} within rtol={result.rtol:g}, "
                                        f"atol={result.atol:g}")]))
    return _heading(result), blocks


def render_plain(title: str, blocks: list[Block]) -> str:
    out = [title]
    for block in blocks:
        if isinstance(block, Lines):
            out += [f"{k} = {v}" for k, v in block.pairs]
        elif isinstance(block, Grid):
            out.append(f"{block.title}:")
            out += _aligned([["", *block.column_labels]] +
                            [[label, *row] for label, row in zip(block.row_labels, block.cells,
                                                                   strict=True)],
                            indent="  ")
        else:
            out += _aligned([block.headers, *block.rows], indent="")
    return "\n".join(out) + "\n"


def _aligned(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            .rstrip() for row in rows]


def render_rich(title: str, blocks: list[Block], console: Any) -> None:
    from rich.table import Table

    console.print(f"[bold]{title}[/bold]", highlight=False)
    for block in blocks:
        if isinstance(block, Lines):
            table = Table(show_header=False, box=None, padding=(0, 1))
            table.add_column(style="cyan")
            table.add_column()
            for k, v in block.pairs:
                table.add_row(k, v)
        elif isinstance(block, Grid):
            table = Table(title=block.title, title_justify="left")
            table.add_column("")
            for label in block.column_labels:
                table.add_column(label, justify="right")
            for label, row in zip(block.row_labels, block.cells, strict=True):
                table.add_row(label, *row, style=None)
        else:
            table = Table()
            for header in block.headers:
                table.add_column(header)
            for row in block.rows:
                table.add_row(*row)
        console.print(table)
