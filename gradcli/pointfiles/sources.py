"""Where points come from: files, directories, globs, stdin, FIFOs and URLs.

`resolve` turns what `--points` was given into an ordered list of `Source`s and
checks each one is usable before anything is computed: a missing file, a
directory without point files, a file without read permission or a glob that
matches nothing is a `PointFileError` (exit 2, one line). Local paths are
opened with the operating system; URLs (`s3://`, `gs://`, `https://`,
`file://`, `memory://`) through fsspec, whose remote filesystems are extras.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from gradcli.errors import GradcliError
from gradcli.pointfiles.formats import EXTENSIONS, PointFileError, input_format

#: URL scheme -> the extra that brings its filesystem
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "http": "http",
          "https": "http"}
#: the URL schemes gradcli reads (through fsspec); the others are refused, exit 2
SCHEMES = ("s3", "s3a", "gs", "gcs", "http", "https", "file", "memory")
_GLOB = set("*?[")


@dataclass(frozen=True)
class Source:
    """One input: its name as shown to the user, and how to open it."""

    name: str
    format: str
    #: "file" (a local regular file), "stream" (stdin, a FIFO: read once, no seeking)
    #: or "url" (through fsspec)
    kind: str

    def open(self) -> IO[bytes]:
        """A binary file object; the caller closes it."""
        if self.kind == "stream" and self.name == "-":
            return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
        if self.kind == "url":
            with remote(self.name):
                return _url_filesystem(self.name).open(_url_path(self.name), "rb")
        try:
            return open(self.name, "rb")
        except OSError as exc:
            raise _unusable(self.name, exc) from None

    @property
    def seekable(self) -> bool:
        return self.kind != "stream"

    def size(self) -> int | None:
        if self.kind == "file":
            return os.path.getsize(self.name)
        if self.kind == "url":
            try:
                return int(_url_filesystem(self.name).size(_url_path(self.name)))
            except Exception:
                return None
        return None


def is_url(name: str) -> bool:
    return "://" in name and name.split("://", 1)[0].isidentifier()


def resolve(specs: Sequence[str], given_format: str | None) -> list[Source]:
    """Every input named by `specs`, in order: each spec's own files sorted by name."""
    sources: list[Source] = []
    for spec in specs:
        if spec == "-":
            if not given_format:
                raise PointFileError("--points - (standard input) needs --points-format",
                                     hint="e.g. --points - --points-format csv")
            sources.append(Source("-", input_format("-", given_format), "stream"))
        elif is_url(spec):
            sources += _url_sources(spec, given_format)
        else:
            sources += _local_sources(spec, given_format)
    return sources


def _local_sources(spec: str, given_format: str | None) -> list[Source]:
    if not os.path.lexists(spec) and _GLOB & set(spec):
        matches = sorted(glob.glob(spec))
        if not matches:
            raise PointFileError(f"no point file matches {spec}")
        return [s for m in matches for s in _local(m, given_format, from_listing=True)]
    return _local(spec, given_format)


def _local(path: str, given_format: str | None, from_listing: bool = False) -> list[Source]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise PointFileError(f"no such point file: {path}") from None
    except OSError as exc:
        raise _unusable(path, exc) from None
    if stat.S_ISDIR(info.st_mode):
        if from_listing:
            raise PointFileError(f"{path} is a directory",
                                 hint="name point files, or a directory of them, not both")
        return _directory(path, given_format)
    if not os.access(path, os.R_OK):
        raise PointFileError(f"cannot read {path}: permission denied")
    fmt = input_format(path, given_format)
    if stat.S_ISREG(info.st_mode):
        if info.st_size == 0:
            raise PointFileError(f"the point file {path} is empty",
                                 hint="it needs a header line and one row per point")
        return [Source(path, fmt, "file")]
    return [Source(path, fmt, "stream")]  # a FIFO, /dev/stdin, a process substitution


def _directory(path: str, given_format: str | None) -> list[Source]:
    names = sorted(n for n in os.listdir(path) if not n.startswith((".", "_"))
                   and (given_format or os.path.splitext(n)[1].lower().lstrip(".")
                        in EXTENSIONS))
    files = [os.path.join(path, n) for n in names
             if os.path.isfile(os.path.join(path, n))]
    if not files:
        raise PointFileError(f"{path} is a directory with no point files in it",
                             hint="point files end in .csv, .jsonl, .parquet, .arrow or .npz")
    return [s for f in files for s in _local(f, given_format, from_listing=True)]


def _unusable(path: str, exc: OSError) -> PointFileError:
    if isinstance(exc, PermissionError):
        return PointFileError(f"cannot read {path}: permission denied")
    if isinstance(exc, IsADirectoryError):
        return PointFileError(f"{path} is a directory")
    return PointFileError(f"cannot read {path}: {exc.strerror or exc}")


# -- URLs ------------------------------------------------------------------------------
@contextlib.contextmanager
def remote(url: str) -> Iterator[None]:
    """Around every call into a remote filesystem: whatever it raises (missing credentials,
    a refused connection, a denied request: each library has its own classes) is an
    unusable URL, exit 2, in the library's words."""
    try:
        yield
    except GradcliError:
        raise
    except FileNotFoundError:
        raise PointFileError(f"no such point file: {url}") from None
    except PermissionError:
        raise PointFileError(f"cannot read {url}: permission denied") from None
    except Exception as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        hint = None
        if "credential" in detail.lower():
            hint = ("give credentials as the cloud's own tools read them (for s3://: "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)")
        raise PointFileError(f"cannot read {url}: {detail}", hint=hint) from None


def _url_filesystem(url: str) -> Any:
    scheme = url.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        readable = ", ".join(f"{known}://" for known in SCHEMES)
        raise PointFileError(f"gradcli does not read {scheme}:// URLs",
                             hint=f"copy the file here first, or use one of {readable}")
    try:
        import fsspec

        return fsspec.filesystem(scheme)
    except ImportError:
        extra = EXTRAS.get(scheme)
        install = f"pip install 'gradcli[{extra}]'" if extra else "pip install fsspec"
        raise PointFileError(f"reading {scheme}:// URLs needs an optional extra",
                             hint=f"install it: {install}") from None
    except ValueError:
        raise PointFileError(f"unknown URL scheme '{scheme}://' in {url}") from None


def _url_path(url: str) -> str:
    return url if url.split("://", 1)[0].lower() in ("http", "https") else \
        url.split("://", 1)[1]


def _url_sources(spec: str, given_format: str | None) -> list[Source]:
    with remote(spec):
        return _url_listing(spec, given_format)


def _url_listing(spec: str, given_format: str | None) -> list[Source]:
    fs = _url_filesystem(spec)
    scheme = spec.split("://", 1)[0]
    path = _url_path(spec)
    if scheme.lower() in ("http", "https"):  # no listing over HTTP: one file a URL
        if not fs.exists(path):
            raise PointFileError(f"no such point file: {spec}",
                                 hint="check the URL, and that the server answers")
        return [Source(spec, input_format(spec, given_format), "url")]
    try:
        if _GLOB & set(path) and not fs.exists(path):
            found = sorted(fs.glob(path))
            if not found:
                raise PointFileError(f"no point file matches {spec}")
        elif fs.isdir(path):
            found = sorted(p for p in fs.ls(path, detail=False)
                           if not p.rstrip("/").rsplit("/", 1)[-1].startswith((".", "_"))
                           and (given_format or os.path.splitext(p)[1].lower().lstrip(".")
                                in EXTENSIONS))
            if not found:
                raise PointFileError(f"{spec} is a directory with no point files in it")
        elif fs.exists(path):
            found = [path]
        else:
            raise PointFileError(f"no such point file: {spec}")
    except PermissionError:
        raise PointFileError(f"cannot read {spec}: permission denied") from None
    except OSError as exc:
        raise PointFileError(f"cannot read {spec}: {exc}") from None
    urls = [p if "://" in p else f"{scheme}://{p.lstrip('/') if scheme != 'file' else p}"
            for p in found]
    if scheme == "memory":
        urls = [f"memory://{p}" if "://" not in p else p for p in found]
    return [Source(u, input_format(u, given_format), "url") for u in urls]
