"""Reading JSONL in bounded memory: plain or gzip, a file or a data-set directory.

Lines come in batches cut from 256 KiB chunks, so one C-level split and one ASCII check
cover a thousand records; a line longer than a chunk is put together from its pieces, up to
MAX_LINE_BYTES. A gzip stream may expand to MAX_EXPANSION times its compressed size (at least
MIN_DECOMPRESSED_LIMIT bytes): past either limit reading stops with ReadLimitExceeded, so a file
without newlines or a decompression bomb costs a bounded amount of memory and time.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from .issues import DECOMPRESSED_TOO_LARGE, LINE_TOO_LONG

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
CHUNK_SIZE = 1 << 18  # measured: larger chunks fall out of the CPU caches
SPLITS = ("train", "valid", "test")
MAX_LINE_BYTES = 64 * 2**20  # far above any record a model of 8192 tokens trains on (8192 tokens are ~40 KB)
MAX_EXPANSION = 200  # text compresses 3-10x; only a crafted stream expands 200x
MIN_DECOMPRESSED_LIMIT = 256 * 2**20  # small files may expand more than MAX_EXPANSION, up to this


class ReadLimitExceeded(ValueError):
    """Reading stopped at a limit; `code` is the issue code validation reports, `line` where it stopped."""

    def __init__(self, code: str, line: int, message: str):
        super().__init__(message)
        self.code, self.line = code, line


class NotARegularFile(OSError):
    """Only regular files are read: a FIFO or a device could block or never end."""


@dataclass(frozen=True)
class LineBatch:
    first_line: int  # 1-based number of lines[0]
    lines: list[bytes]  # without their b"\n"; a b"\r" of CRLF stays (JSON whitespace)
    utf8: bool  # every line is valid UTF-8


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


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def split_files(directory: Path) -> dict[str, Path]:
    """The data-set files of a directory by split: train.jsonl (or .jsonl.gz), valid..., test...."""
    found = {}
    for split in SPLITS:
        for name in (f"{split}.jsonl", f"{split}.jsonl.gz"):
            if (directory / name).is_file():
                found[split] = directory / name
                break
    return found


class RecordError(ValueError):
    def __init__(self, path: Path | str, line: int, reason: str):
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


def iter_records(path: Path | str, record_type: type = dict) -> Iterator[tuple[int, Any]]:
    """(line number, record) of every non-blank line, as training reads them, decoded as record_type
    (a format's Struct, or a plain dict).

    Takes what validation takes (gzip, a BOM, CRLF, blank lines); raises RecordError naming
    the line when one does not decode as record_type, which validation would have reported.
    """
    decode = msgspec.json.Decoder(record_type).decode
    with open_stream(Path(path)) as stream:
        for batch in line_batches(stream):
            for number, line in enumerate(batch.lines, batch.first_line):
                if line.strip():
                    try:
                        yield number, decode(line)
                    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
                        raise RecordError(path, number, str(exc)) from None
