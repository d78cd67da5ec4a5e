"""The one family of errors gradcli raises on purpose.

Everything a user can cause (a bad expression, a shape mismatch, a second
backward through a freed graph) is a `GradcliError`. The CLI catches exactly
this class, prints its message with a caret under its span, and exits with its
code; any other exception is a bug in gradcli. Where PyTorch raises a
`RuntimeError` or `ValueError` for the same mistake, our class derives from that
too, so code written against PyTorch's habits still catches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

#: Exit codes, documented in the README ("Exit codes"); each means one thing.
EXIT_OK = 0
#: computed, but not good: check found a mismatch, a non-finite value under --strict,
#: a bad row or job in batch work
EXIT_NOT_GOOD = 1
#: bad input: syntax, unknown function, unbound variable, shape, a bad option
EXIT_BAD_INPUT = 2
#: an internal failure: a bug in gradcli (EX_SOFTWARE)
EXIT_SOFTWARE = 70
#: the results could not be written, to standard output or to --out: a full disk, a closed
#: stdout, a pipe whose reader left, permission taken away (EX_IOERR)
EXIT_OUTPUT = 74
#: stopped by a signal: 128 + its number (SIGHUP 1, SIGINT 2, SIGTERM 15)
EXIT_HANGUP = 129
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Span(NamedTuple):
    """A half-open character range [start, end) in the source text."""

    start: int
    end: int


class GradcliError(Exception):
    """Base class: a message, a kind (a short stable word), an exit code and an optional span."""

    kind: str = "error"
    exit_code: int = EXIT_BAD_INPUT

    def __init__(self, message: str, *, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        #: the text the span points into, where it is not the expression (a binding, --seed)
        self.source: str | None = None

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP, raised where the program was, so that every `finally`
    and every cleanup written for Ctrl-C (temporary files, scratch folders) runs for all
    three. Not a `GradcliError`: nothing but the error boundary should catch it."""

    def __init__(self, signum: int, name: str):
        super().__init__(name)
        self.signum = signum
        self.name = name
        self.exit_code = 128 + signum


_JOB_FIELDS: ContextVar[bool] = ContextVar("gradcli_options_named_as_job_fields",
                                           default=False)


def option_name(field: str) -> str:
    """How a message names an option: `--retain-grad` on the command line, `retain_grad`
    inside a batch job (whose fields carry the option's field name)."""
    return field if _JOB_FIELDS.get() else "--" + field.replace("_", "-")


@contextmanager
def options_named_as_job_fields() -> Iterator[None]:
    token = _JOB_FIELDS.set(True)
    try:
        yield
    finally:
        _JOB_FIELDS.reset(token)


class AutogradError(GradcliError, RuntimeError):
    """Misuse of backward/grad: freed graph, missing grad_fn, non-scalar output."""

    kind = "autograd"


class ShapeError(GradcliError, ValueError):
    """Operands whose shapes cannot be combined (broadcasting, matmul, reshape, stack)."""

    kind = "shape"


class AxisError(GradcliError, ValueError):
    """An axis that the operand does not have."""

    kind = "axis"


class IndexingError(GradcliError, IndexError):
    """An index or slice that the operand cannot take."""

    kind = "index"


class ArgumentError(GradcliError, TypeError):
    """A function called with the wrong number, kind or name of arguments."""

    kind = "argument"


class SyntaxProblem(GradcliError):
    """The expression text does not follow the grammar."""

    kind = "syntax"


class UnknownFunctionError(GradcliError):
    kind = "unknown-function"


class UnboundVariableError(GradcliError):
    kind = "unbound-variable"


class NameConflictError(GradcliError):
    kind = "name-conflict"


class NonFiniteError(GradcliError):
    """A non-finite value appeared where the caller asked for strictness."""

    kind = "non-finite"
    exit_code = EXIT_NOT_GOOD


class NotScalarError(GradcliError):
    """A command that needs a scalar output (grad without --seed, hessian, check) got more."""

    kind = "not-scalar"


class InputError(GradcliError):
    """The expression's source (@FILE, standard input) cannot be read."""

    kind = "input"


class JobError(GradcliError):
    """A line of a `gradcli batch` job file that is not a valid job."""

    kind = "job"


class PointFileError(GradcliError):
    """A points file (--points) that cannot be read as points."""

    kind = "points"


class MissingToolError(GradcliError):
    """An external program an option needs (Graphviz's dot for --render) is not installed."""

    kind = "missing-tool"


class MissingExtraError(GradcliError):
    """An optional Python extra (matplotlib for plot --out) is not installed."""

    kind = "missing-extra"


class UsageError(GradcliError):
    """A command line the front end cannot read: an unknown option, a missing value."""

    kind = "usage"


class OutputError(GradcliError):
    """Standard output cannot be written (a full disk, a closed stdout)."""

    kind = "output"
    exit_code = EXIT_OUTPUT
    #: stdout is what failed, so the error cannot go there as JSON too
    stdout_broken = True


class WriteError(OutputError):
    """An --out file cannot be written (a full disk, a pipe whose reader left, permission
    taken away); the message carries the operating system's words. Stdout still works."""

    stdout_broken = False


class InternalError(GradcliError):
    """Anything that is not a `GradcliError`: a bug in gradcli, reported as one."""

    kind = "internal"
    exit_code = EXIT_SOFTWARE


class ResourceLimitError(GradcliError):
    """An array over the element budget (`gradcli.limits`), refused before it is made.

    The op that refuses does not know the user's text; the language names the
    sub-expression afterwards with `about`."""

    kind = "resource-limit"

    def __init__(self, detail: str, *, subject: str = "the result", hint: str | None = None):
        super().__init__(f"{subject} {detail}", hint=hint)
        self.detail = detail

    def about(self, subject: str) -> None:
        self.message = f"{subject} {self.detail}"
        self.args = (self.message,)


class FormulaError(GradcliError):
    """A derivative that gradcli's language cannot write as a formula (diff)."""

    kind = "formula"


class StaleTablesError(GradcliError, RuntimeError):
    """The parse tables in this install were generated from another grammar."""

    kind = "install"
