"""SIGTERM and SIGHUP handled as Ctrl-C is: an exception raised where the program was.

The exception (`Interrupted`, a KeyboardInterrupt) unwinds through every
`finally` and every cleanup the writers run on Ctrl-C, so temporary files and
scratch folders go away whichever of the three signals stopped the run; the
error boundary then prints one line and exits with 128 + the signal's number.
A signal the parent process ignores (`nohup` ignores SIGHUP) stays ignored.

This reads `_signal`, the C module under `signal`: `signal` builds its enums
on import, about a millisecond that every run would pay at start-up.
"""

from __future__ import annotations

import contextlib
from types import FrameType
from typing import Any

from gradcli.errors import Interrupted

try:
    import _signal as _os_signals
except ImportError:  # another Python: the public module has the same functions
    import signal as _os_signals

_NAMES = ("SIGINT", "SIGTERM", "SIGHUP")


def _signals() -> dict[int, str]:
    return {getattr(_os_signals, name): name for name in _NAMES
            if hasattr(_os_signals, name)}


#: the signals `install` took over (not those the parent process had ignored)
_TAKEN: set[int] = set()


def install() -> None:
    for signum in _signals():
        try:
            if _os_signals.getsignal(signum) == _os_signals.SIG_IGN:
                continue
            _os_signals.signal(signum, _raise)
            _TAKEN.add(signum)
        except (OSError, ValueError):  # not the main thread: leave Python's defaults
            pass


def rearm() -> None:
    """Take the signals again after one stopped a command: `gradcli repl` goes on
    after Ctrl-C, and the next command must be stoppable the same way."""
    for signum in _TAKEN:
        with contextlib.suppress(OSError, ValueError):
            _os_signals.signal(signum, _raise)


def ignore() -> None:
    """From here on the three signals are ignored: what is left is the interpreter's exit."""
    for signum in _signals():
        with contextlib.suppress(OSError, ValueError):
            _os_signals.signal(signum, _os_signals.SIG_IGN)


def _raise(signum: int, frame: FrameType | None) -> Any:
    # the first signal stops the run; later ones would only cut its cleanup short
    ignore()
    names = _signals()
    raise Interrupted(signum, names.get(signum, f"signal {signum}"))
