"""Reading data files in bounded memory: JSONL, a JSON array, CSV or Parquet; plain or gzip
(Parquet compresses inside); a file or a data-set directory.

Every layout comes out as batches of JSON lines (LineBatch), one a record, numbered as the file
numbers its records, so everything downstream (validation, detection, training) reads one shape:
- JSONL: its lines, by line number.
- CSV (by its .csv or .csv.gz name): a header row naming the fields, then one record a row,
  numbered by the line the row starts on; an empty cell is a field left out.
- A JSON array (a file whose first character is "["): its elements, numbered from 1. It is
  parsed whole, so only up to MAX_JSON_ARRAY_BYTES; a larger one is refused with the way to JSONL.
- Parquet (by its magic bytes): its rows, numbered from 1, read PARQUET_BATCH_ROWS at a time; a
  null is a field left out (a column of a Parquet file cannot leave a field out otherwise).

Lines come in batches cut from 256 KiB chunks, so one C-level split and one ASCII check
cover a thousand records; a line longer than a chunk is put together from its pieces, up to
MAX_LINE_BYTES. A gzip stream may expand to MAX_EXPANSION times its compressed size (at least
MIN_DECOMPRESSED_LIMIT bytes): past either limit reading stops with ReadLimitExceeded, so a file
without newlines or a decompression bomb costs a bounded amount of memory and time.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import stat
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from .issues import DECOMPRESSED_TOO_LARGE, INVALID_JSON, INVALID_UTF8, LINE_TOO_LONG, NOT_JSONL, UNREADABLE_FILE

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
CHUNK_SIZE = 1 << 18  # measured: larger chunks fall out of the CPU caches
SPLITS = ("train", "valid", "test")
MAX_LINE_BYTES = 64 * 2**20  # far above any record a model of 8192 tokens trains on (8192 tokens are ~40 KB)
MAX_EXPANSION = 200  # text compresses 3-10x; only a crafted stream expands 200x
MIN_DECOMPRESSED_LIMIT = 256 * 2**20  # small files may expand more than MAX_EXPANSION, up to this
MAX_JSON_ARRAY_BYTES = 256 * 2**20  # a JSON array is parsed whole: about twice this in memory, briefly
PARQUET_BATCH_ROWS = 1024  # rows converted at a time (memory: one row group as Arrow holds it, plus these)
RECORDS_PER_BATCH = 1024  # CSV rows and JSON array elements per LineBatch
PARQUET_MAGIC = b"PAR1"
_HEAD_BYTES = 4096
# An array of objects, an empty array, or "[" alone on its line: a JSON file, however long its first
# line. ([1, 2] is a JSON Lines record, of the wrong type; it is reported as such.)
_JSON_ARRAY_START = re.compile(rb"\s*\[\s*(\{|\]|$)")


class Layout(str, Enum):
    """How a file lays out its records; the value is how messages name it."""

    JSONL = "JSON Lines"
    JSON_ARRAY = "JSON array"
    CSV = "CSV"
    PARQUET = "Parquet"


class ReadStopped(ValueError):
    """Reading stopped; `code` is the issue code validation reports, `line` where it stopped (0: the file)."""

    def __init__(self, code: str, line: int, message: str):
        super().__init__(message)
        self.code, self.line = code, line


class ReadLimitExceeded(ReadStopped):
    """Reading stopped at a limit (line length, gzip expansion, JSON array size)."""


class NotARegularFile(OSError):
    """Only regular files are read: a FIFO or a device could block or never end."""


@dataclass(frozen=True)
class LineBatch:
    first_line: int  # 1-based number of lines[0]
    lines: list[bytes]  # without their b"\n"; a b"\r" of CRLF stays (JSON whitespace)
    utf8: bool  # every line is valid UTF-8


LineBatches = Generator[LineBatch, None, None]


def open_stream(source: Path | bytes) -> BinaryIO:
    """A binary stream of the decompressed content; gzip is recognised by its magic bytes."""
    if isinstance(source, bytes):
        content = io.BytesIO(source)
        return _bounded(gzip.GzipFile(fileobj=content), len(source)) if source[:2] == GZIP_MAGIC else content
    raw = _open_regular(source)
    magic = raw.read(2)
    raw.seek(0)
    if magic != GZIP_MAGIC:
        return raw
    # The GzipFile does not own raw, so the bounded stream closes both.
    return _bounded(gzip.GzipFile(fileobj=raw), os.fstat(raw.fileno()).st_size, raw)


def _open_regular(path: Path) -> BinaryIO:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; the check below then refuses it.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(f"{path} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _bounded(stream: gzip.GzipFile, compressed_bytes: int, owned: BinaryIO | None = None) -> BinaryIO:
    return _BoundedDecompression(stream, max(MIN_DECOMPRESSED_LIMIT, MAX_EXPANSION * compressed_bytes), owned)


class _BoundedDecompression(io.BufferedIOBase):
    """A gzip stream that stops with ReadLimitExceeded once it has produced more than `limit` bytes."""

    def __init__(self, stream: gzip.GzipFile, limit: int, owned: BinaryIO | None):
        super().__init__()
        self._stream, self._limit, self._owned = stream, limit, owned
        self.fileobj = stream.fileobj  # progress is reported in compressed bytes

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._limit + 1 - self._stream.tell()  # never more than one past the limit at once
        data = self._stream.read(size)
        if self._stream.tell() > self._limit:
            raise ReadLimitExceeded(
                DECOMPRESSED_TOO_LARGE,
                0,
                (
                    f"the gzip stream expands past {self._limit:,} bytes (at most {MAX_EXPANSION}x its compressed "
                    f"size, or {MIN_DECOMPRESSED_LIMIT // 2**20} MiB); reading stopped"
                ),
            )
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def close(self) -> None:
        self._stream.close()
        if self._owned is not None:
            self._owned.close()
        super().close()


def _too_long(line: int, limit: int) -> ReadLimitExceeded:
    return ReadLimitExceeded(
        LINE_TOO_LONG,
        line,
        (f"line {line} is longer than {limit:,} bytes, the longest line read; reading stopped there"),
    )


def line_batches(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[LineBatch]:
    max_line_bytes = MAX_LINE_BYTES
    pieces: list[bytes] = []  # the unfinished last line, in pieces
    pieces_bytes = 0
    pieces_ascii = True
    next_line = 1
    first = True
    while chunk := stream.read(chunk_size):
        if first:
            chunk = chunk.removeprefix(BOM)
            first = False
        ascii_chunk = chunk.isascii()
        lines = chunk.split(b"\n")  # split the chunk itself: slicing it first would copy it twice
        if len(lines) == 1:
            pieces.append(chunk)
            pieces_bytes += len(chunk)
            pieces_ascii = pieces_ascii and ascii_chunk
            if pieces_bytes > max_line_bytes:
                raise _too_long(next_line, max_line_bytes)
            continue
        if pieces:
            pieces.append(lines[0])
            lines[0] = b"".join(pieces)
        ascii_lines = ascii_chunk and pieces_ascii
        pieces, pieces_ascii = [lines.pop()], ascii_chunk
        pieces_bytes = len(pieces[0])
        _check_lengths(lines, next_line, max_line_bytes)
        yield LineBatch(next_line, lines, ascii_lines or _is_utf8(b"\n".join(lines)))
        next_line += len(lines)
    tail = b"".join(pieces)
    if tail:
        _check_lengths([tail], next_line, max_line_bytes)
        yield LineBatch(next_line, [tail], tail.isascii() or _is_utf8(tail))


def _check_lengths(lines: list[bytes], first_line: int, limit: int) -> None:
    if max(map(len, lines)) > limit:  # one C pass; the loop below runs only to name the line
        raise _too_long(next(n for n, line in enumerate(lines, first_line) if len(line) > limit), limit)


def layout_of(name: str, stream: BinaryIO) -> Layout:
    """The layout of a file: Parquet and JSON arrays by their first bytes, CSV by its name, else JSONL."""
    head = stream.read(_HEAD_BYTES)
    stream.seek(0)
    if head.startswith(PARQUET_MAGIC):
        return Layout.PARQUET
    if name.lower().removesuffix(".gz").endswith(".csv"):
        return Layout.CSV
    if _JSON_ARRAY_START.match(head.removeprefix(BOM)):
        return Layout.JSON_ARRAY
    return Layout.JSONL


def record_batches(stream: BinaryIO, layout: Layout) -> LineBatches:
    """The file's records as batches of JSON lines (see the module's docstring)."""
    if layout is Layout.CSV:
        return _csv_batches(stream)
    if layout is Layout.JSON_ARRAY:
        return _json_array_batches(stream)
    if layout is Layout.PARQUET:
        return _parquet_batches(stream)
    return line_batches(stream)


_encode = msgspec.json.Encoder().encode


def _csv_batches(stream: BinaryIO) -> Iterator[LineBatch]:
    # The csv module's own limit on a cell (128 KiB) is below the longest record read.
    csv.field_size_limit(MAX_LINE_BYTES)
    rows = csv.reader(_text_lines(stream))
    line = 0  # the last line the csv reader has taken
    try:
        header = next(rows, None)
        if header is None:
            return
        line = rows.line_num
        # The batch's JSON lines and the number of the first; the header's lines are blank lines, as
        # consumers count lines from 1.
        first, lines = 1, []
        for row in rows:
            start, line = line + 1, rows.line_num
            if not row:
                continue  # a blank line: it becomes a blank JSON line below
            if len(row) > len(header):
                raise ReadStopped(
                    UNREADABLE_FILE,
                    start,
                    (
                        f"line {start} has {len(row)} cells but the header names {len(header)} columns: "
                        "quote cells that hold commas; reading stopped there"
                    ),
                )
            # Blank lines and the further lines of a multi-line row stay blank lines, so each row keeps its number.
            lines += [b""] * (start - first - len(lines))
            lines.append(_encode({name: cell for name, cell in zip(header, row) if cell}))
            if len(lines) >= RECORDS_PER_BATCH:
                _check_lengths(lines, first, MAX_LINE_BYTES)
                yield LineBatch(first, lines, True)
                first, lines = first + len(lines), []
        if lines:
            _check_lengths(lines, first, MAX_LINE_BYTES)
            yield LineBatch(first, lines, True)
    except csv.Error as exc:
        raise ReadStopped(UNREADABLE_FILE, line + 1, f"line {line + 1} is not readable CSV: {exc}") from None


def _text_lines(stream: BinaryIO) -> Iterator[str]:
    """The file's lines as text for the csv module, each decoded alone so a bad byte is placed exactly."""
    for batch in line_batches(stream):
        for number, line in enumerate(batch.lines, batch.first_line):
            try:
                yield line.decode("utf-8") + "\n"
            except UnicodeDecodeError as exc:
                raise ReadStopped(
                    INVALID_UTF8,
                    number,
                    f"byte 0x{line[exc.start]:02x} at byte {exc.start + 1} of line {number} is not UTF-8: "
                    "save the file as UTF-8",
                ) from None


def _json_array_batches(stream: BinaryIO) -> Iterator[LineBatch]:
    content = stream.read(MAX_JSON_ARRAY_BYTES + 1)
    if len(content) > MAX_JSON_ARRAY_BYTES:
        raise ReadLimitExceeded(
            NOT_JSONL,
            0,
            (
                f"the file is a JSON array of more than {MAX_JSON_ARRAY_BYTES // 2**20} MiB, the most read whole: "
                "write it as JSON Lines, one object a line (e.g. jq -c '.[]' data.json > data.jsonl)"
            ),
        )
    content = content.removeprefix(BOM)
    try:
        # Raw: each element's own bytes, not decoded, so an element is a record's JSON line as in JSONL.
        elements = msgspec.json.decode(content, type=list[msgspec.Raw])
    except msgspec.DecodeError as exc:
        raise ReadStopped(INVALID_JSON, 0, f"the JSON array is not valid JSON: {_placed(exc, content)}") from None
    for start in range(0, len(elements), RECORDS_PER_BATCH):
        lines = [bytes(element) for element in elements[start : start + RECORDS_PER_BATCH]]
        joined = b"\n".join(lines)
        yield LineBatch(start + 1, lines, joined.isascii() or _is_utf8(joined))


def _placed(error: msgspec.DecodeError, content: bytes) -> str:
    """msgspec's message, with the text line of the byte it names."""
    found = re.search(r"\(byte (\d+)\)", str(error))
    if found is None:
        return str(error)
    text_line = content.count(b"\n", 0, int(found.group(1))) + 1
    return f"{error} (on text line {text_line})"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _parquet_batches(stream: BinaryIO) -> Iterator[LineBatch]:
    import pyarrow  # a second of start-up, paid only by those who read Parquet
    import pyarrow.parquet

    row = 1
    try:
        for batch in pyarrow.parquet.ParquetFile(stream).iter_batches(batch_size=PARQUET_BATCH_ROWS):
            lines = [_encode(_without_nulls(record)) for record in batch.to_pylist()]
            _check_lengths(lines, row, MAX_LINE_BYTES)
            yield LineBatch(row, lines, True)
            row += len(lines)
    except (pyarrow.ArrowException, msgspec.EncodeError) as exc:
        raise ReadStopped(UNREADABLE_FILE, row, f"the Parquet file cannot be read from row {row} on: {exc}") from None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# A split's file names, the first found taken.
SPLIT_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".csv", ".csv.gz", ".parquet")


def split_files(directory: Path) -> dict[str, Path]:
    """The data-set files of a directory by split: train.jsonl (or .jsonl.gz, .json, .json.gz, .csv,
    .csv.gz, .parquet), valid..., test...."""
    found = {}
    for split in SPLITS:
        for name in (split + suffix for suffix in SPLIT_SUFFIXES):
            if (directory / name).is_file():
                found[split] = directory / name
                break
    return found


class RecordError(ValueError):
    def __init__(self, path: Path | str, line: int, reason: str):
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


def iter_records(path: Path | str, record_type: type = dict) -> Iterator[tuple[int, Any]]:
    """(line number, record) of every record, as training reads them, decoded as record_type
    (a format's Struct, or a plain dict).

    Takes what validation takes (every layout, gzip, a BOM, CRLF, blank lines); raises RecordError
    naming the line when one does not decode as record_type, which validation would have reported.
    """
    decode = msgspec.json.Decoder(record_type).decode
    with open_stream(Path(path)) as stream:
        for batch in record_batches(stream, layout_of(str(path), stream)):
            for number, line in enumerate(batch.lines, batch.first_line):
                if line.strip():
                    try:
                        yield number, decode(line)
                    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
                        raise RecordError(path, number, str(exc)) from None
