"""Picking the point reader for a source's format.

Its own module, above `points` and the `read_*` modules, so that imports
between them point one way (the readers import `points`, this imports both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gradcli.pointfiles.points import PointReader

if TYPE_CHECKING:
    from gradcli.pointfiles.sources import Source
    from gradcli.pointfiles.units import Unit


def open_reader(source: Source, variables: Sequence[str], chunk_size: int,
                unit: Unit | None = None, *, verify: bool = True) -> PointReader:
    """A reader of `source` (or of one unit of it), its header or schema already checked.

    `verify`: check an archive's checksums before the first row (NPZ), so that no wrong
    number is ever streamed; an output that is only renamed into place when complete
    can skip it, since a bad checksum at the end throws the whole output away anyway."""
    if source.format == "csv":
        from gradcli.pointfiles.read_text import CsvReader
        return CsvReader(source, variables, chunk_size, unit)
    if source.format == "jsonl":
        from gradcli.pointfiles.read_text import JsonlReader
        return JsonlReader(source, variables, chunk_size, unit)
    if source.format in ("parquet", "arrow"):
        from gradcli.pointfiles.read_columnar import ColumnarReader
        return ColumnarReader(source, variables, chunk_size, unit)
    from gradcli.pointfiles.read_npz import NpzReader
    return NpzReader(source, variables, chunk_size, unit, verify=verify)
