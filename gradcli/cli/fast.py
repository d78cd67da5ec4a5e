"""The lean front end: ordinary invocations without importing Typer.

Typer (with its dependencies) costs more to import than the whole of a small
job, and a CLI people call in loops should start fast. This reads exactly the
argument forms the spec (`cli/spec.py`) declares, the same rows the Typer app
is built from, and gives up, returning None, on anything else (help,
completion, a typo, a value of the wrong kind), so that the Typer app handles
it and its messages go through the same error boundary.
"""

from __future__ import annotations

from typing import Any

from gradcli.cli.spec import BY_NAME, Invocation


def parse_argv(argv: list[str]) -> Invocation | None:
    if not argv or argv[0] not in BY_NAME:
        return None
    command = BY_NAME[argv[0]]
    flags = command.flags
    given: dict[str, Any] = {}
    positional: list[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            positional += argv[i + 1:]
            break
        if arg.startswith("--") or arg == "-h":
            name, eq, inline = arg.partition("=")
            option = flags.get(name)
            if option is None:
                return None
            if option.kind == "flag":
                if eq:
                    return None
                given[option.field] = True
            else:
                if eq:
                    raw = inline
                elif i + 1 < len(argv):
                    i += 1
                    raw = argv[i]
                else:
                    return None
                try:
                    value = option.parse_text(raw)
                except ValueError:
                    return None
                if option.kind == "list":
                    given.setdefault(option.field, []).append(value)
                else:
                    given[option.field] = value
        else:
            # an expression such as "-x^2" or "-1/x": gradcli has no one-dash options but -h
            positional.append(arg)
        i += 1
    arguments: dict[str, Any] = {}
    for argument in command.arguments:
        if argument.repeat:
            arguments[argument.field], positional = positional, []
            if any("=" not in b for b in arguments[argument.field]):
                return None
        elif positional:
            arguments[argument.field] = positional.pop(0)
        elif argument.optional:
            arguments[argument.field] = ""
        else:
            return None
    if positional:
        return None
    return Invocation(command, arguments, given)
