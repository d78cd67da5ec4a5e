"""Which point-file format a name means: by extension, or as given with an option.

One table, read both ways: the readers pick a format for `--points`, the
writers for `--out` (or `--format` when the records go to stdout).
"""

from __future__ import annotations

import os

from gradcli.errors import PointFileError

#: extension -> format; every format reads and writes
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "parquet": "parquet",
              "pq": "parquet", "arrow": "arrow", "feather": "arrow", "ipc": "arrow",
              "npz": "npz"}
FORMATS = ("csv", "jsonl", "parquet", "arrow", "npz")
#: formats that only a file (or a non-terminal stream) can take
BINARY = ("parquet", "arrow", "npz")

__all__ = ["PointFileError"]


def extension_format(name: str) -> str | None:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    extension = os.path.splitext(base)[1].lower().lstrip(".")
    return EXTENSIONS.get(extension)


def input_format(name: str, given: str | None) -> str:
    """The format of one input: `--points-format` if given, else its extension."""
    if given:
        if given not in FORMATS and given not in EXTENSIONS:
            raise PointFileError(f"--points-format must be one of {', '.join(FORMATS)}, "
                                 f"not '{given}'")
        return EXTENSIONS.get(given, given)
    fmt = extension_format(name)
    if fmt is None:
        raise PointFileError(
            f"cannot tell the format of '{name}' from its extension",
            hint=f"name it .csv, .jsonl, .parquet, .arrow or .npz, or pass --points-format "
                 f"{'|'.join(FORMATS)}")
    return fmt


def output_format(out_path: str | None, requested: str | None) -> str:
    """The format of the records: --out's extension, else --format (CSV if neither says).

    A --format that contradicts the extension is refused, not silently overruled."""
    chosen = {"json": "jsonl", None: None}.get(requested, requested)
    if out_path is not None and out_path != "-":
        fmt = extension_format(out_path)
        if fmt is not None:
            if chosen is not None and chosen != fmt:
                raise PointFileError(
                    f"--format {requested} contradicts --out {out_path}, which names a "
                    f"{fmt} file", hint=f"leave --format out, or name the file "
                    f"{_with_extension(out_path, str(chosen))}")
            return fmt
        if out_path.lower().endswith(".json"):
            raise PointFileError(
                f"--out {out_path}: the records are JSON lines, one object a line, not one "
                "JSON document", hint=f"name it {_with_extension(out_path, 'jsonl')}")
    if chosen in FORMATS:
        return str(chosen)
    if out_path is not None and out_path != "-" and _plain_file(out_path):
        raise PointFileError(
            f"cannot tell the output format of '{out_path}'",
            hint=f"name it .csv, .jsonl, .parquet, .arrow or .npz, or pass --format "
                 f"{'|'.join(FORMATS)}")
    return "csv"


def _with_extension(path: str, fmt: str) -> str:
    return f"{os.path.splitext(path)[0]}.{fmt}"


def _plain_file(path: str) -> bool:
    """A regular file or a new one (a device or FIFO needs no extension: CSV by default)."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True
