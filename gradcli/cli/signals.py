"""SIGTERM and SIGHUP handled as Ctrl-C is: an exception raised where the program was.

The exception (`Interrupted`, a KeyboardInterrupt) unwinds through every
`finally` and every cleanup the writers run on Ctrl-C, so temporary files and
scratch folders go away whichever of the three signals stopped the run; the
error boundary then prints one line and exits with 128 + the signal's number.
A signal the parent process ignores (`nohup` ignores SIGHUP) stays ignored.
"""

from __future__ import annotations

import contextlib
import signal
from types import FrameType

from gradcli.errors import Interrupted

_NAMES = ("SIGINT", "SIGTERM", "SIGHUP")


def _signals() -> list[signal.Signals]:
    return [getattr(signal, name) for name in _NAMES if hasattr(signal, name)]


def install() -> None:
    for signum in _signals():
        try:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue
            signal.signal(signum, _raise)
        except (OSError, ValueError):  # not the main thread: leave Python's defaults
            pass


def _raise(signum: int, frame: FrameType | None) -> None:
    # the first signal stops the run; later ones would only cut its cleanup short
    for other in _signals():
        with contextlib.suppress(OSError, ValueError):
            signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum, signal.Signals(signum).name)
