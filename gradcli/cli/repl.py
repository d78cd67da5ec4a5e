"""`gradcli repl`: the interactive prompt, on the standard library's readline.

readline (GNU readline 8 here) already gives everything the prompt needs:
line editing, history kept in a file, Ctrl-R search and tab completion, at no
install cost and about a millisecond of import; prompt_toolkit would add a
dependency and tens of milliseconds for nothing the prompt uses. Where
readline is missing (some Windows Pythons) the prompt still works, without
editing. What a line means is `cli/prompt.py`'s job; this module only reads
lines, completes words, keeps the history and handles Ctrl-C and Ctrl-D.

When standard input is not a terminal (`gradcli repl < session.txt`) lines are
read without a prompt or editing and the run ends at the end of the input,
so a prompt session can be scripted and tested.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from gradcli.cli.prompt import PromptSession
from gradcli.cli.spec import Invocation
from gradcli.errors import EXIT_OK, Interrupted

PROMPT = "gradcli> "
#: lines of history kept between runs
HISTORY_LENGTH = 5000


def history_path(given: str | None) -> Path:
    """--history FILE, else `history` in the platform's state folder for gradcli."""
    if given:
        return Path(given)
    try:
        import platformdirs

        return Path(platformdirs.user_state_dir("gradcli")) / "history"
    except ImportError:  # platformdirs is a dependency; this only guards a broken install
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(state) / "gradcli" / "history"


def warm_up() -> None:
    """Import what the first command needs while the prompt opens, so that the first
    answer is as quick as the later ones."""
    import gradcli.compute  # noqa: F401
    from gradcli.cli import render  # noqa: F401
    from gradcli.language.program import parse

    parse("x + 1")


class LineEditor:
    """readline set up for the prompt: completion from the session, a history file."""

    def __init__(self, session: PromptSession, history: Path):
        import readline

        from gradcli.language.builder import language_functions

        self.readline = readline
        self.session = session
        self.history = history
        self.functions = sorted(language_functions())
        self.matches: list[str] = []
        readline.set_completer(self.complete)
        readline.set_completer_delims(" \t\n()[]{},+-*/^@<>=!&|%~;'\"")
        binding = "bind ^I rl_complete" if "libedit" in (readline.__doc__ or "") \
            else "tab: complete"
        readline.parse_and_bind(binding)
        readline.set_history_length(HISTORY_LENGTH)
        with contextlib.suppress(OSError):  # no history yet, or one we may not read
            readline.read_history_file(history)

    def complete(self, text: str, state: int) -> str | None:
        if state == 0:
            line = self.readline.get_line_buffer()[: self.readline.get_endidx()]
            self.matches = self.session.completions(line, text, self.functions)
        return self.matches[state] if state < len(self.matches) else None

    def save(self) -> None:
        try:
            self.history.parent.mkdir(parents=True, exist_ok=True)
            self.readline.write_history_file(self.history)
        except OSError as exc:
            sys.stderr.write(f"warning: cannot save the history to {self.history}: "
                             f"{exc.strerror}\n")


def run_repl(invocation: Invocation, values: dict[str, Any], session: Any) -> int:
    """The prompt loop: one line, one answer, until Ctrl-D, `quit` or a signal."""
    from gradcli.cli import signals

    view = values["format"] if values["format"] != "table" else None
    prompt = PromptSession(view=view)
    interactive = sys.stdin is not None and sys.stdin.isatty()
    editor = None
    warm_up()
    if interactive:
        try:
            editor = LineEditor(prompt, history_path(values["history"]))
        except ImportError:
            editor = None
        session.err.write("gradcli repl: type 'help' for help, Ctrl-D to leave\n")
    try:
        while prompt.finished is None:
            signals.rearm()
            try:
                line = input(PROMPT) if interactive else _read_line()
            except EOFError:
                if interactive:
                    session.err.write("\n")
                break
            except KeyboardInterrupt as stop:
                if isinstance(stop, Interrupted) and stop.name != "SIGINT":
                    raise
                session.err.write("\n")  # Ctrl-C at the prompt: a fresh line
                continue
            if line is None:
                break
            code = prompt.handle(line, sys.stdout, session.err)
            sys.stdout.flush()
            if code in (129, 143):  # SIGHUP or SIGTERM while a command ran: leave
                return code
    finally:
        if editor is not None:
            editor.save()
    return prompt.finished or EXIT_OK


def _read_line() -> str | None:
    assert sys.stdin is not None
    line = sys.stdin.readline()
    return None if line == "" else line.rstrip("\n")
