"""The command line: `gradcli COMMAND EXPR [NAME=VALUE]... [options]`.

`main` tries the lean front end first and falls back to the Typer app for
help, completion and anything unusual; both are built from `cli/spec.py` and
both end in `run.execute`, inside the one error boundary (`cli/boundary.py`).
"""

from __future__ import annotations

import os
import sys

from gradcli.errors import EXIT_INTERRUPTED, EXIT_OUTPUT


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if sys.stderr is None:  # started with stderr closed (2>&-): messages go nowhere
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    from gradcli.cli import signals

    signals.install()
    try:
        code = _run(args)
    except KeyboardInterrupt as stop:  # a signal before a command started
        code = getattr(stop, "exit_code", EXIT_INTERRUPTED)
        sys.stderr.write(f"gradcli: interrupted ({getattr(stop, 'name', 'SIGINT')})\n")
    code = _flush_stdout(code)
    signals.ignore()  # the run is over and its code decided: a late signal changes nothing
    stopped = code in (EXIT_OUTPUT, EXIT_INTERRUPTED) or 128 < code < 160
    if stopped and "pyarrow" in sys.modules:
        # stdout failed or a signal stopped the run mid-stream: the point reader's Arrow
        # threads may still be reading ahead, and a normal exit destroys Arrow's thread
        # pool under them (libstdc++'s "terminate called", exit -6, seen in CI after a
        # SIGINT and after a closed pipe). Everything gradcli writes is flushed or removed
        # by now (outputs are discarded on the way out); leave without the C++ teardown.
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _run(args: list[str]) -> int:
    from gradcli.cli.fast import parse_argv

    invocation = parse_argv(args)
    if invocation is not None:
        from gradcli.cli.run import execute

        return execute(invocation)
    from gradcli.cli.app import run_app

    return run_app(args)


def _flush_stdout(code: int) -> int:
    """Flush stdout while we can still say what went wrong, then make sure the
    interpreter's own flush at exit has nothing left to fail on."""
    from gradcli.errors import EXIT_OUTPUT

    if sys.stdout is None:
        return code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away (| head): not an error of ours
    except (OSError, ValueError) as exc:
        if code == 0:
            reason = getattr(exc, "strerror", None) or str(exc)
            sys.stderr.write(f"error: cannot write the results to standard output: {reason}\n")
            code = EXIT_OUTPUT
    else:
        return code
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        sys.stdout = None
    return code
