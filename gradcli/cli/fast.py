"""The lean front end: ordinary invocations without importing Typer.

Typer (with its dependencies) costs more to import than the whole of a small
job, and a CLI people call in loops should start fast. This reads exactly the
argument forms the Typer app documents (a command, the expression, NAME=VALUE
bindings and the flags in `OPTION_FLAGS`) and gives up, returning None, on
anything else (help, completion, a typo), so that Typer handles it and shows
its usual messages.
"""

from __future__ import annotations

from gradcli.cli.options import COMMANDS, OPTION_FLAGS, Options

_CONVERT = {"precision": int, "order": int, "rtol": float, "atol": float, "chunk_size": int}


def parse_argv(argv: list[str]) -> tuple[str, str, list[str], Options] | None:
    if not argv or argv[0] not in COMMANDS:
        return None
    command = argv[0]
    options = Options()
    positional: list[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            positional += argv[i + 1:]
            break
        if arg.startswith("-") and arg != "-" and not _looks_like_value(arg, positional):
            name, eq, inline = arg.partition("=")
            spec = OPTION_FLAGS.get(name)
            if spec is None or command not in spec[2]:
                return None
            field, takes_value, _ = spec
            if takes_value:
                if eq:
                    raw = inline
                elif i + 1 < len(argv):
                    i += 1
                    raw = argv[i]
                else:
                    return None
                try:
                    value = _CONVERT[field](raw) if field in _CONVERT else raw
                except ValueError:
                    return None
                if field == "at":
                    options.at.append(str(value))
                else:
                    setattr(options, field, value)
            elif eq:
                return None
            else:
                setattr(options, field, True)
        else:
            positional.append(arg)
        i += 1
    if not positional:
        return None
    expression, bindings = positional[0], positional[1:]
    if any("=" not in b for b in bindings):
        return None
    return command, expression, bindings, options


def _looks_like_value(arg: str, positional: list[str]) -> bool:
    """An expression such as "-x^2" or "-1/x": gradcli has no one-dash options but -h."""
    return not arg.startswith("--") and arg != "-h"
