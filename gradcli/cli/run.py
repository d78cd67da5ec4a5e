"""Running one command: read the inputs, make one library call, render the result.

Both front ends end here. Every `GradcliError` becomes one message on stderr,
with a caret under its span in the text it refers to, and the error's exit
code; nothing else is caught, because anything else is a bug.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from gradcli.cli.options import FORMATS, GRAPH_FORMATS, POINT_FORMATS, Options
from gradcli.errors import (
    EXIT_NOT_GOOD,
    EXIT_OK,
    ArgumentError,
    GradcliError,
    InputError,
    MissingToolError,
)


def read_expression(source: str) -> str:
    """The expression itself, '-' for standard input, or '@path' for a file."""
    if source == "-":
        return sys.stdin.read()
    if source.startswith("@") and len(source) > 1:
        path = source[1:]
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            raise InputError(f"no such file: {path}",
                             hint="give an existing file after @, or the expression itself") \
                from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return source


def execute(command: str, expression_source: str, bindings: list[str], options: Options,
            out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    text: str | None = expression_source
    try:
        allowed: tuple[str, ...] = FORMATS + GRAPH_FORMATS if command == "graph" else FORMATS
        if options.points:
            allowed = (*FORMATS, *POINT_FORMATS)
        if options.format not in allowed:
            raise ArgumentError(f"--format must be one of {', '.join(allowed)}, "
                                f"not '{options.format}'")
        if options.precision < 1 or options.precision > 17:
            raise ArgumentError("--precision must be between 1 and 17")
        text = read_expression(expression_source)
        at = _bindings([*bindings, *options.at])
        if options.points:
            from gradcli.batch.run import run_points

            return run_points(command, text, at, options.points, out_path=options.out,
                              requested_format=options.format,
                              points_format=options.points_format,
                              chunk_size=options.chunk_size, fail_fast=options.fail_fast,
                              strict=options.strict, quiet=options.quiet,
                              wrt=_wrt(options.wrt), mode=options.mode, out=out, err=err)
        if options.out:
            raise ArgumentError("--out goes with --points (a file of points)",
                                hint="for one point, redirect the output: ... > file.json")
        result = _call(command, text, at, options)
        if options.render:
            _render_file(result, options.render, err)
            return EXIT_OK
    except GradcliError as error:
        source = getattr(error, "source", None) or text
        from gradcli.language.diagnostics import render_error

        err.write(render_error(error, source) + "\n")
        return error.exit_code
    for warning in result.warnings:
        err.write(f"warning: {warning}\n")
    _render(result, options, out)
    if command == "check" and not result.ok:
        return EXIT_NOT_GOOD
    if options.strict and result.nonfinite:
        err.write("error: a non-finite value appeared and --strict is set\n")
        return EXIT_NOT_GOOD
    return EXIT_OK


def _bindings(items: list[str]) -> dict[str, Any]:
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


def _seed(text: str | None) -> Any:
    if text is None:
        return None
    from gradcli.language.values import parse_value

    try:
        return parse_value(text)
    except GradcliError as error:
        error.source = text
        error.message = f"--seed: {error.message}"
        raise


def _wrt(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ArgumentError("--wrt needs variable names, e.g. --wrt x,y")
    return names


def _call(command: str, text: str, at: dict[str, Any], options: Options) -> Any:
    from gradcli import compute

    if command == "graph" and (options.format in GRAPH_FORMATS or options.render
                               or options.order == 2):
        return compute.graph_picture(text, at, _wrt(options.wrt), _seed(options.seed),
                                     order=options.order)
    return compute.run_command(command, text, at, _wrt(options.wrt),
                               _seed(options.seed) if command in ("grad", "graph") else None,
                               eig=options.eig, mode=options.mode,
                               retain_grad=options.retain_grad, order=options.order,
                               rtol=options.rtol, atol=options.atol)


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _render(result: Any, options: Options, out: TextIO) -> None:
    from gradcli.cli import render
    from gradcli.results import GraphPictureResult

    if isinstance(result, GraphPictureResult) and options.format not in ("json",):
        _render_picture(result, options.format, out)
    elif options.format == "json":
        out.write(render.to_json(result) + "\n")
    elif options.format == "csv":
        out.write(render.to_csv(result, options.precision if options.precision != 6 else None))
    else:
        title, blocks = render.table_view(result, options.precision)
        if out.isatty():
            from rich.console import Console

            console = Console(file=out, no_color="NO_COLOR" in os.environ, highlight=False)
            render.render_rich(title, blocks, console)
        else:
            out.write(render.render_plain(title, blocks))


def _picture_title(result: Any) -> str:
    from gradcli.cli.render import one_line

    kind = "the gradient's graph (create_graph)" if result.order == 2 else "graph"
    return f"{kind} of {one_line(result.expression)}"


def _render_picture(result: Any, format: str, out: TextIO) -> None:
    from gradcli.drawing import graph

    if format == "dot":
        out.write(graph.to_dot(result.model, _picture_title(result)))
    elif format == "mermaid":
        out.write(graph.to_mermaid(result.model, _picture_title(result)))
    else:
        from rich.console import Console

        console = Console(file=out, no_color="NO_COLOR" in os.environ, highlight=False)
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
        raise GradcliError(f"dot could not write {path}: {done.stderr.strip()}")
    err.write(f"wrote {path}\n")


def list_functions(options: Options, out: TextIO | None = None) -> int:
    from gradcli import compute

    _render(compute.functions(), options, out or sys.stdout)
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


def execute_plot(expression_source: str, bindings: list[str], over: list[str], order: int,
                 samples: int, out_file: str | None, mark: list[str], format: str,
                 width: int | None, height: int, out: TextIO | None = None,
                 err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    text: str | None = expression_source
    try:
        if format not in FORMATS:
            raise ArgumentError(f"--format must be one of {', '.join(FORMATS)}, not '{format}'")
        text = read_expression(expression_source)
        from gradcli import sampling

        result = sampling.plot(text, _bindings(bindings), [parse_range(o) for o in over],
                              order=order, samples=samples, mark=_bindings(mark) or None)
        for warning in result.warnings:
            err.write(f"warning: {warning}\n")
        from gradcli.drawing import plot as drawing

        if out_file:
            drawing.save_image(result, out_file)
            err.write(f"wrote {out_file}\n")
        elif format == "json":
            from gradcli.cli.render import to_json

            out.write(to_json(result) + "\n")
        elif format == "csv":
            from gradcli.cli.render import to_csv

            out.write(to_csv(result))
        else:
            import shutil

            columns = width or shutil.get_terminal_size((100, 24)).columns
            out.write(drawing.terminal_plot(result, columns, height, colour=use_colour(out)))
    except GradcliError as error:
        from gradcli.language.diagnostics import render_error

        err.write(render_error(error, getattr(error, "source", None) or text) + "\n")
        return error.exit_code
    return EXIT_OK
