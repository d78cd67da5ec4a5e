"""The Typer app: help, completion, and every option, over `gradcli.cli.run.execute`.

Each command only gathers its options into `Options` and hands them to
`execute`, which makes one library call and renders the result.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gradcli import __version__
from gradcli.batch import DEFAULT_CHUNK
from gradcli.cli.options import Options
from gradcli.cli.run import execute, list_functions

app = typer.Typer(
    name="gradcli",
    help="Exact derivatives from the shell: values, gradients, Hessians and Jacobians of "
         "expressions, by automatic differentiation.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)

Expression = Annotated[str, typer.Argument(
    metavar="EXPR", help="The expression, or - to read it from standard input, or @FILE.")]
Bindings = Annotated[list[str] | None, typer.Argument(
    metavar="[NAME=VALUE]...", help="Values for the variables: x=2, m=[2,3], t=pi/4.")]
At = Annotated[list[str] | None, typer.Option(
    "--at", metavar="NAME=VALUE", help="A value for a variable (repeatable).")]
Format = Annotated[str, typer.Option(
    "--format", help="Output: table (for people), json or csv (for scripts).")]
Precision = Annotated[int, typer.Option(
    "--precision", help="Significant digits in tables and CSV (JSON is always exact).")]
Strict = Annotated[bool, typer.Option(
    "--strict", help="Exit 1 if a value or derivative is NaN or infinite.")]
Wrt = Annotated[str | None, typer.Option(
    "--wrt", metavar="X,Y", help="Differentiate with respect to these variables only "
    "(default: all, in order of first appearance).")]
Points = Annotated[str | None, typer.Option(
    "--points", metavar="FILE", help="Evaluate at every point of FILE (.csv, .jsonl or .npz), "
    "a chunk at a time, vectorised.")]
Out = Annotated[str | None, typer.Option(
    "--out", metavar="FILE", help="With --points: write the records to FILE (.csv, .jsonl or "
    ".npz) instead of stdout, atomically.")]
ChunkSize = Annotated[int, typer.Option("--chunk-size", help="With --points: rows per pass.")]
FailFast = Annotated[bool, typer.Option(
    "--fail-fast", help="With --points: stop at the first bad row (exit 1).")]
PointsFormat = Annotated[str | None, typer.Option(
    "--points-format", help="With --points: csv, jsonl or npz, if the extension does not "
    "say.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="With --points: no progress bar.")]
Seed = Annotated[str | None, typer.Option(
    "--seed", metavar="VALUE", help="For a non-scalar output: the vector v of v^T J "
    "(as backward(gradient) takes it), e.g. --seed [1,1].")]


def _version(value: bool) -> None:
    if value:
        print(f"gradcli {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool | None, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
) -> None:
    """Exact derivatives from the shell.

    Exit codes: 0 success; 1 computed but not good (check found a mismatch, or a
    non-finite value under --strict); 2 bad input (syntax, unknown function,
    unbound variable, shape, bad option).
    """


def _points(points: str | None, out: str | None, chunk_size: int, fail_fast: bool,
            points_format: str | None, quiet: bool) -> dict[str, Any]:
    return {"points": points, "out": out, "chunk_size": chunk_size, "fail_fast": fail_fast,
            "points_format": points_format, "quiet": quiet}


def _finish(code: int) -> None:
    if code:
        raise typer.Exit(code)


@app.command("eval")
def eval_command(expression: Expression, bindings: Bindings = None, at: At = None,
                 format: Format = "table", precision: Precision = 6,
                 strict: Strict = False,
                 points: Points = None, out: Out = None,
                 chunk_size: ChunkSize = DEFAULT_CHUNK, fail_fast: FailFast = False,
                 points_format: PointsFormat = None, quiet: Quiet = False) -> None:
    """Print the value of an expression.

    Examples:

        gradcli eval "sin(pi/6) + 2^10"

        gradcli eval "m @ m" m=[[1,2],[3,4]] --format json
    """
    _finish(execute("eval", expression, bindings or [],
                    Options(format=format, precision=precision, at=at or [], strict=strict,
                            **_points(points, out, chunk_size, fail_fast, points_format,
                                      quiet))))


@app.command("grad")
def grad_command(expression: Expression, bindings: Bindings = None, at: At = None,
                 wrt: Wrt = None, seed: Seed = None, format: Format = "table",
                 precision: Precision = 6, strict: Strict = False,
                 points: Points = None, out: Out = None,
                 chunk_size: ChunkSize = DEFAULT_CHUNK, fail_fast: FailFast = False,
                 points_format: PointsFormat = None, quiet: Quiet = False) -> None:
    """Print the value and the gradient with respect to each variable.

    Examples:

        gradcli grad "(x+1)*(x+2)" x=2

        gradcli grad "mean(3*(a+3)^2)" a=[2,3] --format json

        gradcli grad "[m[0]^2, m[1]^3]" m=[2,3] --seed [1,1]
    """
    _finish(execute("grad", expression, bindings or [], Options(
        format=format, precision=precision, at=at or [], wrt=wrt, seed=seed, strict=strict,
        **_points(points, out, chunk_size, fail_fast, points_format, quiet))))


@app.command("hessian")
def hessian_command(expression: Expression, bindings: Bindings = None, at: At = None,
                    wrt: Wrt = None,
                    eig: Annotated[bool, typer.Option(
                        "--eig", help="Add the eigenvalues and classify the point.")] = False,
                    format: Format = "table", precision: Precision = 6,
                    strict: Strict = False,
                 points: Points = None, out: Out = None,
                 chunk_size: ChunkSize = DEFAULT_CHUNK, fail_fast: FailFast = False,
                 points_format: PointsFormat = None, quiet: Quiet = False) -> None:
    """Print the value, the gradient and the Hessian over the flattened variables.

    Examples:

        gradcli hessian "x*x*y" x=2 y=3

        gradcli hessian "(x-1)^2 + 3*(y+2)^2" x=1 y=-2 --eig
    """
    _finish(execute("hessian", expression, bindings or [], Options(
        format=format, precision=precision, at=at or [], wrt=wrt, eig=eig, strict=strict,
        **_points(points, out, chunk_size, fail_fast, points_format, quiet))))


@app.command("jacobian")
def jacobian_command(expression: Expression, bindings: Bindings = None, at: At = None,
                     wrt: Wrt = None,
                     mode: Annotated[str, typer.Option(
                         "--mode", help="auto, forward or reverse mode.")] = "auto",
                     format: Format = "table", precision: Precision = 6,
                     strict: Strict = False,
                 points: Points = None, out: Out = None,
                 chunk_size: ChunkSize = DEFAULT_CHUNK, fail_fast: FailFast = False,
                 points_format: PointsFormat = None, quiet: Quiet = False) -> None:
    """Print the Jacobian J[i][j] = d f_i / d x_j (rows: outputs, columns: inputs).

    Examples:

        gradcli jacobian "[m[0]^2 + 3*m[1], m[1]^2 + 2*m[0]]" m=[2,3]

        gradcli jacobian "cos(a)+cos(a+b), sin(a)+sin(a+b)" a=0.3 b=0.5 --format csv

        gradcli jacobian "[cos(a)+cos(a+b), sin(a)+sin(a+b)]" --points joints.csv --out J.csv
    """
    _finish(execute("jacobian", expression, bindings or [], Options(
        format=format, precision=precision, at=at or [], wrt=wrt, mode=mode, strict=strict,
        **_points(points, out, chunk_size, fail_fast, points_format, quiet))))


@app.command("graph")
def graph_command(expression: Expression, bindings: Bindings = None, at: At = None,
                  wrt: Wrt = None, seed: Seed = None,
                  retain_grad: Annotated[bool, typer.Option(
                      "--retain-grad", help="Keep non-leaf gradients, as retain_grad() does."
                  )] = False,
                  format: Annotated[str, typer.Option(
                      "--format", help="table, json or csv (one row per node); or a picture: "
                      "tree, dot (Graphviz) or mermaid.")] = "table",
                  render: Annotated[str | None, typer.Option(
                      "--render", metavar="FILE", help="Draw the graph into FILE.svg, .png or "
                      ".pdf with Graphviz's dot.")] = None,
                  order: Annotated[int, typer.Option(
                      "--order", help="2: the graph create_graph records for the gradient (the "
                      "one a Hessian differentiates).")] = 1,
                  precision: Precision = 6, strict: Strict = False) -> None:
    """Run forward and backward and show the graph: one row per node, or a picture.

    Examples:

        gradcli graph "a = x+1; b = x+2; a*b" x=2

        gradcli graph "(x+1)*(x+2)" x=2 --format tree

        gradcli graph "(x+1)*(x+2)" x=2 --render graph.svg

        gradcli graph "x*x*y" x=2 y=3 --order 2 --format mermaid
    """
    _finish(execute("graph", expression, bindings or [], Options(
        format=format, precision=precision, at=at or [], wrt=wrt, seed=seed,
        retain_grad=retain_grad, strict=strict, render=render, order=order)))


@app.command("plot")
def plot_command(
    expression: Expression, bindings: Bindings = None,
    over: Annotated[list[str], typer.Option(
        "--over", metavar="NAME=LO:HI", help="The variable and range to plot over; twice for "
        "a heat map over two variables (an image).")] = [],  # noqa: B006
    order: Annotated[int, typer.Option(
        "--order", help="0: f; 1: f and f'; 2: f, f' and f''.")] = 1,
    samples: Annotated[int, typer.Option("--samples", help="Points along the range.")] = 400,
    out: Annotated[str | None, typer.Option(
        "--out", metavar="FILE", help="Write an image (.png, .svg or .pdf; needs the 'plot' "
        "extra) instead of drawing in the terminal.")] = None,
    at: Annotated[list[str] | None, typer.Option(
        "--at", metavar="NAME=VALUE", help="Mark a point: its value and its tangent.")] = None,
    width: Annotated[int | None, typer.Option(
        "--width", help="Terminal plot width in columns (default: the terminal's).")] = None,
    height: Annotated[int, typer.Option("--height", help="Terminal plot height in rows.")] = 20,
    format: Annotated[str, typer.Option(
        "--format", help="table draws the plot; json or csv give the sampled numbers.")
    ] = "table",
) -> None:
    """Plot f and its derivatives over a range, computed in one vectorised pass.

    Examples:

        gradcli plot "sin(x)*x" --over x=-6:6 --order 2

        gradcli plot "x^3 - 2x" --over x=-2:2 --at x=1 --out cubic.svg

        gradcli plot "exp(-(x^2+y^2))" --over x=-2:2 --over y=-2:2 --out bump.png
    """
    from gradcli.cli.run import execute_plot

    if not over:
        raise typer.BadParameter("give --over NAME=LO:HI, e.g. --over x=-6:6",
                                 param_hint="--over")
    _finish(execute_plot(expression, bindings or [], over, order, samples, out, at or [],
                         format, width, height))


@app.command("check")
def check_command(expression: Expression, bindings: Bindings = None, at: At = None,
                  wrt: Wrt = None,
                  order: Annotated[int, typer.Option(
                      "--order", help="1: the gradient; 2: the Hessian.")] = 1,
                  rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance.")
                                  ] = 1e-5,
                  atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")
                                  ] = 1e-8,
                  format: Format = "table", precision: Precision = 6,
                  strict: Strict = False) -> None:
    """Compare autodiff with central finite differences; exit 1 on a mismatch.

    Examples:

        gradcli check "sin(x)*exp(y)" x=0.5 y=1

        gradcli check "norm(v)^3" v=[1,2,3] --order 2 --format json
    """
    _finish(execute("check", expression, bindings or [], Options(
        format=format, precision=precision, at=at or [], wrt=wrt, order=order, rtol=rtol,
        atol=atol, strict=strict)))


@app.command("batch")
def batch_command(
    jobs: Annotated[str, typer.Argument(metavar="JOBS.jsonl",
                                        help="One job a line: a JSON object.")],
    out: Annotated[str | None, typer.Option(
        "--out", metavar="FILE", help="Write the results to FILE (atomically) instead of "
        "stdout.")] = None,
    format: Annotated[str, typer.Option("--format", help="jsonl (the only format).")
                      ] = "jsonl",
) -> None:
    """Run a file of jobs: one JSON line in, one JSON line out, in order.

    A job: {"id": "a", "command": "grad", "expression": "x*x*y", "at": {"x": 2, "y": 3},
    "wrt": ["x"]}; command is eval, grad, hessian, jacobian or check; id, wrt and seed
    are optional. Each result line is what the command prints with --format json, plus
    "id"; a failed job gives {"id", "error": {"kind", "message", "line"}}. Exit 1 if any
    job failed.

    Examples:

        gradcli batch samples/jobs.jsonl

        gradcli batch samples/jobs.jsonl --out results.jsonl
    """
    from gradcli.cli.jobs import run_jobs
    from gradcli.errors import GradcliError
    from gradcli.language.diagnostics import render_error

    if format not in ("jsonl", "json"):
        raise typer.BadParameter("batch writes JSON lines: --format jsonl",
                                 param_hint="--format")
    try:
        _finish(run_jobs(jobs, out))
    except GradcliError as error:
        import sys

        sys.stderr.write(render_error(error, None) + "\n")
        raise typer.Exit(error.exit_code) from None


@app.command("functions")
def functions_command(format: Format = "table") -> None:
    """List every function with its signature, domain and help, from the op table.

    Examples:

        gradcli functions

        gradcli functions --format json
    """
    _finish(list_functions(Options(format=format)))


def run_app(argv: list[str]) -> int:
    try:
        app(args=argv, prog_name="gradcli", standalone_mode=True)
    except SystemExit as exit:
        return int(exit.code or 0) if not isinstance(exit.code, str) else 2
    return 0
