"""The `gradcli` command's first instruction: Ctrl-C, SIGTERM and SIGHUP handled
before anything else is imported.

The console script cannot start in the `gradcli` package: importing any part of
it imports the package (the engine, the op table, numpy), about 0.2 s in which a
Ctrl-C would print a KeyboardInterrupt traceback and SIGTERM or SIGHUP would kill
the process without a word. This module imports nothing but the C signal module,
so the three signals are held (blocked) from the start; once the imports are done
and gradcli's handlers (`gradcli.cli.signals`) are in place, a signal held meanwhile
is delivered and ends the run with the same one line and exit code as any other. A
signal the parent ignores (`nohup`) stays ignored. It lives outside the package on
purpose, and holds nothing else. What comes before its first line (the interpreter's
own start-up and the console script's `import re`, a few tens of milliseconds) is
Python's, not gradcli's.
"""

from __future__ import annotations

import sys

try:
    import _signal as _os_signals
except ImportError:  # another Python: the public module has the same functions
    import signal as _os_signals

_NAMES = ("SIGINT", "SIGTERM", "SIGHUP")


def _signals() -> dict[int, str]:
    return {getattr(_os_signals, name): name for name in _NAMES
            if hasattr(_os_signals, name)}


def main() -> None:
    held = {signum for signum in _signals()
            if _os_signals.getsignal(signum) != _os_signals.SIG_IGN}
    # held, not handled: a handler run inside an extension module's import (numpy's)
    # makes that import fail with an ImportError and its traceback
    _os_signals.pthread_sigmask(_os_signals.SIG_BLOCK, held)
    try:
        from gradcli.cli import main as run
        from gradcli.cli import signals

        signals.install()
        _os_signals.pthread_sigmask(_os_signals.SIG_UNBLOCK, held)  # one held arrives here
        run()
    except KeyboardInterrupt as stop:  # before gradcli.cli.main's own boundary took it
        name = getattr(stop, "name", "SIGINT")
        try:
            sys.stderr.write(f"gradcli: interrupted ({name})\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        sys.exit(getattr(stop, "exit_code", 130))


if __name__ == "__main__":
    main()
