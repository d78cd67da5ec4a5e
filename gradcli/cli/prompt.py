"""What one line typed at `gradcli repl` means, and the bindings it keeps.

The prompt is a thin layer over the command line, not a second interpreter: a
line such as `grad f --eig` is turned into the argument list the shell would
have passed (`grad "(x+1)*(x+2)" x=2 --eig`) and run through the same parser,
the same `run.execute` and the same error boundary, so a command typed here
prints exactly what the same command prints in the shell. What the prompt adds
is state between lines:

- `x = 2` binds a value (the right side is a constant expression);
- `f = (x+1)*(x+2)` binds an expression (the right side has free variables);
  it is expanded where it is defined, so redefining `x` later changes the
  value `f` is evaluated at, not what `f` means;
- `ans` is the answer of the last command: the value for `eval`, the gradient
  for `grad` of one variable, the Hessian or Jacobian matrix, else the value;
- a value binding is passed to a command only when its expression uses that
  name, so the output never lists bindings the command did not need.

The line is split the way a user reads it: at spaces outside brackets and
quotes. Top-level `NAME=VALUE` words are bindings, `--option` words (with
their value) are options, and the rest is the expression, exactly as typed.
This module needs neither readline nor a terminal: `repl.py` drives it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from gradcli.cli.spec import BY_NAME, Command, Invocation
from gradcli.errors import ArgumentError, GradcliError, Span

#: words the prompt itself understands (beside the commands of the CLI spec)
BUILTINS = ("vars", "help", "del", "quit", "exit", ":format", ":quit")
#: the view `:format` may choose, for every command that offers it
VIEWS = ("table", "json", "csv")

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_ASSIGNMENT = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s*=(?!=)(.*)\Z", re.S)
_BINDING_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*=(?!=)")
_OPEN, _CLOSE = "([{", ")]}"


class Word:
    """One word of a line: its text and where it stands in the line."""

    __slots__ = ("end", "start", "text")

    def __init__(self, text: str, start: int, end: int):
        self.text, self.start, self.end = text, start, end


def split_words(line: str, brackets: bool = True) -> list[Word]:
    """Split at whitespace outside brackets and quotes. A line whose brackets do not
    balance is split at every space outside quotes, as the shell would split it, so the
    broken expression gets the parser's own message and caret."""
    words: list[Word] = []
    depth = 0
    quote = ""
    start: int | None = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch.isspace() and depth == 0:
            if start is not None:
                words.append(Word(line[start:i], start, i))
                start = None
            continue
        if start is None:
            start = i
        if ch in "'\"":
            quote = ch
        elif ch in _OPEN and brackets:
            depth += 1
        elif ch in _CLOSE and brackets:
            depth -= 1
    if quote:
        raise ArgumentError("this line has a quote that is never closed",
                            span=Span(line.rfind(quote), len(line)),
                            hint=f"close it with {quote}")
    if start is not None:
        words.append(Word(line[start:], start, len(line)))
    if depth != 0:
        return split_words(line, brackets=False)
    return words


def unquote(text: str) -> str:
    """A word written in quotes, as a shell user would quote it, without them."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def value_text(value: np.ndarray) -> str:
    """A value as the language writes it, exact (shortest round-trip) for every float."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        x = float(array)
        if np.isnan(x):
            return "nan"
        if np.isinf(x):
            return "inf" if x > 0 else "-inf"
        text = repr(x)
        return text[:-2] if text.endswith(".0") else text
    return "[" + ", ".join(value_text(item) for item in array) + "]"


def substitute(text: str, replace: Callable[[str], str | None]) -> str:
    """`text` with each variable name (outside quotes, not a call or keyword) replaced."""
    pieces: list[str] = []
    i = 0
    quote = ""
    while i < len(text):
        ch = text[i]
        if quote:
            pieces.append(ch)
            if ch == quote:
                quote = ""
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            pieces.append(ch)
            i += 1
            continue
        match = _NAME.match(text, i)
        if match is None or (i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_.")):
            pieces.append(ch)
            i += 1
            continue
        name = match.group()
        rest = text[match.end():].lstrip()
        is_call_or_keyword = rest.startswith("(") or (rest.startswith("=") and
                                                      not rest.startswith("=="))
        new = None if is_call_or_keyword else replace(name)
        pieces.append(name if new is None else new)
        i = match.end()
    return "".join(pieces)


class Binding:
    """A name bound at the prompt: a value (its exact text) or an expression."""

    __slots__ = ("expression", "text", "value")

    def __init__(self, text: str, value: np.ndarray | None):
        self.text = text
        self.value = value
        self.expression = value is None


def answer_of(result: Any) -> np.ndarray | None:
    """What `ans` becomes after a command: the thing the command was asked for."""
    from gradcli import results as r

    if isinstance(result, r.GradResult) and len(result.gradient) == 1:
        return np.asarray(next(iter(result.gradient.values())))
    if isinstance(result, r.HessianResult):
        return np.asarray(result.hessian)
    if isinstance(result, r.JacobianResult):
        return np.asarray(result.jacobian)
    value = getattr(result, "value", None)
    if value is None:
        return None
    array = np.asarray(value)
    return array if array.dtype.kind in "fiub" else None


class PromptSession:
    """The state of one `gradcli repl`: bindings, `ans` and the chosen view."""

    def __init__(self, view: str | None = None):
        self.bindings: dict[str, Binding] = {}
        self.view = view
        #: set by `quit`, `exit`, `:quit` (or a signal other than Ctrl-C): the code to end with
        self.finished: int | None = None

    # -- one line ---------------------------------------------------------------------
    def handle(self, line: str, out: TextIO, err: TextIO) -> int:
        """Run one line; return the exit code the same command would have in the shell."""
        from gradcli.cli.boundary import Session, guard

        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return 0
        session = Session(out, err, json_errors=self.view == "json")
        session.source = line
        return guard(lambda s: self._dispatch(line, s), session, what="gradcli repl")

    def _dispatch(self, line: str, session: Any) -> int:
        words = split_words(line)
        first = words[0].text
        if first in ("quit", "exit", ":quit", ":q") and len(words) == 1:
            self.finished = 0
            return 0
        if first == ":format":
            return self._set_view(words, session)
        if first == "vars" and len(words) == 1:
            return self._show_vars(session.out)
        if first == "del":
            return self._delete(words)
        if first == "help":
            return self._help(words, session)
        assignment = _ASSIGNMENT.match(line)
        if assignment and first not in BY_NAME:
            return self._assign(assignment.group(1), assignment.group(2),
                                line.index("=") + 1)
        if first in BY_NAME:
            return self._command(BY_NAME[first], line, words[1:], session)
        return self._command(BY_NAME["eval"], line, words, session)

    # -- bindings ---------------------------------------------------------------------
    def _assign(self, name: str, text: str, offset: int) -> int:
        from gradcli.language.builder import language_functions
        from gradcli.language.program import parse

        if name in language_functions() or name in BY_NAME or name in BUILTINS:
            raise ArgumentError(f"'{name}' is a function or command name, not a variable",
                                span=Span(0, len(name)), hint="choose another name")
        if not text.strip():
            raise ArgumentError(f"{name} = what?", span=Span(offset, offset + 1),
                                hint=f"give a value or an expression, e.g. {name} = 2")
        body = text.strip()
        lead = offset + len(text) - len(text.lstrip())
        expanded = self._expand(body, now=(name, "ans"))
        try:
            program = parse(expanded)
        except GradcliError as error:
            if expanded == body and error.span is not None:
                error.span = Span(error.span.start + lead, error.span.end + lead)
            else:
                error.source = expanded
            raise
        if name in program.free_variables:
            raise ArgumentError(f"{name} is defined in terms of itself, and has no value yet",
                                span=Span(lead, lead + len(body)),
                                hint=f"give {name} a value first, e.g. {name} = 2")
        if program.free_variables:
            self.bindings[name] = Binding(expanded, None)
            return 0
        value = np.asarray(program.evaluate({}).data, dtype=np.float64)
        self.bindings.pop(name, None)
        self.bindings[name] = Binding(value_text(value), value)
        return 0

    def _expand(self, text: str, now: tuple[str, ...] = ()) -> str:
        """Bound expressions written out, in parentheses, where their names are used;
        the names in `now` (a definition's own name, `ans`) by their current value."""
        def replace(name: str) -> str | None:
            binding = self.bindings.get(name)
            if binding is None or not (binding.expression or name in now):
                return None
            return f"({binding.text})"

        whole = self.bindings.get(text.strip())
        if whole is not None and whole.expression:
            return whole.text  # `grad f`: f's own text, as the shell would be given it
        return substitute(text, replace)

    def _delete(self, words: list[Word]) -> int:
        for word in words[1:]:
            if word.text not in self.bindings:
                raise ArgumentError(f"{word.text} is not bound",
                                    span=Span(word.start, word.end), hint="'vars' lists them")
            del self.bindings[word.text]
        return 0

    def _show_vars(self, out: Any) -> int:
        if not self.bindings:
            out.write("no variables yet: bind one with NAME = VALUE, e.g. x = 2\n")
        for name, binding in self.bindings.items():
            kind = "expression" if binding.expression else "value"
            out.write(f"{name} = {binding.text}    ({kind})\n")
        return 0

    # -- commands ---------------------------------------------------------------------
    def argv(self, command: Command, line: str, words: list[Word]) -> list[str]:
        """The shell's argument list for a command line typed at the prompt."""
        flags = command.flags
        expression: list[Word] = []
        bindings: list[str] = []
        options: list[str] = []
        over: set[str] = set()
        i = 0
        while i < len(words):
            word = words[i]
            if word.text.startswith("--"):
                flag = word.text.partition("=")[0]
                options.append(word.text)
                option = flags.get(flag)
                takes_value = option is not None and option.kind != "flag"
                if takes_value and "=" not in word.text and i + 1 < len(words):
                    i += 1
                    options.append(unquote(words[i].text))
                    if flag == "--over":
                        over.add(words[i].text.partition("=")[0])
            elif _BINDING_WORD.match(word.text) and not expression_only(command):
                bindings.append(unquote(word.text))
            else:
                if expression and words[i - 1] is not expression[-1]:
                    raise ArgumentError("write the expression first, then bindings and options",
                                        span=Span(word.start, word.end))
                expression.append(word)
            i += 1
        argv = [command.name]
        if any(a.field == "expression" for a in command.arguments):
            if not expression:
                raise ArgumentError(f"{command.name} needs an expression",
                                    span=Span(len(line), len(line) + 1),
                                    hint=f"e.g. {command.name} (x+1)*(x+2) x=2")
            text = line[expression[0].start:expression[-1].end]
            text = self._expand(unquote(text) if len(expression) == 1 else text)
            given = {b.partition("=")[0] for b in bindings}
            argv.append(text)
            argv += bindings + self._needed_bindings(text, given | over)
        else:
            argv += [unquote(w.text) for w in expression] + bindings
        if self.view is not None and not any(o.startswith("--format") for o in options):
            format = command.option("format")
            if format is not None and format.choices and self.view in format.choices:
                options += ["--format", self.view]
        return argv + options

    def _needed_bindings(self, text: str, given: set[str]) -> list[str]:
        """NAME=VALUE for each bound value the expression uses and the line did not give."""
        from gradcli.language.program import parse

        try:
            names = parse(text).free_variables
        except GradcliError:
            return []  # the command itself reports the error, with its caret
        return [f"{n}={self.bindings[n].text}" for n in names
                if n not in given and n in self.bindings and not self.bindings[n].expression]

    def _command(self, command: Command, line: str, words: list[Word], session: Any) -> int:
        from gradcli.cli.fast import parse_argv

        argv = self.argv(command, line, words)
        invocation = parse_argv(argv)
        if invocation is None:
            return self._through_typer(argv, session)
        code, result = run_invocation(invocation, session)
        answer = None if result is None else answer_of(result)
        if answer is not None:
            self.bindings.pop("ans", None)
            self.bindings["ans"] = Binding(value_text(answer), answer)
        return code

    def _through_typer(self, argv: list[str], session: Any) -> int:
        """Help and the unusual forms the lean parser leaves to the Typer app."""
        import contextlib

        from gradcli.cli.app import run_app

        with contextlib.redirect_stdout(session.out.stream), \
                contextlib.redirect_stderr(session.err):
            try:
                return run_app(argv)
            except SystemExit as stop:
                return stop.code if isinstance(stop.code, int) else 0

    # -- the rest ---------------------------------------------------------------------
    def _set_view(self, words: list[Word], session: Any) -> int:
        if len(words) == 1:
            session.out.write(f"format: {self.view or 'table'}\n")
            return 0
        view = words[1].text
        if view not in VIEWS or len(words) > 2:
            raise ArgumentError(f":format takes one of {', '.join(VIEWS)}",
                                span=Span(words[1].start, words[-1].end))
        self.view = None if view == "table" else view
        return 0

    def _help(self, words: list[Word], session: Any) -> int:
        if len(words) == 1:
            session.out.write(HELP)
            return 0
        name = words[1].text
        if name in BY_NAME:
            return self._through_typer([name, "--help"], session)
        return self._command(BY_NAME["functions"], " ".join(w.text for w in words[1:]),
                             words[1:], session)

    def completions(self, line: str, text: str, functions: list[str]) -> list[str]:
        """Candidates for the word being typed (`text`), from the spec, table and bindings."""
        before = line[: len(line) - len(text)]
        words = before.split()
        if not words:
            pool = [*BY_NAME, *BUILTINS, *self.bindings, *functions]
        elif text.startswith("--") and words[0] in BY_NAME:
            pool = list(BY_NAME[words[0]].flags)
        elif words[0] == ":format":
            pool = list(VIEWS)
        elif words[0] == "help":
            pool = [*BY_NAME, *functions]
        else:
            pool = [*self.bindings, *functions]
        return sorted({c for c in pool if c.startswith(text)})


def expression_only(command: Command) -> bool:
    """Commands whose every word is their expression (no NAME=VALUE bindings)."""
    return not any(a.field == "bindings" for a in command.arguments)


def run_invocation(invocation: Invocation, session: Any) -> tuple[int, Any]:
    """Run a parsed command in this session; its exit code and the result it rendered."""
    from gradcli.cli.run import execute_keeping

    return execute_keeping(invocation, session.out, session.err)


HELP = """\
At the prompt, type a command as in the shell, without 'gradcli' and without quotes:
  grad (x+1)*(x+2) x=2        hessian f --eig        diff f        plot f --over x=0:3
A bare expression is evaluated:   x^2 + 1
  x = 2                  bind a value (any constant expression)
  f = (x+1)*(x+2)        bind an expression (it has free variables)
  ans                    the last answer: eval's value, grad's gradient, the Hessian, ...
  vars                   list the bindings        del NAME   forget one
  help NAME              a function's entry in the op table, or a command's help
  :format json|csv|table the view of every command that follows
  quit, exit or Ctrl-D   leave;  Ctrl-C cancels the line or the running command
"""
