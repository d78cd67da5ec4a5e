"""Which Dask cluster to use, and connecting to it.

`--scheduler tcp://host:8786` (or the standard `DASK_SCHEDULER_ADDRESS`) names a
running scheduler; `--scheduler local:N` starts a LocalCluster of N worker
processes for this run only. Without either, no cluster is used and nothing of
Dask is imported: a cluster is never started implicitly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gradcli.errors import GradcliError

INSTALL_LINE = "pip install 'gradcli[dask]'"
CONNECT_TIMEOUT = "10s"
"""How long to keep trying to reach a scheduler before giving up (exit 2)."""
_LOCAL = re.compile(r"^local:(\d+)$")


class SchedulerError(GradcliError):
    kind = "scheduler"


def scheduler_address(option: str | None, environ: Mapping[str, str] | None = None
                      ) -> str | None:
    """The scheduler asked for: the option, else DASK_SCHEDULER_ADDRESS, else None."""
    environ = os.environ if environ is None else environ
    text = option if option is not None else environ.get("DASK_SCHEDULER_ADDRESS") or None
    if text is None:
        return None
    text = text.strip()
    if text.startswith("local"):
        match = _LOCAL.match(text)
        if match is None or int(match[1]) < 1:
            raise SchedulerError(f"--scheduler {text}: write local:N with N worker processes, "
                                 "e.g. local:4")
    elif not text:
        raise SchedulerError("--scheduler needs an address, e.g. tcp://host:8786 or local:4")
    return text


def require_distributed() -> Any:
    """The `distributed` module, or exit 2 with the line that installs it."""
    try:
        import distributed
    except ImportError:
        raise SchedulerError("--scheduler needs Dask's distributed package, which is not "
                             "installed", hint=f"install it with: {INSTALL_LINE}") from None
    return distributed


def _worker_environment(workers: int) -> dict[str, str]:
    """Each local worker process gets its share of the cores for a chunk's blocks (the
    batch loop shares them among threads), unless GRADCLI_THREADS says otherwise."""
    if "GRADCLI_THREADS" in os.environ:
        return {}
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return {"GRADCLI_THREADS": str(max(1, cores // workers))}


def _hold_terminal_signals() -> Any:
    """Block SIGINT and SIGHUP in this thread while the LocalCluster starts.

    Ctrl-C and a terminal's hang-up go to the whole foreground process group: every
    worker would die with its own traceback (KeyboardInterrupt, CancelledError, the
    resource tracker's KeyErrors) before gradcli could say one line. A blocked signal
    stays blocked across fork and exec, and the cluster's event-loop thread, started
    here, inherits the mask too, so every worker process it spawns (restarts included)
    never receives them: gradcli alone does, and closes the cluster in order. SIGTERM
    stays deliverable, since closing the cluster terminates its workers with it. The
    main thread's own mask is restored right after, so nothing that came is lost."""
    import signal

    wanted = {getattr(signal, n) for n in ("SIGINT", "SIGHUP") if hasattr(signal, n)}
    if not hasattr(signal, "pthread_sigmask") or not wanted:
        return None
    held = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    # multiprocessing's resource tracker, started on the first spawn, unblocks SIGINT in
    # the thread that starts it (bpo-33613): start it now, from here, so the loop
    # thread never does; it keeps SIGHUP blocked, and ignores SIGINT itself
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    return held


def _release(held: Any) -> None:
    if held is not None:
        import signal

        signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextmanager
def connect(address: str) -> Iterator[Any]:
    """A `distributed.Client` for `address`, closed (with its LocalCluster) on the way out."""
    import logging

    distributed = require_distributed()
    match = _LOCAL.match(address)
    if match:  # its workers' own logs would repeat on stderr what the run reports
        workers = int(match[1])
        held = _hold_terminal_signals()
        try:
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=":0", silence_logs=logging.CRITICAL,
                env=_worker_environment(workers))
        except BaseException:
            _release(held)
            raise
        try:
            _release(held)  # a Ctrl-C that came while the cluster started is raised here
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}",
                             hint="check the address (tcp://host:8786) and that the "
                                  "scheduler is running") from None
    with client:
        yield client
