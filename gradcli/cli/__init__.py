"""The command line: `gradcli COMMAND EXPR [NAME=VALUE]... [options]`.

`main` tries the lean front end first and falls back to the Typer app for
help, completion and anything unusual; both end in `run.execute`.
"""

from __future__ import annotations

import sys

from gradcli.errors import EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        code = _run(args)
    except KeyboardInterrupt:
        sys.stderr.write("gradcli: interrupted\n")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (| head): not an error of ours
        code = 0
    sys.exit(code)


def _run(args: list[str]) -> int:
    from gradcli.cli.fast import parse_argv

    parsed = parse_argv(args)
    if parsed is not None:
        from gradcli.cli.run import execute

        command, expression, bindings, options = parsed
        return execute(command, expression, bindings, options)
    from gradcli.cli.app import run_app

    return run_app(args)
