"""The command line, declared once: every command and every option is a row here.

Both front ends read these rows: the lean parser (`cli/fast.py`, which keeps
Typer out of ordinary runs), the Typer app (`cli/app.py`, which builds its
commands, help and completion from them), and `gradcli batch` (`cli/jobs.py`:
a job may set every option its command passes to the library). Validation
(choices and ranges, exit 2 whoever parsed the option) and the conversion of
option text into library values live on the rows too, so they cannot drift.
This module imports nothing heavy: the lean front end reads it on every run.

How to add an option
    Declare it once as an `Option` below (its flag, `kind`, default, help and,
    where they apply, `choices`, a `check` and a `convert`). Add it to the
    `options` of each command that takes it. Where one command needs a
    variant (other help, other choices), derive it with `OPTION.but(...)`
    instead of declaring a second option. Set `passed=True` when the command's
    library function takes it as a keyword of the same name: batch jobs then
    accept it as a field too. Both front ends, the help and the tests pick it
    up with no other edit.

How to add a command
    Write its library function (expression and bindings in, a result object
    out), add a `Command` row to `COMMANDS` naming it (`call`), its positional
    `arguments`, its options and the runner that drives it (`cli/run.py`:
    `run_point` for the expression commands, or a runner of its own). Give its
    result type a view in `cli/render.py` for each format it offers. `job=True`
    makes it a `gradcli batch` job command.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from gradcli.batch import DEFAULT_CHUNK

#: the output formats of a single result
FORMATS = ("table", "json", "csv")
#: with --points, records go out as CSV, JSON lines, Parquet, Arrow IPC or NPZ
POINT_FORMATS = ("csv", "json", "jsonl", "parquet", "arrow", "npz")
#: with --points, what the input may be read as (when its extension does not say)
POINTS_READ_AS = ("csv", "jsonl", "parquet", "arrow", "npz")
#: the formats whose errors are also one JSON object on stdout
JSON_FORMATS = ("json", "jsonl")
#: graph also draws: a tree in the terminal, Graphviz source, or a Mermaid flowchart
GRAPH_FORMATS = ("tree", "dot", "mermaid")

#: how an option's value is read: text, a number, a switch, or a repeatable text
KINDS = ("text", "int", "float", "flag", "list")


class Option:
    """One option: `--flag`, how its value is read, checked and handed to the library.

    `kind` is the type both front ends parse the text into (`flag` takes no
    value, `list` may be repeated). `choices` and `check` (a function giving
    a complaint, or None) are enforced at the one error boundary, with the
    option named as the user wrote it (`--rtol` on the command line, `rtol` in
    a job). `convert` turns the parsed value into what the library takes
    (`--wrt x,y` into ["x", "y"]); `convert_job` does the same for a job's
    JSON value. `passed` options go to the command's library call as keywords
    named `field`, and are the options a batch job may set.
    """

    __slots__ = ("check", "choices", "convert", "convert_job", "default", "field", "flag",
                 "help", "kind", "metavar", "passed")

    def __init__(self, flag: str, *, kind: str = "text", default: Any = None, help: str,
                 metavar: str | None = None, choices: tuple[Any, ...] | None = None,
                 check: Callable[[Any], str | None] | None = None,
                 convert: Callable[[Any], Any] | None = None,
                 convert_job: Callable[[Any], Any] | None = None, passed: bool = False):
        assert kind in KINDS, kind
        self.flag = flag
        self.field = flag[2:].replace("-", "_")
        self.kind = kind
        self.default = [] if kind == "list" and default is None else default
        self.help = help
        self.metavar = metavar
        self.choices = choices
        self.check = check
        self.convert = convert
        self.convert_job = convert_job
        self.passed = passed

    def but(self, **changes: Any) -> Option:
        """This option with some attributes changed: one command's variant of it."""
        fields = {name: getattr(self, name) for name in self.__slots__ if name != "field"}
        return Option(**{**fields, **changes})

    def parse_text(self, text: str) -> Any:
        """The command-line text as this option's kind (ValueError if it is not one)."""
        if self.kind == "int":
            return int(text)
        if self.kind == "float":
            return float(text)
        return text

    def __repr__(self) -> str:
        return f"Option({self.flag!r})"


class Argument:
    """A positional argument: the expression, its NAME=VALUE bindings, or a job file."""

    __slots__ = ("field", "help", "metavar", "optional", "repeat")

    def __init__(self, field: str, metavar: str, help: str, repeat: bool = False,
                 optional: bool = False):
        self.field = field
        self.metavar = metavar
        self.help = help
        self.repeat = repeat
        #: a single argument that may be left out (it is then "")
        self.optional = optional


class Command:
    """One command: its help, its arguments and options, what it calls, what runs it.

    `call` ("module:function") is the library function that computes the
    result; `runner` ("module:function") is the CLI function that reads the
    inputs, makes that call and renders the result.
    """

    __slots__ = ("arguments", "call", "help", "job", "name", "options", "runner", "summary")

    def __init__(self, name: str, *, summary: str, help: str, arguments: tuple[Argument, ...],
                 options: tuple[Option, ...], runner: str, call: str | None = None,
                 job: bool = False):
        self.name = name
        self.summary = summary
        self.help = help
        self.arguments = arguments
        self.options = options
        self.runner = runner
        self.call = call
        self.job = job
        flags = [o.flag for o in options]
        assert len(set(flags)) == len(flags), f"{name}: an option listed twice"

    def option(self, field: str) -> Option | None:
        for option in self.options:
            if option.field == field:
                return option
        return None

    @property
    def flags(self) -> dict[str, Option]:
        return {option.flag: option for option in self.options}

    @property
    def job_options(self) -> tuple[Option, ...]:
        """The options a `gradcli batch` job may set: those the library call takes."""
        return tuple(option for option in self.options if option.passed)


# -- checks and conversions ------------------------------------------------------------
def _finite_non_negative(value: float) -> str | None:
    if not math.isfinite(value) or value < 0:
        return f"must be a finite number >= 0, not {value}"
    return None


def _between(lo: int, hi: int) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        return None if lo <= value <= hi else f"must be between {lo:,} and {hi:,}, not {value}"

    return check


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("needs variable names, e.g. x,y")
    return names


def _job_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return _names(value)
    if not isinstance(value, list) or not value or \
            not all(isinstance(n, str) and n for n in value):
        raise ValueError('must be a list of variable names, e.g. ["x", "y"]')
    return value


def _value(text: str) -> Any:
    from gradcli.language.values import parse_value

    return parse_value(text)


def _job_array(value: Any) -> Any:
    import numpy as np

    if isinstance(value, bool) or value is None:
        raise ValueError("must be a number or an array of numbers")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("must be a number or an array of numbers") from None
    return array


# -- the options, each declared once ---------------------------------------------------------
AT = Option("--at", kind="list", metavar="NAME=VALUE",
            help="A value for a variable (repeatable).")
FORMAT = Option("--format", default="table", choices=FORMATS,
                help="Output: table (for people), json or csv (for scripts).")
PRECISION = Option("--precision", kind="int", default=6, check=_between(1, 17),
                   help="Significant digits in tables and CSV (JSON is always exact).")
STRICT = Option("--strict", kind="flag", default=False,
                help="Exit 1 if a value or derivative is NaN or infinite.")
WRT = Option("--wrt", metavar="X,Y", convert=_names, convert_job=_job_names, passed=True,
             help="Differentiate with respect to these variables only (default: all, in "
                  "order of first appearance).")
SEED = Option("--seed", metavar="VALUE", convert=_value, convert_job=_job_array, passed=True,
              help="For a non-scalar output: the vector v of v^T J (as backward(gradient) "
                   "takes it), e.g. --seed [1,1].")
EIG = Option("--eig", kind="flag", default=False, passed=True,
             help="Add the eigenvalues and classify the point.")
GTOL = Option("--gtol", kind="float", check=_finite_non_negative, passed=True,
              help="With --eig: the gradient counts as zero when its largest component is "
                   "at most this (SciPy's gtol), instead of the bound from the gradient's "
                   "own rounding.")
MODE = Option("--mode", default="auto", choices=("auto", "forward", "reverse"), passed=True,
              help="auto, forward or reverse mode.")
SPARSE = Option("--sparse", default="auto", choices=("auto", "on", "off"), passed=True,
                help="on: find the sparsity pattern from the graph and compute only its "
                     "entries (a colouring, a few compressed products); --format json then "
                     "gives the matrix as coordinates (shape, rows, cols, values). off: the "
                     "dense computation. auto (default): sparse when the pattern is at most a "
                     "quarter full, with the same output as off. Ignored with --points.")
RETAIN_GRAD = Option("--retain-grad", kind="flag", default=False, passed=True,
                     help="Keep non-leaf gradients, as retain_grad() does.")
ORDER = Option("--order", kind="int", default=1, choices=(1, 2), passed=True,
               help="1: the gradient; 2: the Hessian.")
RTOL = Option("--rtol", kind="float", default=1e-5, check=_finite_non_negative, passed=True,
              help="Relative tolerance.")
ATOL = Option("--atol", kind="float", default=1e-8, check=_finite_non_negative, passed=True,
              help="Absolute tolerance.")
RENDER = Option("--render", metavar="FILE",
                help="Draw the graph into FILE.svg, .png or .pdf with Graphviz's dot.")
POINTS = Option("--points", kind="list", metavar="FILE",
                help="Evaluate at every point of FILE (.csv, .jsonl, .parquet, .arrow or "
                     ".npz), a chunk at a time, vectorised. Also a directory, a glob, a URL "
                     "(s3://, gs://, https://, file://) or - for stdin; repeatable.")
OUT = Option("--out", metavar="FILE",
             help="With --points: write the records to FILE (.csv, .jsonl, .parquet, .arrow "
                  "or .npz) instead of stdout; a regular file is replaced atomically.")
CHUNK_SIZE = Option("--chunk-size", kind="int", default=DEFAULT_CHUNK,
                    check=_between(1, 2**31), help="With --points: rows per pass.")
FAIL_FAST = Option("--fail-fast", kind="flag", default=False,
                   help="With --points: stop at the first bad row (exit 1).")
POINTS_FORMAT = Option("--points-format", choices=POINTS_READ_AS,
                       help="With --points: csv, jsonl, parquet, arrow or npz, if the "
                            "extension does not say (needed for stdin).")
QUIET = Option("--quiet", kind="flag", default=False,
               help="With --points: no progress bar and no summary on stderr (errors and "
                    "warnings still print; the exit code says how it went).")
SCHEDULER = Option("--scheduler", metavar="ADDRESS",
                   help="With --points: run on a Dask cluster, tcp://host:8786 (default: "
                        "$DASK_SCHEDULER_ADDRESS), or local:N for N worker processes here; "
                        "--out is then a directory of part files. Needs gradcli[dask].")
ENGINE = Option("--engine", choices=("auto", "numpy", "compiled"),
                help="With --points: numpy (replayed numpy calls), compiled (one native loop; "
                     "needs gradcli[fast]) or auto (default: compiled where the work repays "
                     "it); also $GRADCLI_ENGINE.")
MATH = Option("--math", choices=("accurate", "libm"), default="accurate",
              help="With --points, compiled: where sin, exp, log ... come from: accurate "
                   "(default: gradcli's own vectorized functions, within 1 ulp) or libm "
                   "(the C library's scalar functions: numpy's results bit for bit).")
OVERWRITE = Option("--overwrite", kind="flag", default=False,
                   help="With --scheduler: replace an earlier run's output directory.")
OVER = Option("--over", kind="list", metavar="NAME=LO:HI", passed=True,
              help="The variable and range to plot over; twice for a heat map over two "
                   "variables (an image).")
SAMPLES = Option("--samples", kind="int", default=400, check=_between(2, 1_000_000),
                 passed=True, help="Points along the range.")
WIDTH = Option("--width", kind="int", check=_between(10, 10_000),
               help="Terminal plot width in columns (default: the terminal's).")
HEIGHT = Option("--height", kind="int", default=20, check=_between(5, 10_000),
                help="Terminal plot height in rows.")

EXPRESSION = Argument("expression", "EXPR",
                      "The expression, or - to read it from standard input, or @FILE.")
BINDINGS = Argument("bindings", "[NAME=VALUE]...",
                    "Values for the variables: x=2, m=[2,3], t=pi/4.", repeat=True)
JOBS = Argument("jobs", "JOBS.jsonl",
                "One job a line: a JSON object; - reads standard input.")

_COMMON = (AT, FORMAT, PRECISION, STRICT)
_POINTS = (POINTS, OUT, CHUNK_SIZE, FAIL_FAST, POINTS_FORMAT, QUIET, ENGINE, MATH, SCHEDULER,
           OVERWRITE)
#: with --points the format picks the records' file format (table means the default)
_POINT_FORMAT = FORMAT.but(choices=tuple(dict.fromkeys(FORMATS + POINT_FORMATS)),
                           help="Output: table (for people), json or csv (for scripts); "
                                "with --points: csv, json, jsonl, parquet, arrow or npz.")
_POINT_COMMON = (AT, _POINT_FORMAT, PRECISION, STRICT)

# -- the commands, in the order help lists them -----------------------------------------------
COMMANDS: tuple[Command, ...] = (
    Command(
        "eval", summary="Print the value of an expression.",
        help="""Examples:

    gradcli eval "sin(pi/6) + 2^10"

    gradcli eval "m @ m" m=[[1,2],[3,4]] --format json""",
        arguments=(EXPRESSION, BINDINGS), options=(*_POINT_COMMON, *_POINTS),
        runner="gradcli.cli.run:run_point", call="gradcli.compute:evaluate", job=True),
    Command(
        "grad", summary="Print the value and the gradient with respect to each variable.",
        help="""Examples:

    gradcli grad "(x+1)*(x+2)" x=2

    gradcli grad "mean(3*(a+3)^2)" a=[2,3] --format json

    gradcli grad "[m[0]^2, m[1]^3]" m=[2,3] --seed [1,1]""",
        arguments=(EXPRESSION, BINDINGS), options=(*_POINT_COMMON, WRT, SEED, *_POINTS),
        runner="gradcli.cli.run:run_point", call="gradcli.compute:gradient", job=True),
    Command(
        "hessian",
        summary="Print the value, the gradient and the Hessian over the flattened variables.",
        help="""Examples:

    gradcli hessian "x*x*y" x=2 y=3

    gradcli hessian "(x-1)^2 + 3*(y+2)^2" x=1 y=-2 --eig

    gradcli hessian @samples/rosenbrock.expr x=[1,2,3,4] --sparse on --format json""",
        arguments=(EXPRESSION, BINDINGS),
        options=(*_POINT_COMMON, WRT, EIG, GTOL, SPARSE, *_POINTS),
        runner="gradcli.cli.run:run_point", call="gradcli.compute:hessian", job=True),
    Command(
        "jacobian",
        summary="Print the Jacobian J[i][j] = d f_i / d x_j (rows: outputs, columns: inputs).",
        help="""Examples:

    gradcli jacobian "[m[0]^2 + 3*m[1], m[1]^2 + 2*m[0]]" m=[2,3]

    gradcli jacobian "cos(a)+cos(a+b), sin(a)+sin(a+b)" a=0.3 b=0.5 --format csv

    gradcli jacobian "[cos(a)+cos(a+b), sin(a)+sin(a+b)]" --points joints.csv --out J.csv""",
        arguments=(EXPRESSION, BINDINGS), options=(*_POINT_COMMON, WRT, MODE, SPARSE, *_POINTS),
        runner="gradcli.cli.run:run_point", call="gradcli.compute:jacobian", job=True),
    Command(
        "graph",
        summary="Run forward and backward and show the graph: one row per node, or a picture.",
        help="""Examples:

    gradcli graph "a = x+1; b = x+2; a*b" x=2

    gradcli graph "(x+1)*(x+2)" x=2 --format tree

    gradcli graph "(x+1)*(x+2)" x=2 --render graph.svg

    gradcli graph "x*x*y" x=2 y=3 --order 2 --format mermaid""",
        arguments=(EXPRESSION, BINDINGS),
        options=(AT, FORMAT.but(choices=FORMATS + GRAPH_FORMATS,
                                help="table, json or csv (one row per node); or a picture: "
                                     "tree, dot (Graphviz) or mermaid."),
                 PRECISION, STRICT, WRT, SEED, RETAIN_GRAD, RENDER,
                 ORDER.but(help="2: the graph create_graph records for the gradient (the one "
                                "a Hessian differentiates).")),
        runner="gradcli.cli.run:run_point", call="gradcli.compute:graph", job=True),
    Command(
        "plot", summary="Plot f and its derivatives over a range, computed in one vectorised "
                        "pass.",
        help="""Examples:

    gradcli plot "sin(x)*x" --over x=-6:6 --order 2

    gradcli plot "x^3 - 2x" --over x=-2:2 --at x=1 --out cubic.svg

    gradcli plot "exp(-(x^2+y^2))" --over x=-2:2 --over y=-2:2 --out bump.png""",
        arguments=(EXPRESSION, BINDINGS),
        options=(OVER, ORDER.but(choices=(0, 1, 2), help="0: f; 1: f and f'; 2: f, f' and f''."),
                 SAMPLES,
                 OUT.but(help="Write an image (.png, .svg or .pdf; needs the 'plot' extra) "
                              "instead of drawing in the terminal."),
                 AT.but(help="Mark a point: its value and its tangent."), WIDTH, HEIGHT,
                 FORMAT.but(help="table draws the plot; json or csv give the sampled "
                                 "numbers.")),
        runner="gradcli.cli.run:run_plot", call="gradcli.sampling:plot"),
    Command(
        "check", summary="Compare autodiff with central finite differences; exit 1 on a "
                         "mismatch.",
        help="""Examples:

    gradcli check "sin(x)*exp(y)" x=0.5 y=1

    gradcli check "norm(v)^3" v=[1,2,3] --order 2 --format json""",
        arguments=(EXPRESSION, BINDINGS),
        options=(*_COMMON, WRT, ORDER, RTOL, ATOL),
        runner="gradcli.cli.run:run_point", call="gradcli.checking:check", job=True),
    Command(
        "diff", summary="Print derivatives as formulas, read off the graph create_graph "
                        "records.",
        help="""Each formula is in gradcli's own language (it parses, and evaluates to what
grad, hessian and jacobian give); with bindings its value at that point is printed beside it.

Examples:

    gradcli diff "(x+1)*(x+2)"

    gradcli diff "x*x*y" --order 2

    gradcli diff "exp(sin(x))" --format latex""",
        arguments=(EXPRESSION, BINDINGS),
        options=(AT, FORMAT.but(choices=("table", "json", "latex"),
                                help="table (for people), json (for scripts) or latex."),
                 PRECISION, STRICT, WRT,
                 ORDER.but(help="1: each first derivative (a Jacobian's rows for a non-scalar "
                                "f); 2: the matrix of second derivatives.")),
        runner="gradcli.cli.run:run_point", call="gradcli.formula:diff"),
    Command(
        "taylor", summary="Print the Taylor coefficients f^(k)(a)/k! up to --order, by "
                          "Taylor-mode AD.",
        help="""For one variable, the coefficients of f(x) around x = a; for several (or a
vector), those of f(a + v t) along the direction --dir v, flattened over the variables in
order. Also the derivatives k! c_k and the truncated series as an expression (it parses).
Each order costs O(order) per op, not exponentially.

Examples:

    gradcli taylor "exp(sin(x))" x=0 --order 6

    gradcli taylor "x*y^2" x=1 y=2 --dir [1,1] --order 3 --format json""",
        arguments=(EXPRESSION, BINDINGS),
        options=(*_COMMON, WRT,
                 ORDER.but(default=5, choices=None, check=_between(0, 1000),
                           help="The highest power of the series (0 to 1000)."),
                 Option("--dir", metavar="V", convert=_value, convert_job=_job_array,
                        passed=True, help="The direction v of f(a + v t), one number per "
                                          "element of the variables, e.g. --dir [1,0].")),
        runner="gradcli.cli.run:run_point", call="gradcli.series:taylor"),
    Command(
        "batch", summary="Run a file of jobs: one JSON line in, one JSON line out, in order.",
        help="""A job: {"id": "a", "command": "grad", "expression": "x*x*y", "at": {"x": 2,
"y": 3}, "wrt": ["x"]}; command is eval, grad, hessian, jacobian, graph or check; a job may
set every option its command passes to the computation (wrt, seed, eig, mode, sparse,
retain_grad, order, rtol, atol). Each result line is what the command prints with --format
json, plus "id"; a failed job gives {"id", "error": {"kind", "message", "span", "hint",
"line"}}. Exit 1 if any job failed.

Examples:

    gradcli batch samples/jobs.jsonl

    gradcli batch samples/jobs.jsonl --out results.jsonl""",
        arguments=(JOBS,),
        options=(OUT.but(help="Write the results to FILE (atomically) instead of stdout."),
                 FORMAT.but(default="jsonl", choices=("jsonl", "json"),
                            help="jsonl (the only format; json is a synonym).")),
        runner="gradcli.cli.jobs:run_batch"),
    Command(
        "functions",
        summary="List every function with its signature, domain and help, from the op table.",
        help="""Examples:

    gradcli functions

    gradcli functions sin

    gradcli functions --format json""",
        arguments=(Argument("name", "[NAME]", "Show only this function (or an alias of it).",
                            optional=True),),
        options=(FORMAT,),
        runner="gradcli.cli.run:run_functions", call="gradcli.compute:functions"),
    Command(
        "repl",
        summary="An interactive prompt: bind values and expressions, then run any command.",
        help="""At the prompt a line is a command as in the shell, without 'gradcli' and without
quotes (grad (x+1)*(x+2) x=2), a binding (x = 2, f = (x+1)*(x+2)), or a bare expression to
evaluate. 'help' lists the rest: ans, vars, help NAME, :format json. History is kept between
runs; Tab completes functions, variables, commands and options; Ctrl-R searches the history.
Ctrl-C cancels the line or the running command, Ctrl-D leaves. With standard input not a
terminal, lines are read from it without a prompt.

Examples:

    gradcli repl

    printf 'x = 2\\ngrad x^2\\n' | gradcli repl""",
        arguments=(),
        options=(FORMAT.but(help="The view every command starts with: table, json or csv "
                                 "(:format changes it)."),
                 Option("--history", metavar="FILE",
                        help="Keep the history in FILE (default: gradcli's folder in the "
                             "platform's state directory).")),
        runner="gradcli.cli.repl:run_repl"),
)

BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}
#: the commands a `gradcli batch` job may name
JOB_COMMANDS: tuple[str, ...] = tuple(c.name for c in COMMANDS if c.job)


def resolve(target: str) -> Any:
    """"module:function" -> the function, imported only when a command needs it."""
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class Invocation:
    """One parsed command line: the command, its positional arguments, the options given.

    `given` holds only what the user wrote (typed by the option's kind);
    `value(field)` falls back to the command's default. Both front ends build
    one of these, and `run.execute` takes it from there.
    """

    __slots__ = ("arguments", "command", "given")

    def __init__(self, command: Command, arguments: dict[str, Any], given: dict[str, Any]):
        self.command = command
        self.arguments = arguments
        self.given = given

    def value(self, field: str) -> Any:
        if field in self.given:
            return self.given[field]
        option = self.command.option(field)
        return None if option is None else option.default

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Invocation) and (self.command.name, self.arguments,
                                                  self.given) == (
            other.command.name, other.arguments, other.given)

    def __repr__(self) -> str:
        return f"Invocation({self.command.name!r}, {self.arguments!r}, {self.given!r})"


def compute_command(name: str, expression: str, at: Any, **options: Any) -> Any:
    """One command's library call by its name (what a batch job, or a test, runs):
    `compute_command("grad", "x^2", {"x": 3.0}, wrt=["x"])`."""
    command = BY_NAME[name]
    if command.call is None:
        raise ValueError(f"{name} makes no single library call")
    return resolve(command.call)(expression, at, **options)
