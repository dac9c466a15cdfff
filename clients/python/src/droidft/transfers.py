"""Moving files to and from the server: checksums, upload chunks, and downloads written atomically.

A download goes to `<destination>.partial` first and is renamed to the destination only once its SHA-256
matches the server's; an interrupted one is resumed from the partial file's size on the next try.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from droidft.v1 import files_pb2

if TYPE_CHECKING:  # progress_stream imports rpcs, which imports this module
    from droidft.progress_stream import RetryPolicy

UPLOAD_CHUNK_BYTES = 1 << 20
PARTIAL_SUFFIX = ".partial"


def file_sha256(path: str | os.PathLike, length: int | None = None) -> str:
    """SHA-256 of the file (of its first `length` bytes when given), in hex."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        left = os.fstat(handle.fileno()).st_size if length is None else length
        while left and (block := handle.read(min(left, 1 << 20))):
            sha.update(block)
            left -= len(block)
    return sha.hexdigest()


def upload_id_for(sha256: str, size: int) -> str:
    """The default upload id: the same file gets the same id, so uploading it again resumes."""
    return f"{sha256[:40]}-{size}"


def upload_requests(
    first: files_pb2.UploadFileRequest, path: str | os.PathLike, offset: int, chunk_bytes: int = UPLOAD_CHUNK_BYTES
) -> Iterator[files_pb2.UploadFileRequest]:
    """The start message (at `offset`), then the file's bytes from there in chunks."""
    start = files_pb2.UploadFileRequest()
    start.CopyFrom(first)
    start.start.offset = offset
    yield start
    with open(path, "rb") as handle:
        handle.seek(offset)
        while chunk := handle.read(chunk_bytes):
            yield files_pb2.UploadFileRequest(chunk=chunk)


def resume_offset(first: files_pb2.UploadFileRequest, status: files_pb2.UploadStatus | None) -> int:
    """Where the upload goes on: what the server holds of the same file, else 0 (starting over)."""
    start = first.start
    same = status is not None and (status.name, status.size_bytes, status.sha256) == (
        start.name,
        start.size_bytes,
        start.sha256,
    )
    return status.received_bytes if same and status is not None else 0


class TransferRetries:
    """When a transfer cut off by a dropped connection (UNAVAILABLE) goes on: up to the policy's
    max_attempts tries in a row that moved no byte, after its backoff; any progress resets the count."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._failed = 0
        self._position = -1

    def backoff(self, position: int) -> float | None:
        """Seconds to wait before the next try, now that the server holds (or the client has) `position` bytes;
        None: give up."""
        self._failed = 1 if position > self._position else self._failed + 1
        self._position = max(position, self._position)
        return self._policy.backoff(self._failed) if self._failed < self._policy.max_attempts else None


class DownloadChecksumError(Exception):
    """The downloaded bytes do not have the SHA-256 the server gave; the partial file was removed."""


class Download:
    """One download into a local file: where to resume, then each message of the stream, then the check."""

    def __init__(self, destination: str | os.PathLike) -> None:
        self.destination = Path(destination)
        self.partial = self.destination.with_name(self.destination.name + PARTIAL_SUFFIX)
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self.offset = self.partial.stat().st_size if self.partial.exists() else 0
        self._handle = None
        self._info: files_pb2.ArtifactInfo | None = None

    def restart(self) -> None:
        """The partial file is not a prefix of the file (longer than it): start over."""
        self.partial.unlink(missing_ok=True)
        self.offset = 0

    def write(self, message: files_pb2.DownloadArtifactResponse) -> None:
        if self._handle is None:
            self._info = message.info
            self._handle = open(self.partial, "r+b" if self.offset else "wb")  # noqa: SIM115 (closed by finish)
            self._handle.seek(message.info.offset)
            self._handle.truncate()
        self._handle.write(message.data)

    def finish(self) -> Path:
        """Check the whole file against the server's SHA-256 and move it into place."""
        if self._handle is None or self._info is None:
            raise DownloadChecksumError(f"the server sent nothing for {self.destination}")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        if file_sha256(self.partial) != self._info.sha256:
            self.partial.unlink(missing_ok=True)
            raise DownloadChecksumError(
                f"{self.destination}: the bytes received do not have the SHA-256 {self._info.sha256}; download again"
            )
        os.replace(self.partial, self.destination)
        return self.destination

    def close(self) -> None:
        """Keep what was received in the partial file for the next try."""
        if self._handle is not None and not self._handle.closed:
            self._handle.close()


def download_into(download: Download, messages: Iterator[files_pb2.DownloadArtifactResponse]) -> Path:
    try:
        for message in messages:
            download.write(message)
        return download.finish()
    finally:
        download.close()


async def download_into_async(download: Download, messages: AsyncIterator[files_pb2.DownloadArtifactResponse]) -> Path:
    try:
        async for message in messages:
            download.write(message)
        return download.finish()
    finally:
        download.close()
