"""NPZ point files: one array per variable, points on the first axis.

Each member is streamed: its .npy header is read and checked (numeric, at least
one axis, the size its header promises), then rows are read a chunk at a time,
so memory is bounded by the chunk whether the member is stored or deflated.
Object arrays are never unpickled. A Fortran-ordered member of two or more axes
cannot be streamed by rows and is read whole.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.pointfiles.kinds import problem_of
from gradcli.pointfiles.points import Chunk, PointFileError

if TYPE_CHECKING:
    from gradcli.pointfiles.sources import Source
    from gradcli.pointfiles.units import Unit


#: what a damaged archive raises while it is read (zlib, the zip layer, an unknown method)
CORRUPT = (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError,
           RuntimeError)


class _Member:
    def __init__(self, archive: zipfile.ZipFile, name: str, where: str):
        self.info = archive.getinfo(f"{name}.npy")
        self.archive = archive
        self.name = name
        try:
            handle = archive.open(self.info)
        except CORRUPT as exc:
            raise PointFileError(f"cannot read {where}: {exc} (the file is corrupt)") from None
        try:
            version = np.lib.format.read_magic(handle)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unknown .npy version {version}")
            self.shape, self.fortran, self.dtype = reader(handle)
            header_bytes = self.header_bytes = handle.tell()
        except (ValueError, *CORRUPT) as exc:
            handle.close()
            raise PointFileError(f"array {name} in {where} is not a readable .npy: "
                                 f"{exc}") from None
        handle.close()
        if self.dtype.hasobject or self.dtype.kind not in "biufUS":
            raise PointFileError(f"array {name} in {where} is not numeric ({self.dtype})",
                                 hint="save plain numeric arrays (never Python objects)")
        if len(self.shape) == 0:
            raise PointFileError(f"array {name} in {where} is 0-d: it holds no points",
                                 hint="put the points on the first axis, e.g. shape (n,)")
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        if self.info.file_size != header_bytes + self.shape[0] * self.row_bytes:
            raise PointFileError(f"array {name} in {where} is truncated: its header promises "
                                 f"{self.shape[0]} rows",
                                 hint="write the file again (numpy.savez)")

    @property
    def numeric(self) -> bool:
        """Numbers (int, float); booleans and text are read, but every row is bad."""
        return self.dtype.kind in "iuf"

    def verify(self, where: str) -> None:
        """Read the member through once, so its CRC is checked before any row is used: a
        corrupt archive is exit 2 before anything is computed, not wrong numbers first."""
        try:
            with self.archive.open(self.info) as handle:
                while handle.read(1 << 22):
                    pass
        except CORRUPT as exc:
            raise PointFileError(f"cannot read {where}: {exc} (the file is corrupt)",
                                 hint="write the file again (numpy.savez)") from None

    def rows(self, chunk_size: int) -> Iterator[np.ndarray]:
        with self.archive.open(self.info) as handle:
            handle.read(self.header_bytes)
            if self.fortran and len(self.shape) > 1:
                whole = np.frombuffer(handle.read(), dtype=self.dtype).reshape(
                    self.shape, order="F")
                for start in range(0, self.shape[0], chunk_size):
                    yield whole[start:start + chunk_size]
                return
            for start in range(0, self.shape[0], chunk_size):
                count = min(chunk_size, self.shape[0] - start)
                raw = handle.read(count * self.row_bytes)
                if len(raw) != count * self.row_bytes:
                    raise PointFileError(f"array {self.name} ends early: it is truncated")
                yield np.frombuffer(raw, dtype=self.dtype).reshape(count, *self.shape[1:])


def _problem(name: str, row: np.ndarray) -> str:
    """Why a row of a boolean or text array is not a number (`pointfiles.kinds`)."""
    if row.ndim == 0:
        return problem_of(name, row.item()) or f"{name} is not a number"
    kind = "booleans" if row.dtype.kind == "b" else "text"
    return f"{name} holds {kind}, not numbers"


class NpzReader:
    def __init__(self, source: Source, variables: Sequence[str], chunk_size: int,
                 unit: Unit | None = None, *, verify: bool = True):
        from gradcli.pointfiles.read_columnar import _spooled

        self.source = source
        self.chunk_size = chunk_size
        self.stream: Any = source.open() if source.seekable else _spooled(source)
        where = source.name
        try:
            head = self.stream.read(6)
            self.stream.seek(0)
            try:
                self.archive = zipfile.ZipFile(self.stream)
            except (*CORRUPT, ValueError):
                hint = "it is a single .npy array; save the points with numpy.savez" \
                    if head == b"\x93NUMPY" else "save the points with numpy.savez"
                raise PointFileError(f"{where} is not an NPZ file (not a zip archive)",
                                     hint=hint) from None
            members = {n[:-4] for n in self.archive.namelist() if n.endswith(".npy")}
            self.provided = [v for v in variables if v in members]
            if not self.provided:
                raise PointFileError(
                    f"{where} has no array named after a variable of the expression",
                    hint=f"save one array per variable ({', '.join(variables)}), "
                         "points on the first axis")
            self.members = [_Member(self.archive, v, where) for v in self.provided]
            for member in self.members if verify else ():
                member.verify(where)
        except BaseException:
            self.stream.close()
            raise
        counts = {m.name: m.shape[0] for m in self.members}
        if len(set(counts.values())) != 1:
            self.close()
            raise PointFileError(f"the arrays in {where} hold different numbers of points: "
                                 f"{counts}")
        self.total = next(iter(counts.values()))
        self.shapes = {m.name: tuple(m.shape[1:]) for m in self.members}

    def close(self) -> None:
        self.stream.close()

    def chunks(self) -> Iterator[Chunk]:
        streams = [m.rows(self.chunk_size) for m in self.members]
        start = 0
        try:
            for parts in zip(*streams, strict=True):
                count = len(parts[0])
                lines = np.arange(start + 1, start + count + 1, dtype=np.int64)
                start += count
                if all(m.numeric for m in self.members):
                    values = {m.name: np.asarray(p, dtype=np.float64)
                              for m, p in zip(self.members, parts, strict=True)}
                    yield Chunk(lines, np.ones(count, dtype=bool), values, {})
                    continue
                member, part = next((m, p) for m, p in zip(self.members, parts, strict=True)
                                    if not m.numeric)
                errors = {k: f"line {int(lines[k])}: {_problem(member.name, part[k])}"
                          for k in range(count)}
                empty = {m.name: np.zeros((0, *m.shape[1:])) for m in self.members}
                yield Chunk(lines, np.zeros(count, dtype=bool), empty, errors)
        except CORRUPT as exc:
            raise PointFileError(f"cannot read {self.source.name}: {exc}") from None
