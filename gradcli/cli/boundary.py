"""The one error boundary: how every command, whoever parsed it, ends.

`guard` runs a command's body and turns whatever escapes it into one message
on stderr (with a caret under the span it points at) and a documented exit
code; with `--format json` the same error is also one strict JSON object on
stdout, `{"error": {"kind", "message", "span", "hint"}}`. A `GradcliError`
is the user's mistake; a signal (SIGINT, SIGTERM, SIGHUP) ends the run after
the cleanup its unwinding ran; a failure writing stdout is `output`, exit 74;
anything else is a bug in gradcli: exit 70, one line, and the traceback only
with GRADCLI_DEBUG=1. `gradcli batch` uses `error_object` for its per-job
records, so a job's error carries exactly the same fields.
"""

from __future__ import annotations

import errno
import os
import warnings
from collections.abc import Callable
from typing import Any, TextIO

from gradcli.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    GradcliError,
    InternalError,
    Interrupted,
    OutputError,
)


class Output:
    """Standard output as the commands see it: writes that fail (a full disk, a closed
    stdout) become one `OutputError`; a reader that went away (`| head`) stays a
    BrokenPipeError, which the boundary ends quietly."""

    def __init__(self, stream: TextIO | None):
        self.stream = stream
        self.wrote = False
        #: what went wrong writing, if anything: an OutputError, or the reader going away
        self.failure: BaseException | None = None

    def write(self, text: str) -> int:
        if self.stream is None:
            self.failure = OutputError("cannot write the results: standard output is closed")
            raise self.failure
        self.wrote = True
        try:
            return self.stream.write(text)
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        if self.stream is None:
            return
        try:
            self.stream.flush()
        except OSError as exc:
            raise self._failed(exc) from None
        except ValueError:  # flushing a stream that was closed under us
            self.failure = OutputError("cannot write the results: standard output is closed")
            raise self.failure from None

    def _failed(self, exc: OSError) -> BaseException:
        """Remember the failure: a library writing through us (polars, pyarrow) may
        wrap what we raise in an exception of its own."""
        if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
            self.failure = exc
            return exc
        reason = exc.strerror or str(exc)
        self.failure = OutputError(f"cannot write the results to standard output: {reason}")
        return self.failure

    @property
    def buffer(self) -> BinaryOutput:
        """The binary stream under stdout (Parquet, Arrow IPC), failures seen the same way;
        AttributeError where there is none (a test's StringIO), as for any text stream."""
        if self.stream is None:
            self.failure = OutputError("cannot write the results: standard output is closed")
            raise self.failure
        raw = getattr(self.stream, "buffer", None)
        if raw is None:
            raise AttributeError("buffer")
        return BinaryOutput(raw, self)

    def isatty(self) -> bool:
        try:
            return self.stream is not None and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self.stream is None:
            raise OSError("standard output is closed")
        return self.stream.fileno()


class BinaryOutput:
    """stdout's binary buffer, for writers of binary formats: its write and flush
    failures are remembered by the `Output` it belongs to; all else is the buffer's."""

    def __init__(self, raw: Any, owner: Output):
        self.raw = raw
        self.owner = owner

    def write(self, data: Any) -> int:
        self.owner.wrote = True
        try:
            written: int = self.raw.write(data)
            return written
        except OSError as exc:
            raise self.owner._failed(exc) from None

    def flush(self) -> None:
        try:
            self.raw.flush()
        except OSError as exc:
            raise self.owner._failed(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class Session:
    """One command's streams, and what the boundary needs to know to report an error."""

    def __init__(self, out: TextIO | None, err: TextIO, json_errors: bool):
        self.out = out if isinstance(out, Output) else Output(out)
        self.err = err
        self.json_errors = json_errors
        #: the text an error's span points into (the expression, once read)
        self.source: str | None = None
        #: the result object the command rendered, for a caller that keeps it (the prompt)
        self.result: Any = None


def error_object(error: GradcliError) -> dict[str, Any]:
    """The JSON form of an error: the contract in the README ("JSON errors")."""
    span = error.span
    return {"kind": error.kind, "message": error.message,
            "span": None if span is None else [int(span.start), int(span.end)],
            "hint": error.hint}


def internal_error(exc: BaseException, what: str) -> InternalError:
    """A failure that is not the user's: one line saying what failed and what to do."""
    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    name = type(exc).__name__
    return InternalError(
        f"{what} failed ({name}{': ' + detail if detail else ''}); this is a bug; please "
        "report it", hint="run again with GRADCLI_DEBUG=1 to see the traceback")


def report(error: GradcliError, session: Session) -> int:
    import json

    from gradcli.language.diagnostics import render_error

    session.err.write(render_error(error, error.source or session.source) + "\n")
    if session.json_errors and not getattr(error, "stdout_broken", False):
        try:
            session.out.write(json.dumps({"error": error_object(error)}, ensure_ascii=False,
                                         allow_nan=False) + "\n")
            session.out.flush()
        except (OSError, OutputError):
            pass  # stdout is gone too: stderr has said it
    return error.exit_code


def guard(body: Callable[[Session], int], session: Session, what: str) -> int:
    """Run `body`, and end every way it can end with a documented code.

    Python's own warnings (numpy's "Mean of empty slice", a library's deprecation) are
    silenced here: what a user should know of is said by gradcli's own warning lines
    (a non-finite value and where it came from), and a raw warning would show them a
    source line from inside numpy."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = body(session)
            session.out.flush()
        return code
    except KeyboardInterrupt as stop:
        return interrupted(stop, session)
    except Exception as exc:
        failure = session.out.failure
        if _reader_went_away(exc) or _reader_went_away(failure):
            return EXIT_OK  # the reader went away (| head): not an error of ours
        if isinstance(failure, GradcliError):  # whatever a library wrapped it in
            return report(failure, session)
        if isinstance(exc, GradcliError):
            return report(exc, session)
        return _internal(exc, session, what)


def _reader_went_away(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and (isinstance(exc, BrokenPipeError) or
                                         exc.errno == errno.EPIPE)


def _internal(exc: Exception, session: Session, what: str) -> int:
    if os.environ.get("GRADCLI_DEBUG"):
        import traceback

        traceback.print_exception(exc, file=session.err)
    return report(internal_error(exc, what), session)


def interrupted(stop: KeyboardInterrupt, session: Session) -> int:
    """One line for Ctrl-C, SIGTERM or SIGHUP, after the cleanup the unwinding ran."""
    if isinstance(stop, Interrupted):
        name, code = stop.name, stop.exit_code
    else:
        name, code = "SIGINT", EXIT_INTERRUPTED
    session.err.write(f"gradcli: interrupted ({name})\n")
    if session.json_errors and not session.out.wrote:
        import json

        try:
            session.out.write(json.dumps({"error": {
                "kind": "interrupted", "message": f"interrupted ({name})", "span": None,
                "hint": None}}) + "\n")
            session.out.flush()
        except (OSError, OutputError):
            pass
    return code
