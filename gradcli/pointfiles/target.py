"""Where batch records go, and how they get there without harm.

* stdout: written as they come.
* A regular file, or a new one: written under a temporary name in the same
  directory, then renamed over it, so a reader sees the old file or the whole
  new one. A symlink is followed (its target is replaced, the link stays) and
  an existing file keeps its permissions.
* Anything else that exists (a device such as /dev/null, a FIFO, a socket):
  written straight through. Replacing it would destroy it; atomicity does not
  apply there.

Everything is checked when the target is made, before any computing: a
missing directory, a directory given as --out, no permission. Temporary files
and scratch folders are removed on every way out (an error, Ctrl-C, SIGTERM,
SIGHUP), because `discard` runs from the caller's `except BaseException` (the CLI turns
SIGTERM and SIGHUP into an exception raised where the program was, as Ctrl-C is).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from gradcli.errors import WriteError
from gradcli.pointfiles.formats import PointFileError


def default_mode() -> int:
    """The permissions a newly created file gets (mkstemp's own are owner-only)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class OutputTarget:
    def __init__(self, path: str | None, stream: IO[bytes] | None = None):
        self.path = path
        self.stream = stream
        self.temporary: str | None = None
        self.scratch: list[str] = []
        self.handle: IO[bytes] | None = None
        self.atomic = False
        #: the output is this process's standard output itself (--out /dev/stdout)
        self.is_stdout = False
        if path is None or path == "-":
            self.real = None
            return
        try:
            # stat follows links by the kernel's rules: /dev/stdout and /dev/fd/1 reach
            # the pipe itself, which realpath would turn into a name that is no path
            info = os.stat(path)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise PointFileError(f"cannot write --out {path}: {exc.strerror}") from None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise PointFileError(f"--out {path} is a directory",
                                 hint="give a file name, e.g. --out results.csv")
        if info is not None and not stat.S_ISREG(info.st_mode):
            if not os.access(path, os.W_OK):
                raise PointFileError(f"cannot write --out {path}: permission denied")
            self.real = path
            self.is_stdout = _same_file(info, sys.stdout)
            return  # a device, FIFO, pipe or socket: written straight through
        self.real = os.path.realpath(path)  # a symlink (or a chain) to its target
        self.directory = os.path.dirname(self.real)
        if not os.path.isdir(self.directory):
            raise PointFileError(f"the directory of --out {path} does not exist: "
                                 f"{self.directory}", hint="create it first (mkdir -p)")
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise PointFileError(f"cannot write in {self.directory} (for --out {path}): "
                                 "permission denied")
        if info is not None and not os.access(self.real, os.W_OK):
            raise PointFileError(f"cannot write --out {path}: permission denied")
        self.atomic = True
        self.mode = stat.S_IMODE(info.st_mode) if info is not None else default_mode()

    @property
    def name(self) -> str:
        return self.path if self.path is not None and self.path != "-" else "<stdout>"

    def open(self) -> IO[bytes]:
        """The binary file to write the records to."""
        if self.real is None:
            if self.stream is not None:
                self.handle = self.stream
            else:
                sys.stdout.flush()
                self.handle = sys.stdout.buffer
            return self.handle
        if not self.atomic:
            self.handle = open(self.real, "wb")  # noqa: SIM115 -- closed in commit/discard
            return self.handle
        base = os.path.basename(self.real)
        handle = _create_recorded(
            lambda: os.path.join(self.directory, f".{base}.{_random_tag()}.partial"),
            lambda name: os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
            self._record_temporary, lambda name: self._record_temporary(None))
        os.fchmod(handle, self.mode)
        self.handle = os.fdopen(handle, "wb")
        return self.handle

    def _record_temporary(self, name: str | None) -> None:
        self.temporary = name

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Around every write, close and rename: an operating-system failure (a full disk,
        a pipe whose reader left, permission taken away) becomes one `WriteError` in the
        system's own words (exit 74). Standard output keeps the boundary's rules."""
        try:
            yield
        except OSError as exc:
            if self.real is None:
                raise
            if self.is_stdout and _broken_pipe(exc):  # as a BrokenPipeError, whoever wrote
                raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE)) from None
            raise WriteError(f"cannot write --out {self.path}: {os_words(exc)}",
                             hint="nothing partial is left under that name (an existing "
                                  "file keeps its old content)" if self.atomic else None
                             ) from None

    def scratch_folder(self) -> str:
        """A folder for work files, removed by `commit` and `discard` alike."""
        parent = self.directory if self.atomic else tempfile.gettempdir()
        _create_recorded(lambda: os.path.join(parent, f".gradcli-{_random_tag()}"),
                         lambda name: os.mkdir(name, 0o700), self.scratch.append,
                         lambda name: self.scratch.remove(name))
        return self.scratch[-1]

    def commit(self) -> None:
        """The output is complete: close it and give it its final name."""
        with self.writing():
            self._close()
            if self.temporary is not None:
                os.replace(self.temporary, self.real)  # type: ignore[arg-type]
                self.temporary = None
        self._remove_scratch()

    def discard(self) -> None:
        """Leave nothing behind: no temporary file, no scratch folder."""
        try:
            with contextlib.suppress(OSError):  # a buffer that cannot be flushed: thrown away
                self._close()
        finally:
            if self.temporary is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.temporary)
                self.temporary = None
            self._remove_scratch()

    def _close(self) -> None:
        handle, self.handle = self.handle, None
        if handle is None:
            return
        if handle is getattr(sys.stdout, "buffer", None) or handle is self.stream:
            handle.flush()
        else:
            handle.close()

    def _remove_scratch(self) -> None:
        while self.scratch:
            shutil.rmtree(self.scratch.pop(), ignore_errors=True)


def _random_tag() -> str:
    return secrets.token_hex(6)


def _create_recorded(pick: Callable[[], str], create: Callable[[str], Any],
                     record: Callable[[str], None], forget: Callable[[str], None]) -> Any:
    """Record a name, then create it (tempfile's mkstemp and mkdtemp do it the other
    way round): a signal raised between the two then leaves a name `discard` removes,
    never a file or folder nobody knows about. `create` must refuse an existing name,
    which is forgotten again (it belongs to someone else) before another is picked."""
    while True:
        name = pick()
        record(name)
        try:
            return create(name)
        except FileExistsError:
            forget(name)


def os_words(exc: OSError) -> str:
    """What the operating system said, also where a library (polars) kept only its text,
    `No space left on device (os error 28)`."""
    if exc.strerror:
        return exc.strerror
    text = str(exc)
    found = re.search(r"\(os error (\d+)\)\s*$", text)
    return os.strerror(int(found[1])) if found else text


def _broken_pipe(exc: OSError) -> bool:
    return isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE or \
        os_words(exc) == os.strerror(errno.EPIPE)


def _same_file(info: os.stat_result, stream: Any) -> bool:
    try:
        other = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino)
