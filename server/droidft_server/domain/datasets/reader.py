"""Reading JSONL in constant memory: plain or gzip, a file or a data-set directory.

Lines come in batches cut from 256 KiB chunks, so one C-level split and one ASCII check
cover a thousand records; a line longer than a chunk is put together from its pieces.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import msgspec

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
CHUNK_SIZE = 1 << 18  # measured: larger chunks fall out of the CPU caches
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class LineBatch:
    first_line: int  # 1-based number of lines[0]
    lines: list[bytes]  # without their b"\n"; a b"\r" of CRLF stays (JSON whitespace)
    utf8: bool  # every line is valid UTF-8


def open_stream(source: Path | bytes) -> BinaryIO:
    """A binary stream of the decompressed content; gzip is recognised by its magic bytes."""
    if isinstance(source, bytes):
        content = io.BytesIO(source)
        return gzip.GzipFile(fileobj=content) if source[:2] == GZIP_MAGIC else content  # type: ignore[return-value]
    with open(source, "rb") as probe:
        magic = probe.read(2)
    # gzip.open owns its file, so closing the stream closes it (a GzipFile over fileobj would not).
    return gzip.open(source, "rb") if magic == GZIP_MAGIC else open(source, "rb")  # type: ignore[return-value]


def line_batches(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[LineBatch]:
    pieces: list[bytes] = []  # the unfinished last line, in pieces
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
            pieces_ascii = pieces_ascii and ascii_chunk
            continue
        if pieces:
            pieces.append(lines[0])
            lines[0] = b"".join(pieces)
        ascii_lines = ascii_chunk and pieces_ascii
        pieces, pieces_ascii = [lines.pop()], ascii_chunk
        yield LineBatch(next_line, lines, ascii_lines or _is_utf8(b"\n".join(lines)))
        next_line += len(lines)
    tail = b"".join(pieces)
    if tail:
        yield LineBatch(next_line, [tail], tail.isascii() or _is_utf8(tail))


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
