"""CSV and JSON-lines point files, read in record-aligned byte blocks.

Both are split into records here, with numpy over the raw bytes: a record ends
at a newline that is outside quotes (an even number of `"` before it), so a
quoted cell may hold newlines, and each record knows the file line it starts
on. Blank lines are skipped, not records. A block's records are then parsed
together: CSV by Arrow's reader, every variable column as text and cast to
numbers per chunk, so that a bad cell makes a bad row (with its true line
number) instead of ending the stream; JSON lines by Arrow's JSON reader with
float64 types, where only JSON numbers are numbers. A block that either fast
path refuses is read again record by record (the csv and json modules), which
finds and names its bad lines. A record that is not UTF-8, or has too few or too
many CSV cells, is a bad row too.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from gradcli.pointfiles.kinds import JsonObject, parse_json, shown, value_of
from gradcli.pointfiles.points import (
    Chunk,
    Layout,
    PointFileError,
    RowProblems,
    arrays_from_json_cells,
    finish_chunk,
    numbers_from_text,
    stack_rows,
)

if TYPE_CHECKING:
    from gradcli.pointfiles.sources import Source
    from gradcli.pointfiles.units import Unit

_LONE_CR = re.compile(rb"\r(?!\n)")
BLOCK_BYTES = 8 << 20
"""Bytes read and split at a time: a few chunks' worth of a typical CSV."""
_BOM = b"\xef\xbb\xbf"


class Records:
    """The records of one block: the line each starts on and, when asked, their byte spans
    (without the line ending)."""

    __slots__ = ("_spans", "buf", "lines", "open_quote", "quotes", "used")

    def __init__(self, buf: bytes, lines: np.ndarray, quotes: bool,
                 spans: tuple[np.ndarray, np.ndarray] | None = None, used: int = 0):
        self.buf = buf
        self.used = used
        self.lines = lines
        self.quotes = quotes
        self._spans = spans
        #: the last record reaches the end of the input inside a quoted cell
        self.open_quote = False

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def plain(self) -> bool:
        """One record a line, no quotes, no blank lines: every parser agrees on it."""
        return self._spans is None

    def spans(self) -> tuple[np.ndarray, np.ndarray]:
        if self._spans is None:
            self._spans = _spans(self.buf, self.used, self.quotes)[:2]
        return self._spans

    @property
    def starts(self) -> np.ndarray:
        return self.spans()[0]

    @property
    def stops(self) -> np.ndarray:
        return self.spans()[1]


def _spans(buf: bytes, used: int, quotes: bool
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Non-blank records' starts and stops in buf[:used], their start lines (0-based),
    and the positions of every newline."""
    a = np.frombuffer(buf, dtype=np.uint8, count=used)
    newlines = np.flatnonzero(a == 10)
    ends = newlines
    if quotes:
        quote_at = np.flatnonzero(a == 34)
        if len(quote_at):
            ends = newlines[np.searchsorted(quote_at, newlines) % 2 == 0]
    stops = ends.astype(np.int64)
    if len(stops) == 0 or stops[-1] + 1 < used:
        stops = np.append(stops, used)  # the last record has no newline
    starts = np.concatenate(([0], stops[:-1] + 1)).astype(np.int64)
    # CRLF: the record stops before its carriage return
    carriage = (stops > starts) & (a[np.maximum(np.minimum(stops, used) - 1, 0)] == 13)
    stops = stops - carriage
    lines = np.searchsorted(newlines, starts)
    kept = stops > starts  # blank lines are not records
    return starts[kept], stops[kept], lines[kept], newlines


def split_records(buf: bytes, final: bool, quotes: bool, first_line: int
                  ) -> tuple[Records, int, int]:
    """Records in `buf`, the bytes they use up, and how many newlines those bytes hold.

    Without `final`, bytes after the last record boundary are left for the next block.
    The common block (no quote, no blank line) is split without looking at each byte
    in Python or numpy: a record per newline."""
    if not (quotes and b'"' in buf) and b"\n\n" not in buf and b"\n\r\n" not in buf \
            and not buf.startswith((b"\n", b"\r\n")):
        used = buf.rfind(b"\n") + 1
        newlines = buf.count(b"\n", 0, used)
        count = newlines
        if final and used < len(buf):
            if buf[used:].strip(b"\r"):
                count += 1
            used = len(buf)
        lines = np.arange(first_line, first_line + count, dtype=np.int64)
        return Records(buf, lines, quotes, used=used), used, newlines
    if quotes and not final:  # the last boundary outside quotes
        a = np.frombuffer(buf, dtype=np.uint8)
        newlines_at = np.flatnonzero(a == 10)
        quote_at = np.flatnonzero(a == 34)
        outside = newlines_at[np.searchsorted(quote_at, newlines_at) % 2 == 0]
        used = int(outside[-1]) + 1 if len(outside) else 0
    elif not final:
        used = buf.rfind(b"\n") + 1
    else:
        used = len(buf)
    if used == 0:
        return Records(buf, np.zeros(0, dtype=np.int64), quotes, (np.zeros(0, np.int64),) * 2), \
            0, 0
    starts, stops, lines, newlines_at = _spans(buf, used, quotes)
    records = Records(buf, first_line + lines, quotes, (starts, stops))
    records.open_quote = final and quotes and buf.count(b'"', 0, used) % 2 == 1
    return records, used, len(newlines_at)


def record_blocks(stream: Any, first_line: int, quotes: bool, limit: int | None = None,
                  name: str = "the input") -> Iterator[tuple[bytes, Records]]:
    """Record-aligned blocks of a stream, up to `limit` bytes if given.

    Only line ends are ever skipped (blank lines), so bytes that give no record at all
    are a reader's fault: an error here, never a silent run over zero rows."""
    carry = b""
    line = first_line
    left = limit
    size = BLOCK_BYTES
    found = data_seen = False
    while True:
        want = size if left is None else min(size, left)
        data = stream.read(want) if want > 0 else b""
        if left is not None:
            left -= len(data)
        final = not data
        buf = carry + data if carry else data
        data_seen = data_seen or bool(data.strip(b"\r\n"))
        if final and data_seen and not found and not buf.strip(b"\r\n"):
            raise PointFileError(f"{name} holds data, but no record could be read from it")
        if not buf:
            return
        records, used, newlines = split_records(buf, final, quotes, line)
        if used == 0 and not final:  # one record longer than a block: read more
            carry = buf
            size *= 2
            continue
        carry = buf[used:]
        line += newlines
        if len(records):
            found = True
            yield buf[:used] if used < len(buf) else buf, records
        if final:
            if data_seen and not found:
                raise PointFileError(f"{name} holds data, but no record could be read "
                                     "from it")
            return


def _read_header(stream: IO[bytes], name: str) -> tuple[list[str], int, bytes]:
    """The CSV header's cells, the lines it spans, and the bytes read past it."""
    buf = b""
    while True:
        data = stream.read(1 << 16)
        buf += data
        if buf.startswith(_BOM):
            buf = buf[len(_BOM):]
        records, _used, _newlines = split_records(buf, not data, True, 1)
        if len(records) or not data:
            break
    if not len(records):
        raise PointFileError(f"the point file {name} is empty",
                             hint="it needs a header line and one row per point")
    if records.open_quote and len(records) == 1:
        raise PointFileError(f"the header of {name} opens a quote that is never closed",
                             hint="close the quote, or write the names without quotes")
    first = records.starts[0], records.stops[0]
    try:
        text = buf[first[0]:first[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise PointFileError(f"the header of {name} is not UTF-8 text") from None
    header = next(csv.reader(io.StringIO(text, newline="")))
    end = int(first[1])
    rest = buf[end:]
    if rest.startswith(b"\r"):
        rest = rest[1:]
    if rest.startswith(b"\n"):
        rest = rest[1:]
    header_lines = int(records.lines[0]) + buf[first[0]:end].count(b"\n")
    return header, header_lines, rest


class _Prefixed:
    """A stream with some bytes already read put back in front of it."""

    def __init__(self, head: bytes, stream: IO[bytes]):
        self.head = head
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0 or size >= len(self.head):
                head, self.head = self.head, b""
                return head + (self.stream.read(size - len(head)) if size > len(head)
                               else self.stream.read() if size < 0 else b"")
            head, self.head = self.head[:size], self.head[size:]
            return head
        return self.stream.read(size)

    def close(self) -> None:
        self.stream.close()


class _TextReader:
    """What CSV and JSONL reading share: opening the source or its unit."""

    def __init__(self, source: Source, chunk_size: int, unit: Unit | None):
        self.source = source
        self.chunk_size = chunk_size
        self.unit = unit
        self.stream: Any = LineEnds(source.open())
        self.shapes: dict[str, tuple[int, ...]] = {}

    def close(self) -> None:
        self.stream.close()


class LineEnds:
    """A byte stream in which a lone carriage return (old Mac line ends, Excel's "CSV
    (Macintosh)") reads as a newline: CR, LF and CRLF all end a line, mixed or not. One
    byte for one byte, so offsets (units, `tell`, `seek`) keep their meaning; a stream
    without a lone CR costs two counts a block."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        #: a byte read ahead to see whether a block's last CR is half of a CRLF
        self.held = b""

    def read(self, size: int = -1) -> bytes:
        if self.held:
            data, self.held = self.held + (self.stream.read(size - 1) if size > 1 else
                                           self.stream.read() if size < 0 else b""), b""
        else:
            data = self.stream.read(size)
        if b"\r" not in data:
            return data
        tail = b""
        if data.endswith(b"\r"):  # the next byte says whether it ends a line alone
            self.held = self.stream.read(1)
            data, tail = data[:-1], b"\r" if self.held == b"\n" else b"\n"
        if data.count(b"\r") != data.count(b"\r\n"):
            data = _LONE_CR.sub(b"\n", data)
        return data + tail

    def tell(self) -> int:
        return int(self.stream.tell()) - len(self.held)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.held = b""
        return int(self.stream.seek(offset, whence))

    def close(self) -> None:
        self.stream.close()


class CsvReader(_TextReader):
    def __init__(self, source: Source, variables: Sequence[str], chunk_size: int,
                 unit: Unit | None = None):
        super().__init__(source, chunk_size, unit)
        try:
            header, header_lines, rest = _read_header(self.stream, source.name)
            self.layout = Layout(header, variables, f"the header of {source.name}")
            self.layout.require_some(f"the header of {source.name}", variables)
        except BaseException:
            self.close()
            raise
        self.width = len(header)
        self.provided = self.layout.provided
        self.shapes = dict(self.layout.shapes)
        if unit is not None and unit.start > 0:
            self.stream.seek(unit.start)
            self.body: Any = self.stream
            self.first_line = unit.first_line
            self.limit = None if unit.stop is None else unit.stop - unit.start
        else:
            self.body = _Prefixed(rest, self.stream)
            self.first_line = header_lines + 1
            self.limit = None if unit is None or unit.stop is None else \
                unit.stop - self.stream.tell() + len(rest)

    def chunks(self) -> Iterator[Chunk]:
        for buf, records in record_blocks(self.body, self.first_line, True, self.limit,
                                          self.source.name):
            numbers = self._parse_numbers(buf, records)
            if numbers is not None:
                for start in range(0, len(records), self.chunk_size):
                    stop = min(start + self.chunk_size, len(records))
                    yield self._numbers_chunk(records.lines[start:stop],
                                              {c: v[start:stop] for c, v in numbers.items()})
                continue
            texts, bad = self._parse(buf, records)
            if records.open_quote:
                last = len(records) - 1
                first_line = int(records.lines[last])
                end_line = first_line + buf[int(records.starts[last]):int(
                    records.stops[last])].rstrip(b"\r\n").count(b"\n")
                bad[last] = (f"line {first_line}: a quote opened in this record is never "
                             f"closed, so the record runs to the end of the input (line "
                             f"{end_line}); close the quote, or double a quote inside a "
                             "quoted cell (\"\")")
            for start in range(0, len(records), self.chunk_size):
                stop = min(start + self.chunk_size, len(records))
                yield self._chunk(records.lines[start:stop],
                                  {c: t.slice(start, stop - start) for c, t in texts.items()},
                                  {k - start: m for k, m in bad.items() if start <= k < stop})

    def _parse_numbers(self, buf: bytes, records: Records) -> dict[int, np.ndarray] | None:
        """The common block, every used cell a plain number: parsed straight to float64 by
        polars' reader (the fastest here). None if anything is unusual (a quote, a blank
        line, a cell that is not a number, a row of the wrong width): then the block is
        read as text, which finds the bad rows."""
        if not records.plain or not buf.isascii() or any(
                n in self.layout.scalar and self.shapes.get(n, ()) != () for n in self.provided):
            return None
        # Every row has exactly `width` cells: no cell is missing (a short row leaves nulls,
        # and every column is read to see them) and the commas add up, so none has extra.
        if buf.count(b",") != len(records) * (self.width - 1):
            return None
        import polars as pl

        names = [f"c{k}" for k in range(self.width)]
        used = self.layout.columns()
        schema = {name: pl.Float64 if k in used else pl.String for k, name in enumerate(names)}
        try:
            frame = pl.read_csv(buf, has_header=False, schema=schema, quote_char=None,
                                raise_if_empty=False, truncate_ragged_lines=False)
        except (pl.exceptions.PolarsError, ValueError):
            return None
        if frame.height != len(records) or any(frame.null_count().row(0)):
            return None
        numbers = {c: frame.get_column(names[c]).to_numpy() for c in used}
        if any(np.isinf(v).any() for v in numbers.values()):
            return None  # `inf` or an overflow (1e309): the text path tells them apart
        return numbers

    def _numbers_chunk(self, lines: np.ndarray, numbers: dict[int, np.ndarray]) -> Chunk:
        values: dict[str, np.ndarray] = {}
        for name in self.provided:
            if name in self.layout.scalar:
                values[name] = numbers[self.layout.scalar[name]]
            else:
                values[name] = np.stack([numbers[c] for _, c in self.layout.elements[name]],
                                        axis=1).reshape((len(lines), *self.layout.shapes[name]))
        return Chunk(lines, np.ones(len(lines), dtype=bool), values, {})

    def _parse(self, buf: bytes, records: Records) -> tuple[dict[int, Any], dict[int, str]]:
        """Every used column as text, one entry per record (null where the record is bad)."""
        import pyarrow as pa

        if not buf.isascii():
            try:
                buf.decode("utf-8")
            except UnicodeDecodeError:
                return self._parse_slowly(buf, records)
        skipped: list[int] = []
        try:
            table = self._arrow_parse(buf, b'"' in buf, skipped)
        except pa.ArrowInvalid:
            return self._parse_slowly(buf, records)
        bad = self._wrong_widths(buf, records) if skipped else {}
        if table.num_rows != len(records) - len(bad):
            return self._parse_slowly(buf, records)
        columns = {c: table.column(f"c{c}").combine_chunks() for c in self.layout.columns()}
        if bad:
            good = np.ones(len(records), dtype=bool)
            good[list(bad)] = False
            index = np.cumsum(good) - 1
            taken = pa.array(index, mask=~good)
            columns = {c: t.take(taken) for c, t in columns.items()}
        return columns, {k: f"line {int(records.lines[k])}: {m}" for k, m in bad.items()}

    def _wrong_widths(self, buf: bytes, records: Records) -> dict[int, str]:
        """Records with too few or too many cells (commas outside quotes, counted by numpy)."""
        a = np.frombuffer(buf, dtype=np.uint8)
        commas = np.flatnonzero(a == 44)
        quote_at = np.flatnonzero(a == 34)
        if len(quote_at) and len(commas):
            commas = commas[np.searchsorted(quote_at, commas) % 2 == 0]
        cells = np.searchsorted(commas, records.stops) - np.searchsorted(commas, records.starts)
        cells += 1
        bad = {}
        for k in np.flatnonzero(cells != self.width).tolist():
            count = int(cells[k])
            problem = "missing" if count < self.width else "extra"
            bad[k] = (f"{abs(self.width - count)} {problem} column(s): the header has "
                      f"{self.width}, this row {count}")
        return bad

    def _arrow_parse(self, buf: bytes, quotes: bool, skipped: list[int]) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        names = [f"c{k}" for k in range(self.width)]
        used = [names[c] for c in self.layout.columns()]
        return pcsv.read_csv(
            pa.py_buffer(buf),
            read_options=pcsv.ReadOptions(column_names=names, block_size=1 << 22),
            parse_options=pcsv.ParseOptions(newlines_in_values=quotes,
                                            invalid_row_handler=lambda row: _skip(row, skipped)),
            convert_options=pcsv.ConvertOptions(
                include_columns=used, column_types=dict.fromkeys(used, pa.string()),
                strings_can_be_null=False, quoted_strings_can_be_null=False))

    def _parse_slowly(self, buf: bytes, records: Records
                      ) -> tuple[dict[int, Any], dict[int, str]]:
        """Record by record with the csv module: a block with bytes that are not UTF-8."""
        import pyarrow as pa

        used = self.layout.columns()
        texts: dict[int, list[str | None]] = {c: [] for c in used}
        bad: dict[int, str] = {}
        for k, (start, stop, line) in enumerate(zip(records.starts.tolist(),
                                                    records.stops.tolist(),
                                                    records.lines.tolist(), strict=True)):
            try:
                text = buf[start:stop].decode("utf-8")
            except UnicodeDecodeError as exc:
                bad[k] = f"line {line}: not valid UTF-8 text (byte {exc.start + 1} of the row)"
                row = None
            else:
                row = next(csv.reader(io.StringIO(text, newline="")), [])
                if len(row) != self.width:
                    problem = "missing" if len(row) < self.width else "extra"
                    bad[k] = (f"line {line}: {abs(self.width - len(row))} {problem} "
                              f"column(s): the header has {self.width}, this row {len(row)}")
                    row = None
            for c in used:
                texts[c].append(None if row is None else row[c])
        return {c: pa.array(t, type=pa.string()) for c, t in texts.items()}, bad

    def _chunk(self, lines: np.ndarray, texts: dict[int, Any], bad: dict[int, str]) -> Chunk:
        import pyarrow.compute as pc

        problems = RowProblems(len(lines), lines)
        for k, message in bad.items():
            problems.messages[k] = message
            problems.bad[k] = True
        values: dict[str, np.ndarray] = {}
        for name in self.provided:
            if name in self.layout.scalar:
                text = texts[self.layout.scalar[name]]
                if len(text) and pc.any(pc.starts_with(pc.utf8_ltrim_whitespace(text),
                                                       "[")).as_py():
                    values[name] = arrays_from_json_cells(text, name, problems, self.shapes)
                else:
                    if self.shapes.get(name, ()) != ():
                        values[name] = arrays_from_json_cells(text, name, problems,
                                                              self.shapes)
                        continue
                    values[name] = numbers_from_text(text, name, problems)
            else:
                entries = self.layout.elements[name]
                parts = [numbers_from_text(texts[c], f"{name}{list(i)}", problems)
                         for i, c in entries]
                values[name] = np.stack(parts, axis=1).reshape(
                    (len(lines), *self.layout.shapes[name]))
        return finish_chunk(lines, problems, values)


def _skip(row: Any, skipped: list[int]) -> str:
    """Arrow's reader met a row of the wrong width: leave it out (it becomes a bad row)."""
    skipped.append(row.actual_columns)
    return "skip"


class JsonlReader(_TextReader):
    """One JSON object a line. Only JSON numbers (and arrays of them) are values."""

    def __init__(self, source: Source, variables: Sequence[str], chunk_size: int,
                 unit: Unit | None = None):
        super().__init__(source, chunk_size, unit)
        start = unit.start if unit is not None else 0
        if start > 0:
            self.stream.seek(start)
        self.limit = None if unit is None or unit.stop is None else unit.stop - start
        self.first_line = unit.first_line if unit is not None and start > 0 else 1
        # which variables the records give: those named in the first lines that are objects
        head = self.stream.read(1 << 16)
        self.body: Any = _Prefixed(head, self.stream)
        named: set[str] = set()
        for text in head.splitlines()[:100]:
            try:
                record = parse_json(text)
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                named.update(record)
        self.provided = [v for v in variables if v in named]
        #: no variable named in the first lines: every one is assumed to come from the
        #: records (each row then says which it lacks); `check_provided` drops constants
        self.assumed = not self.provided
        if self.assumed:
            self.provided = list(variables)

    def chunks(self) -> Iterator[Chunk]:
        for buf, records in record_blocks(self.body, self.first_line, False, self.limit,
                                          self.source.name):
            numbers = self._parse_numbers(buf, records)
            for start in range(0, len(records), self.chunk_size):
                stop = min(start + self.chunk_size, len(records))
                if numbers is not None:
                    yield Chunk(records.lines[start:stop], np.ones(stop - start, dtype=bool),
                                {name: v[start:stop] for name, v in numbers.items()}, {})
                else:
                    yield self._chunk(buf, records, start, stop)

    def _parse_numbers(self, buf: bytes, records: Records) -> dict[str, np.ndarray] | None:
        """The common block, every record an object whose variables are JSON numbers (or
        rectangular arrays of them): parsed at once by Arrow's JSON reader with float64
        types. Arrow refuses a string, a boolean or a nested object where a number is due,
        and a missing value or a null shows as a null; any of these, a record that is not
        one object on its own line, a wrong shape or bytes that are not UTF-8 give None,
        and the block is read record by record, which names each bad line."""
        import pyarrow as pa
        import pyarrow.json as pjson

        if not records.plain or not len(records):
            return None
        if not buf.isascii():
            try:
                buf.decode("utf-8")
            except UnicodeDecodeError:
                return None
        starts, stops = records.spans()
        a = np.frombuffer(buf, dtype=np.uint8)
        if not ((a[starts] == ord("{")).all() and (a[stops - 1] == ord("}")).all()):
            return None  # so each record is one object: Arrow gives one row per record
        shapes = self._block_shapes(buf[int(starts[0]):int(stops[0])])
        if shapes is None:
            return None
        types = {}
        for name in self.provided:
            kind: Any = pa.float64()
            for _ in shapes[name]:
                kind = pa.list_(kind)
            types[name] = kind
        try:
            table = pjson.read_json(pa.py_buffer(buf), parse_options=pjson.ParseOptions(
                explicit_schema=pa.schema(types), unexpected_field_behavior="ignore"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != len(records):
            return None
        values = {}
        for name in self.provided:
            array = _rectangular(table.column(name).combine_chunks(), shapes[name])
            if array is None or np.isinf(array).any():  # an infinity may be an overflow
                return None
            values[name] = array.reshape(len(records), *shapes[name])
        for name in self.provided:
            self.shapes.setdefault(name, shapes[name])
        return values

    def _block_shapes(self, first: bytes) -> dict[str, tuple[int, ...]] | None:
        """Each variable's point shape: known from earlier rows, else from the block's
        first record (one record parsed, not one a row); None if that record cannot say."""
        shapes = {name: self.shapes[name] for name in self.provided if name in self.shapes}
        if len(shapes) == len(self.provided):
            return shapes
        try:
            record = parse_json(first)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        for name in self.provided:
            if name not in shapes:
                value = value_of(name, record.get(name))
                if isinstance(value, str):
                    return None
                shapes[name] = value.shape
        return shapes

    def _chunk(self, buf: bytes, records: Records, start: int, stop: int) -> Chunk:
        """Record by record: each value read by the one rule (`pointfiles.kinds`), then
        each variable's shape settled over the block and the rows of another shape bad."""
        lines = records.lines[start:stop]
        problems = RowProblems(stop - start, lines)
        parsed: dict[str, list[np.ndarray | str]] = {name: [] for name in self.provided}
        spans = zip(records.starts[start:stop].tolist(), records.stops[start:stop].tolist(),
                    strict=True)
        for a, b in spans:
            row = self._row(buf[a:b])
            for name in self.provided:
                parsed[name].append(row if isinstance(row, str) else row[name])
        values = {}
        for name, items in parsed.items():
            values[name] = stack_rows(items, name, problems, self.shapes)
        return finish_chunk(lines, problems, values)

    def _row(self, text: bytes) -> dict[str, np.ndarray | str] | str:
        """One record's variables (each a value or its problem), or the record's problem."""
        try:
            record = parse_json(text)
        except UnicodeDecodeError:
            return "not valid UTF-8 text"
        except ValueError as exc:
            return f"not JSON: {getattr(exc, 'msg', exc)}"
        if not isinstance(record, dict):
            return "not a JSON object"
        row: dict[str, np.ndarray | str] = {}
        problem = None
        for name in self.provided:
            if name not in record:
                problem = problem or f"no value for {name}"
            elif isinstance(record, JsonObject) and name in record.duplicates:
                first, second = record.duplicates[name]
                problem = problem or (f"{name} is given twice in the object ({shown(first)} "
                                      f"and {shown(second)})")
            else:
                value = value_of(name, record[name])
                row[name] = value
                if isinstance(value, str):
                    problem = problem or value
        if problem is not None:  # the row's first problem, and no values from it
            return {name: problem for name in self.provided}
        return row


def _rectangular(column: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """A (nested) list column's numbers, flat, if no entry is null and every list at
    depth d has shape[d] items; None otherwise."""
    import pyarrow.compute as pc

    for size in shape:
        if column.null_count:
            return None
        lengths = pc.list_value_length(column).to_numpy()
        if len(lengths) and not (lengths == size).all():
            return None
        column = column.flatten()
    if column.null_count:
        return None
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
