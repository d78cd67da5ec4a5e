"""Child processes that are sent signals start with the dispositions a terminal gives.

A test run started in the background (`cmd &`, some CI runners) inherits SIGINT
ignored, and gradcli rightly keeps an ignored signal ignored (as `nohup` expects).
A test that sends Ctrl-C to a child must therefore give the child the default
dispositions a command typed at a terminal has, or it tests the runner, not gradcli.
"""

from __future__ import annotations

import signal


def signals_as_on_a_terminal() -> None:
    """`preexec_fn` for `subprocess.Popen`: SIGINT, SIGTERM and SIGHUP at their defaults."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
