"""Writing records as JSONL: to bytes, or to a file (gzip when its name ends in .gz)."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import msgspec

_encoder = msgspec.json.Encoder()
_BATCH = 1024


class ContentTooLarge(ValueError):
    """The records would make more bytes than the caller can take."""


def to_jsonl_bytes(records: Iterable[object], *, limit_bytes: int | None = None) -> bytes:
    """The records as JSONL; past limit_bytes, stop at once with ContentTooLarge."""
    buffer = bytearray()
    for record in records:
        _encoder.encode_into(record, buffer, -1)
        buffer += b"\n"
        if limit_bytes is not None and len(buffer) > limit_bytes:
            raise ContentTooLarge(f"more than {limit_bytes} bytes")
    return bytes(buffer)


def write_records(stream: BinaryIO, records: Iterable[object]) -> int:
    """Write records one a line; returns how many."""
    count, buffer = 0, bytearray()
    for record in records:
        _encoder.encode_into(record, buffer, -1)
        buffer += b"\n"
        count += 1
        if count % _BATCH == 0:
            stream.write(buffer)
            buffer.clear()
    stream.write(buffer)
    return count


def write_jsonl(path: str | Path, records: Iterable[object]) -> int:
    """Write records to a JSONL file (gzip for *.gz), through a temporary name; returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as raw:
            stream = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.suffix == ".gz" else raw
            with stream:
                count = write_records(stream, records)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return count
