"""Running one command: read the inputs, make one library call, render the result.

Both front ends end here. Every `GradcliError` becomes one message on stderr,
with a caret under its span in the text it refers to, and the error's exit
code; nothing else is caught, because anything else is a bug.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from gradcli.cli.options import FORMATS, Options
from gradcli.errors import EXIT_NOT_GOOD, EXIT_OK, ArgumentError, GradcliError


class InputError(GradcliError):
    kind = "input"


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
        if options.format not in FORMATS:
            raise ArgumentError(f"--format must be one of {', '.join(FORMATS)}, "
                                f"not '{options.format}'")
        if options.precision < 1 or options.precision > 17:
            raise ArgumentError("--precision must be between 1 and 17")
        text = read_expression(expression_source)
        at = _bindings([*bindings, *options.at])
        result = _call(command, text, at, options)
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

    if command == "eval":
        return compute.evaluate(text, at)
    if command == "grad":
        return compute.gradient(text, at, _wrt(options.wrt), _seed(options.seed))
    if command == "hessian":
        return compute.hessian(text, at, _wrt(options.wrt), eig=options.eig)
    if command == "jacobian":
        return compute.jacobian(text, at, _wrt(options.wrt), mode=options.mode)
    if command == "graph":
        return compute.graph(text, at, _wrt(options.wrt), _seed(options.seed),
                             retain_grad=options.retain_grad)
    if command == "check":
        return compute.check(text, at, _wrt(options.wrt), order=options.order,
                             rtol=options.rtol, atol=options.atol)
    raise ArgumentError(f"unknown command '{command}'")


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _render(result: Any, options: Options, out: TextIO) -> None:
    from gradcli.cli import render

    if options.format == "json":
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


def list_functions(options: Options, out: TextIO | None = None) -> int:
    from gradcli import compute

    _render(compute.functions(), options, out or sys.stdout)
    return EXIT_OK
