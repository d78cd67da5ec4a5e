"""The output directory of a cluster run: part files, then the `_SUCCESS` manifest.

Layout (one part per work unit, numbered in input order):

    DIR/part-00000.parquet      rows of unit 0
    DIR/part-00001.parquet      rows of unit 1
    ...
    DIR/_SUCCESS                JSON manifest, written last: the commit

While the run goes on, workers write each part under a unique name in a
staging folder `DIR/_temporary-RUN/` (a re-run of a unit, after a worker was
lost, writes a fresh name and so never meets a half-written file). The client
renames a part into place when its task reports back, so no part can appear
after the run has given up, and a directory without `_SUCCESS` is not an output.
On failure or Ctrl-C this run's parts and the staging folder are removed.

On an object store (`--out s3://bucket/results/`), where a rename is a copy,
each part is written directly under its final name as one object (an object
appears whole or not at all), and `_SUCCESS` is one more object, written last.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from typing import Any

from gradcli.errors import GradcliError
from gradcli.pointfiles.sources import is_url
from gradcli.pointfiles.target import default_mode

SUCCESS = "_SUCCESS"
PART_EXTENSIONS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}
_STAGING_PREFIX = "_temporary-"


class OutputDirectoryError(GradcliError):
    kind = "output"


def part_name(index: int, fmt: str) -> str:
    return f"part-{index:05d}.{PART_EXTENSIONS[fmt]}"


def part_destination(destination: str, index: int, fmt: str) -> str:
    """Where one attempt at one unit's part is written: a fresh name in the local
    staging folder, or the part's own object under an object-store URL."""
    if is_url(destination):
        return f"{destination.rstrip('/')}/{part_name(index, fmt)}"
    return os.path.join(destination, f"{part_name(index, fmt)}.{uuid.uuid4().hex}.partial")


def output_directory(path: str, fmt: str) -> PartsDirectory | ObjectStoreParts:
    return ObjectStoreParts(path, fmt) if is_url(path) else PartsDirectory(path, fmt)


def _ours(name: str) -> bool:
    return name == SUCCESS or name.startswith(("part-", _STAGING_PREFIX, f".{SUCCESS}."))


class PartsDirectory:
    """This run's output directory: checked before computing, committed or cleaned after."""

    def __init__(self, path: str, fmt: str):
        self.path = path
        self.fmt = fmt
        self.staging = os.path.join(path, f"{_STAGING_PREFIX}{uuid.uuid4().hex[:12]}")
        self.committed: list[str] = []
        self.created = False
        #: what each task is given to write its part under
        self.destination = self.staging

    def prepare(self, overwrite: bool) -> None:
        """Make sure the directory exists and is empty (or, with overwrite, emptied)."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise OutputDirectoryError(
                f"--out {self.path} is a file; with --scheduler the output is a directory "
                "of part files", hint="name a new or empty directory")
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise OutputDirectoryError(f"the directory {parent} does not exist",
                                       hint="create it first, or choose another --out")
        existing = sorted(os.listdir(self.path)) if os.path.isdir(self.path) else []
        if existing and not overwrite:
            raise OutputDirectoryError(
                f"--out {self.path} is not empty",
                hint="pass --overwrite to replace an earlier run's output, or name a new "
                     "directory")
        if existing:
            foreign = [name for name in existing if not _ours(name)]
            if foreign:
                raise OutputDirectoryError(
                    f"--out {self.path} holds files gradcli did not write "
                    f"({', '.join(foreign[:3])}), so --overwrite leaves it alone",
                    hint="name a new or empty directory")
            # the manifest goes first: from then on the old output is no longer valid
            if SUCCESS in existing:
                os.remove(os.path.join(self.path, SUCCESS))
            for name in existing:
                _remove(os.path.join(self.path, name))
        self.created = not os.path.isdir(self.path)
        try:
            os.makedirs(self.staging)
        except OSError as exc:
            raise OutputDirectoryError(f"cannot write to {self.path}: {exc.strerror}") \
                from None

    def commit_part(self, staged: str, index: int) -> str:
        """Move one finished part into place; a re-run of the unit replaces it whole."""
        name = part_name(index, self.fmt)
        os.replace(staged, os.path.join(self.path, name))
        self.committed.append(name)
        return name

    def commit(self, manifest: dict[str, Any]) -> None:
        """Write `_SUCCESS` (under a temporary name, then renamed) and drop the staging."""
        handle, temporary = tempfile.mkstemp(prefix=f".{SUCCESS}.", dir=self.path)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=1, allow_nan=False)
                f.write("\n")
            os.chmod(temporary, default_mode())
            os.replace(temporary, os.path.join(self.path, SUCCESS))
        except BaseException:
            _remove(temporary)
            raise
        shutil.rmtree(self.staging, ignore_errors=True)

    def abort(self) -> None:
        """Remove this run's parts and staging folder; leave the directory itself."""
        shutil.rmtree(self.staging, ignore_errors=True)
        for name in self.committed:
            _remove(os.path.join(self.path, name))
        self.committed.clear()
        if self.created:
            with contextlib.suppress(OSError):  # something else was put there: leave it
                os.rmdir(self.path)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)



class ObjectStoreParts:
    """The same directory on an object store: parts are objects written by the workers."""

    def __init__(self, url: str, fmt: str):
        import fsspec

        self.path = url.rstrip("/")
        self.fmt = fmt
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.path)
        except (ImportError, ValueError) as exc:
            raise OutputDirectoryError(f"cannot write to {url}: {exc}") from None
        self.destination = self.path
        self.committed: list[str] = []

    def _names(self) -> list[str]:
        try:
            listed = self.fs.ls(self.root, detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(name.rstrip("/").rsplit("/", 1)[-1] for name in listed)

    def prepare(self, overwrite: bool) -> None:
        existing = self._names()
        if existing and not overwrite:
            raise OutputDirectoryError(
                f"--out {self.path} is not empty",
                hint="pass --overwrite to replace an earlier run's output, or name a new "
                     "prefix")
        foreign = [name for name in existing if not _ours(name)]
        if foreign:
            raise OutputDirectoryError(
                f"--out {self.path} holds objects gradcli did not write "
                f"({', '.join(foreign[:3])}), so --overwrite leaves it alone")
        if SUCCESS in existing:  # first: from then on the old output is no longer valid
            self.fs.rm(f"{self.root}/{SUCCESS}")
        self._remove_parts()

    def commit_part(self, written: str, index: int) -> str:
        """The part is already in place (written as one object): just note it."""
        name = part_name(index, self.fmt)
        self.committed.append(name)
        return name

    def commit(self, manifest: dict[str, Any]) -> None:
        text = json.dumps(manifest, indent=1, allow_nan=False) + "\n"
        self.fs.pipe_file(f"{self.root}/{SUCCESS}", text.encode())

    def abort(self) -> None:
        """Remove every part of this run (prepare left none of any other)."""
        self._remove_parts()
        self.committed.clear()

    def _remove_parts(self) -> None:
        for name in self._names():
            if name.startswith("part-"):
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(f"{self.root}/{name}")
