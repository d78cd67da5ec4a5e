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
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from typing import Any

from gradcli.batch.target import default_mode
from gradcli.errors import GradcliError

SUCCESS = "_SUCCESS"
PART_EXTENSIONS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}
_STAGING_PREFIX = "_temporary-"


class OutputDirectoryError(GradcliError):
    kind = "output"


def part_name(index: int, fmt: str) -> str:
    return f"part-{index:05d}.{PART_EXTENSIONS[fmt]}"


def staged_name(staging: str, index: int, fmt: str) -> str:
    """A fresh name in the staging folder for one attempt at one unit's part."""
    return os.path.join(staging, f"{part_name(index, fmt)}.{uuid.uuid4().hex}.partial")


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

