"""Running one command: check the options, read the inputs, make one library call,
render the result.

Both front ends end in `execute`, which checks every option against its row in
the spec and hands the command to its runner inside the one error boundary
(`cli/boundary.py`). The runners here are thin: what they compute comes from
the library function the command's row names.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from gradcli.cli.boundary import Session, guard
from gradcli.cli.spec import GRAPH_FORMATS, JSON_FORMATS, Invocation, Option, resolve
from gradcli.errors import (
    EXIT_NOT_GOOD,
    EXIT_OK,
    ArgumentError,
    GradcliError,
    InputError,
    MissingToolError,
    WriteError,
    option_name,
)


def execute(invocation: Invocation, out: TextIO | None = None, err: TextIO | None = None
            ) -> int:
    """Run one parsed command line and return its exit code; nothing escapes."""
    return execute_keeping(invocation, out, err)[0]


def execute_keeping(invocation: Invocation, out: TextIO | None = None,
                    err: TextIO | None = None) -> tuple[int, Any]:
    """`execute`, also giving back the result object the command rendered (None if
    it rendered none: an error, a batch over points): `gradcli repl` keeps it as `ans`."""
    err = err or sys.stderr
    session = Session(out if out is not None else sys.stdout, err,
                      json_errors=invocation.value("format") in JSON_FORMATS)

    def body(session: Session) -> int:
        values = checked_values(invocation)
        runner = resolve(invocation.command.runner)
        code: int = runner(invocation, values, session)
        return code

    code = guard(body, session, what=f"gradcli {invocation.command.name}")
    return code, session.result


def checked_values(invocation: Invocation) -> dict[str, Any]:
    """Every option of the command: the given ones checked and converted, the rest default."""
    values = {}
    for option in invocation.command.options:
        if option.field in invocation.given:
            values[option.field] = checked(option, invocation.given[option.field])
        else:
            values[option.field] = option.default
    return values


def checked(option: Option, value: Any, *, job: bool = False) -> Any:
    """One option's value, checked against its row and turned into what the library takes.

    Messages name the option as the user wrote it: `--rtol` on the command line,
    `rtol` in a batch job."""
    name = option_name(option.field)
    if option.choices is not None and value not in option.choices:
        shown = ", ".join(map(str, option.choices))
        raise ArgumentError(f"{name} must be one of {shown}, not {value!r}")
    if option.check is not None:
        complaint = option.check(value)
        if complaint:
            raise ArgumentError(f"{name} {complaint}")
    convert = option.convert_job if job else option.convert
    if convert is None:
        return value
    try:
        return convert(value)
    except GradcliError as error:
        if error.source is None and isinstance(value, str):
            error.source = value
        error.message = f"{name}: {error.message}"
        raise
    except ValueError as exc:
        raise ArgumentError(f"{name} {exc}") from None


def read_expression(source: str) -> str:
    """The expression itself, '-' for standard input, or '@path' for a file."""
    if source == "-":
        if sys.stdin is None:
            raise InputError("standard input is closed", hint="give the expression itself")
        return sys.stdin.read()
    if source.startswith("@") and len(source) > 1:
        path = source[1:]
        try:
            # as standard input is read: a byte that is not UTF-8 is kept (surrogateescape)
            # and reported by the parser as an unexpected byte, with a caret
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                return f.read()
        except FileNotFoundError:
            raise InputError(f"no such file: {path}",
                             hint="give an existing file after @, or the expression itself") \
                from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return source


def bindings(items: list[str]) -> dict[str, Any]:
    from gradcli.language.values import parse_binding

    at: dict[str, Any] = {}
    for item in items:
        try:
            name, value = parse_binding(item)
        except GradcliError as error:
            error.source = item
            raise
        if name in at:
            duplicate = ArgumentError(f"{name} is given a value twice")
            duplicate.source = item
            raise duplicate
        at[name] = value
    return at


# -- the expression commands: eval, grad, hessian, jacobian, graph, check ----------------------
def run_point(invocation: Invocation, values: dict[str, Any], session: Session) -> int:
    command = invocation.command
    format = values["format"]
    points = values.get("points")
    session.source = invocation.arguments["expression"]
    if points:
        _check_point_format(invocation, format, values.get("out"))
    elif format in ("jsonl", "npz"):
        raise ArgumentError(f"--format {format} goes with --points (a file of points)",
                            hint="for one point use --format json or csv")
    text = session.source = read_expression(invocation.arguments["expression"])
    at = bindings([*invocation.arguments.get("bindings", []), *values["at"]])
    if points:
        from gradcli.batch.cluster.scheduler import scheduler_address

        scheduler = scheduler_address(values["scheduler"])
        if scheduler is not None:
            return _run_on_cluster(command.name, text, at, scheduler, values, session)
        if values["overwrite"]:
            raise ArgumentError("--overwrite goes with --scheduler (an output directory)",
                                hint="a single --out file is always replaced whole")
        from gradcli.batch.run import run_points

        code: int = run_points(command.name, text, at, points, out_path=values["out"],
                               requested_format=format if "format" in invocation.given
                               else None,
                               points_format=values["points_format"],
                               chunk_size=values["chunk_size"],
                               fail_fast=values["fail_fast"], strict=values["strict"],
                               quiet=values["quiet"], wrt=values.get("wrt"),
                               mode=values.get("mode", "auto"), out=session.out,  # type: ignore[arg-type]
                               err=session.err, engine=values.get("engine"),
                               math=values.get("math", "accurate"))
        return code
    if values.get("scheduler") or values.get("overwrite"):
        raise ArgumentError("--scheduler and --overwrite go with --points (a file of points)")
    if values.get("out"):
        raise ArgumentError("--out goes with --points (a file of points)",
                            hint="for one point, redirect the output: ... > file.json")
    for field in ("engine", "math"):  # a batch back end: one point always runs the engine
        if field in invocation.given:
            raise ArgumentError(f"{option_name(field)} goes with --points (a file of points)",
                                hint="one point is computed by gradcli's engine; drop it, "
                                     "or give --points FILE")
    library = {option.field: values[option.field] for option in command.job_options}
    if command.name == "graph":
        library["picture"] = format in GRAPH_FORMATS or values["render"] is not None
    assert command.call is not None
    result = session.result = resolve(command.call)(text, at, **library)
    for warning in result.warnings:
        session.err.write(f"warning: {warning}\n")
    if values.get("render"):
        _render_file(result, values["render"], session.err)
    else:
        render(result, format, invocation.given.get("precision"), session.out)
    if getattr(result, "ok", True) is False:
        return EXIT_NOT_GOOD
    if values["strict"] and result.nonfinite:
        session.err.write("error: a non-finite value appeared and --strict is set\n")
        return EXIT_NOT_GOOD
    return EXIT_OK


def _run_on_cluster(command: str, text: str, at: dict[str, Any], scheduler: str,
                    values: dict[str, Any], session: Session) -> int:
    from gradcli.batch.cluster.run import run_on_cluster

    if values["fail_fast"]:
        raise ArgumentError("--fail-fast does not go with --scheduler: units run at once, "
                            "so there is no first bad row to stop at")
    format = values["format"]
    return run_on_cluster(command, text, at, values["points"], scheduler=scheduler,
                          out_dir=values["out"],
                          requested_format=None if format == "table" else format,
                          points_format=values["points_format"],
                          overwrite=values["overwrite"], strict=values["strict"],
                          wrt=values.get("wrt"), mode=values.get("mode", "auto"),
                          chunk_size=values["chunk_size"], err=session.err,
                          quiet=values["quiet"])


def _check_point_format(invocation: Invocation, format: str, out_path: str | None) -> None:
    if format == "table" and "format" in invocation.given:
        raise ArgumentError("--format table does not go with --points: the records are a file",
                            hint="use --format csv, json, jsonl or npz (or leave --format out "
                                 "for CSV)")
    if format == "npz" and not out_path:
        raise ArgumentError("--format npz needs --out FILE.npz (NPZ cannot go to stdout)",
                            hint="add --out FILE.npz, or use --format csv or jsonl")


def use_colour(stream: Any) -> bool:
    return bool(stream.isatty()) and "NO_COLOR" not in os.environ


def render(result: Any, format: str, precision: int | None, out: Any) -> None:
    """The result in the requested view: a table, JSON, CSV, or a picture of a graph."""
    from gradcli.cli import render as views

    if views.is_picture(result) and format != "json":
        _render_picture(result, format, out)
    elif format == "json":
        views.write_json(result, out)
    elif format == "csv":
        views.write_csv(result, precision, out)
    elif format == "latex":
        out.write(views.LATEX(result))
    else:
        # a terminal gets the same shape as a pipe (the README's "value = 12"); colour
        # there is the title in bold, and NO_COLOR (no-color.org) leaves no escape at all
        title, blocks = views.table_view(result, 6 if precision is None else precision)
        bold = use_colour(out) and os.environ.get("TERM") != "dumb"
        out.write(views.render_plain(f"\x1b[1m{title}\x1b[0m" if bold else title, blocks))


def _picture_title(result: Any) -> str:
    from gradcli.cli.render import one_line

    kind = "the gradient's graph (create_graph)" if result.order == 2 else "graph"
    return f"{kind} of {one_line(result.expression)}"


def _render_picture(result: Any, format: str, out: Any) -> None:
    from gradcli.drawing import graph

    if format == "dot":
        out.write(graph.to_dot(result.model, _picture_title(result)))
    elif format == "mermaid":
        out.write(graph.to_mermaid(result.model, _picture_title(result)))
    else:
        from rich.console import Console

        # Rich's no_color still writes bold: with NO_COLOR it writes no escape at all
        console = Console(file=out, highlight=False,
                          force_terminal=None if use_colour(out) else False)
        console.print(graph.to_tree(result.model, _picture_title(result)))


def _render_file(result: Any, path: str, err: TextIO) -> None:
    """--render: the graph drawn by Graphviz's dot into an SVG, PNG or PDF file."""
    import shutil
    import subprocess

    from gradcli.drawing import graph

    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if extension not in ("svg", "png", "pdf"):
        raise ArgumentError(f"--render {path}: the file must end in .svg, .png or .pdf")
    dot = shutil.which("dot")
    if dot is None:
        raise MissingToolError(
            "--render needs Graphviz's 'dot' program, which is not installed",
            hint="install Graphviz (apt-get install graphviz, brew install graphviz, or "
                 "graphviz.org), or use --format dot and render the source elsewhere")
    source = graph.to_dot(result.model, _picture_title(result))
    done = subprocess.run([dot, f"-T{extension}", "-o", path], input=source, text=True,
                          capture_output=True)
    if done.returncode != 0:
        raise WriteError(f"dot could not write {path}: {done.stderr.strip()}")
    err.write(f"wrote {path}\n")


# -- functions and plot ---------------------------------------------------------------------
def run_functions(invocation: Invocation, values: dict[str, Any], session: Session) -> int:
    assert invocation.command.call is not None
    result = resolve(invocation.command.call)(invocation.arguments.get("name") or None)
    render(result, values["format"], None, session.out)
    return EXIT_OK


def parse_range(text: str) -> tuple[str, float, float]:
    """--over NAME=LO:HI, where LO and HI are constant expressions (0, -pi, 2*pi)."""
    from gradcli.language.values import parse_value

    name, sep, bounds = text.partition("=")
    lo_text, colon, hi_text = bounds.partition(":")
    if not sep or not colon or not name.strip().isidentifier():
        raise ArgumentError(f"--over {text}: write NAME=LO:HI, e.g. --over x=-6:6")
    try:
        lo, hi = float(parse_value(lo_text)), float(parse_value(hi_text))
    except (GradcliError, TypeError, ValueError):
        raise ArgumentError(f"--over {text}: LO and HI must be numbers, e.g. -6 or -pi") \
            from None
    return name.strip(), lo, hi


def run_plot(invocation: Invocation, values: dict[str, Any], session: Session) -> int:
    if not values["over"]:
        raise ArgumentError("plot needs a range: give --over NAME=LO:HI, e.g. --over x=-6:6")
    session.source = invocation.arguments["expression"]
    text = session.source = read_expression(invocation.arguments["expression"])
    assert invocation.command.call is not None
    result = resolve(invocation.command.call)(
        text, bindings(invocation.arguments.get("bindings", [])),
        [parse_range(o) for o in values["over"]], order=values["order"],
        samples=values["samples"], mark=bindings(values["at"]) or None)
    for warning in result.warnings:
        session.err.write(f"warning: {warning}\n")
    from gradcli.drawing import plot as drawing

    out_file, format = values["out"], values["format"]
    if out_file:
        drawing.save_image(result, out_file)
        session.err.write(f"wrote {out_file}\n")
    elif format in ("json", "csv"):
        render(result, format, None, session.out)
    else:
        import shutil

        columns = values["width"] or shutil.get_terminal_size((100, 24)).columns
        session.out.write(drawing.terminal_plot(result, columns, values["height"],
                                                colour=use_colour(session.out)))
    return EXIT_OK
