"""Child processes that are sent signals start with the dispositions a terminal gives.

A test run started in the background (`cmd &`, some CI runners) inherits SIGINT
ignored, and gradcli rightly keeps an ignored signal ignored (as `nohup` expects).
A test that sends Ctrl-C to a child must therefore give the child the default
dispositions a command typed at a terminal has, or it tests the runner, not gradcli.
"""

from __future__ import annotations

import signal
import time
from typing import Any


def signals_as_on_a_terminal() -> None:
    """`preexec_fn` for `subprocess.Popen`: SIGINT, SIGTERM and SIGHUP at their defaults."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def holds_signals(pid: int) -> bool:
    """Whether the process blocks SIGINT now: gradcli_entry does so from its first line
    until its imports are done (read from /proc, so the tests need no hook in gradcli)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("SigBlk:"):
                    return int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)) != 0
    except FileNotFoundError:
        pass
    return False


def wait_until_gradcli_runs(child: Any, timeout: float = 60.0) -> None:
    """Until the child is past the interpreter's own start-up (it holds the signals, or
    is done): a signal before that meets Python, not gradcli."""
    deadline = time.monotonic() + timeout
    while not holds_signals(child.pid) and child.poll() is None and \
            time.monotonic() < deadline:
        time.sleep(0.0005)
