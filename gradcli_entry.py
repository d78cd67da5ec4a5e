"""The `gradcli` command's first instruction: Ctrl-C, SIGTERM and SIGHUP handled
before anything else is imported.

The console script cannot start in the `gradcli` package: importing any part of
it imports the package (the engine, the op table, numpy), about 0.2 s in which a
Ctrl-C would print a KeyboardInterrupt traceback and SIGTERM or SIGHUP would kill
the process without a word. This module imports nothing but the C signal module,
so the handlers are in place from the start; `gradcli.cli.signals` then installs
the same behaviour for the run itself. A signal the parent ignores (`nohup`)
stays ignored. It lives outside the package on purpose, and holds nothing else.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

try:
    import _signal as _os_signals
except ImportError:  # another Python: the public module has the same functions
    import signal as _os_signals  # type: ignore[no-redef]

_NAMES = ("SIGINT", "SIGTERM", "SIGHUP")


class StartupInterrupted(KeyboardInterrupt):
    """A signal during start-up, carrying what `gradcli.cli.main` reports for one."""

    def __init__(self, signum: int, name: str):
        super().__init__(name)
        self.name = name
        self.exit_code = 128 + signum


def _signals() -> dict[int, str]:
    return {getattr(_os_signals, name): name for name in _NAMES
            if hasattr(_os_signals, name)}


def _stop(signum: int, frame: FrameType | None) -> Any:
    for other in _signals():  # the first signal stops start-up; later ones change nothing
        _os_signals.signal(other, _os_signals.SIG_IGN)
    raise StartupInterrupted(signum, _signals().get(signum, f"signal {signum}"))


def main() -> None:
    for signum in _signals():
        if _os_signals.getsignal(signum) != _os_signals.SIG_IGN:
            _os_signals.signal(signum, _stop)
    try:
        from gradcli.cli import main as run

        run()
    except KeyboardInterrupt as stop:  # before gradcli's own boundary was in place
        name = getattr(stop, "name", "SIGINT")
        try:
            sys.stderr.write(f"gradcli: interrupted ({name})\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        sys.exit(getattr(stop, "exit_code", 130))


if __name__ == "__main__":
    main()
