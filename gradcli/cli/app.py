"""The Typer app, built from the spec: help, completion, and every option.

Each command is generated from its row in `cli/spec.py`: its parameters,
their help and defaults, its docstring. The generated callback only gathers
what was given into an `Invocation` and hands it to `run.execute`, like the
lean front end does. Usage errors Typer finds (an unknown option, a value of
the wrong kind) go through the same error boundary: one message, exit 2,
JSON on stdout with --format json, and a suggestion only where a real option
is close.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import inspect
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from gradcli import __version__
from gradcli.cli.boundary import Session, interrupted, report
from gradcli.cli.run import execute
from gradcli.cli.spec import BY_NAME, COMMANDS, JSON_FORMATS, Command, Invocation, Option
from gradcli.errors import EXIT_BAD_INPUT, EXIT_OUTPUT, UsageError

_TYPES: dict[str, Any] = {"text": str, "int": int, "float": float, "flag": bool,
                          "list": list[str]}


class GradcliGroup(TyperGroup):
    """Typer's group, with gradcli's error boundary around parsing, and help to stderr
    when no command is given."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not argv and "_GRADCLI_COMPLETE" not in os.environ:
            with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(typer.Exit):
                super().main(["--help"], prog_name or "gradcli", complete_var,
                             standalone_mode=False, **extra)
            sys.exit(EXIT_BAD_INPUT)
        session = Session(sys.stdout, sys.stderr, json_errors=_wants_json(argv))
        try:
            code = super().main(argv, prog_name or "gradcli", complete_var,
                                standalone_mode=False, **extra)
        except typer.Exit as done:
            if isinstance(done.__cause__, KeyboardInterrupt):  # Typer's own Ctrl-C handling
                sys.exit(interrupted(done.__cause__, session))
            sys.exit(done.exit_code)
        except typer.Abort:
            sys.exit(interrupted(KeyboardInterrupt(), session))
        except KeyboardInterrupt as stop:
            sys.exit(interrupted(stop, session))
        except Exception as problem:
            if not _is_usage_error(problem):
                raise
            sys.exit(report(_usage_error(problem, argv), session))
        sys.exit(code if isinstance(code, int) else 0)


def _wants_json(argv: list[str]) -> bool:
    """Whether the command line asks for JSON, read before (or without) parsing it."""
    format: Any = None
    for i, arg in enumerate(argv):
        if arg == "--format" and i + 1 < len(argv):
            format = argv[i + 1]
        elif arg.startswith("--format="):
            format = arg.partition("=")[2]
    if format is None and argv and argv[0] in BY_NAME:
        option = BY_NAME[argv[0]].option("format")
        format = None if option is None else option.default
    return format in JSON_FORMATS


def _is_usage_error(problem: Exception) -> bool:
    """Click's usage errors (Typer vendors click in some versions, so by their shape)."""
    return hasattr(problem, "format_message") and getattr(problem, "exit_code", None) == 2


def _usage_error(problem: Any, argv: list[str]) -> UsageError:
    """Click's complaint in gradcli's words, with the closest real option (or none)."""
    command = BY_NAME.get(argv[0]) if argv else None
    if type(problem).__name__ == "NoSuchOption":
        known = [o.flag for o in command.options] if command else ["--version", "--help"]
        close = difflib.get_close_matches(problem.option_name, known, n=1, cutoff=0.75)
        where = f"gradcli {command.name}" if command else "gradcli"
        return UsageError(f"{where} has no option {problem.option_name}",
                          hint=f"did you mean {close[0]}?" if close else
                          f"see gradcli {command.name if command else ''} --help".replace(
                              "  ", " "))
    message = problem.format_message()
    if isinstance(problem, typer.BadParameter):
        hint = None
    else:
        hint = f"see gradcli {command.name} --help" if command else "see gradcli --help"
    return UsageError(message[0].lower() + message[1:] if message else "bad command line",
                      hint=hint)


def _parameter(option: Option) -> inspect.Parameter:
    kind = _TYPES[option.kind]
    shown: Any = False
    if option.kind != "flag" and option.default not in (None, []):
        shown = str(option.default)
    info = typer.Option(option.flag, help=option.help, metavar=option.metavar,
                        show_default=shown)
    if option.kind == "flag":
        return inspect.Parameter(option.field, inspect.Parameter.KEYWORD_ONLY,
                                 default=False, annotation=Annotated[bool, info])
    return inspect.Parameter(option.field, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[kind | None, info])


def _callback(command: Command) -> Callable[..., int]:
    def callback(**given: Any) -> int:
        arguments = {a.field: given.pop(a.field) or ([] if a.repeat else "")
                     for a in command.arguments}
        typed = {field: value for field, value in given.items()
                 if value is not None and value is not False and value != []}
        for field, value in typed.items():
            if isinstance(value, tuple):
                typed[field] = list(value)
        return execute(Invocation(command, arguments, typed))

    parameters = []
    for argument in command.arguments:
        info = typer.Argument(metavar=argument.metavar, help=argument.help)
        if argument.repeat:
            parameters.append(inspect.Parameter(
                argument.field, inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[list[str] | None, info]))
        elif argument.optional:
            parameters.append(inspect.Parameter(
                argument.field, inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[str | None, info]))
        else:
            parameters.append(inspect.Parameter(
                argument.field, inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[str, info]))
    parameters += [_parameter(option) for option in command.options]
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__name__ = f"{command.name}_command"
    callback.__doc__ = f"{command.summary}\n\n{command.help}"
    return callback


def _version(value: bool) -> None:
    if value:
        print(f"gradcli {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="gradcli", cls=GradcliGroup,
        help="Exact derivatives from the shell: values, gradients, Hessians and Jacobians of "
             "expressions, by automatic differentiation.",
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def main_options(
        version: Annotated[bool | None, typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit.")
        ] = None,
    ) -> None:
        """Exact derivatives from the shell.

        Exit codes: 0 success; 1 computed but not good (check found a mismatch, a
        non-finite value under --strict, a failed row or job); 2 bad input (syntax,
        unknown function, unbound variable, shape, bad option); 70 an internal error
        (a bug); 74 stdout could not be written; 129, 130, 143 stopped by SIGHUP,
        SIGINT, SIGTERM.
        """

    for command in COMMANDS:
        app.command(command.name)(_callback(command))
    return app


app = build_app()


def run_app(argv: list[str]) -> int:
    closed = sys.stdout is None
    if closed:  # started with stdout closed (>&-): help and --version have nowhere to go
        sys.stdout = _ClosedStdout()
    try:
        app(args=argv, prog_name="gradcli")
    except SystemExit as exit:
        return int(exit.code or 0) if not isinstance(exit.code, str) else EXIT_BAD_INPUT
    except OSError as exc:  # the help or version text, which stdout could not take
        if isinstance(exc, BrokenPipeError):
            return 0  # the reader went away (| head): not an error of ours
        reason = "standard output is closed" if closed else \
            f"cannot write to standard output: {exc.strerror or exc}"
        sys.stderr.write(f"error: {reason}\n")
        return EXIT_OUTPUT
    finally:
        if closed:
            sys.stdout = None
    return 0


class _ClosedStdout(io.TextIOBase):
    """What stdout is when it was closed at start: every write fails, as on a closed fd."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def isatty(self) -> bool:
        return False
