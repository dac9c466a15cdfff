"""What DownloadArtifact sends: a file of a job's directory, never anything outside it.

A path is resolved (`..` and every symlink followed) and only a regular file inside the job's resolved
directory is sent. The file is opened once and its size taken then: the SHA-256 covers bytes 0 to that
size and the stream ends there, so a log that grows meanwhile is sent as it was when the call started
(and a resumed download of it checks out as long as the file only grew).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from google.protobuf import json_format

from droidft.v1 import files_pb2, progress_pb2

from .errors import DroidftError, ErrorKind, Reason

CHUNK_BYTES = 1 << 20
EVENTS_ARTIFACT = "events.jsonl"  # not a file: the job's progress events, rendered as JSON lines


def _not_found(job_id: str, path: str, why: str) -> DroidftError:
    return DroidftError(
        ErrorKind.NOT_FOUND,
        Reason.ARTIFACT_NOT_FOUND,
        f"job {job_id} has no file {path!r}: {why}",
        {"job_id": job_id, "path": path},
    )


def artifact_file(job_id: str, job_dir: Path, raw: str) -> Path:
    """The regular file `raw` names inside the job's directory (relative to it, or absolute inside it)."""
    root = job_dir.resolve()
    try:
        resolved = (root / raw).resolve()  # an absolute raw replaces root
    except (OSError, RuntimeError, ValueError) as error:
        raise _not_found(job_id, raw, str(error)) from None
    if not resolved.is_relative_to(root) or resolved == root:
        raise DroidftError(
            ErrorKind.PERMISSION_DENIED,
            Reason.PATH_OUTSIDE_ROOTS,
            f"path: {raw!r} resolves to {resolved}, outside job {job_id}'s directory",
            {"field": "path", "path": raw},
        )
    try:
        mode = os.stat(resolved).st_mode
    except OSError:
        raise _not_found(job_id, raw, "no such file") from None
    if not stat.S_ISREG(mode):
        raise _not_found(job_id, raw, "not a regular file")
    return resolved


def events_jsonl(events: Iterable[progress_pb2.TrainingProgress]) -> bytes:
    return b"".join(json_format.MessageToJson(event, indent=None, sort_keys=True).encode() + b"\n" for event in events)


def _out_of_range(job_id: str, path: str, offset: int, size: int) -> DroidftError:
    return DroidftError(
        ErrorKind.OUT_OF_RANGE,
        Reason.INVALID_REQUEST,
        f"offset {offset} is past the end of {path!r} of job {job_id} ({size} bytes)",
        {"job_id": job_id, "path": path, "size_bytes": str(size)},
    )


def stream_bytes(
    job_id: str, relative: str, content: bytes, offset: int
) -> Iterator[files_pb2.DownloadArtifactResponse]:
    """A download of bytes held in memory (events.jsonl)."""
    if offset > len(content):
        raise _out_of_range(job_id, relative, offset, len(content))
    info = files_pb2.ArtifactInfo(
        path=relative, size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(), offset=offset
    )
    yield files_pb2.DownloadArtifactResponse(info=info, data=content[offset : offset + CHUNK_BYTES])
    for start in range(offset + CHUNK_BYTES, len(content), CHUNK_BYTES):
        yield files_pb2.DownloadArtifactResponse(data=content[start : start + CHUNK_BYTES])


def stream_file(
    job_id: str, relative: str, path: Path, offset: int, is_active: Callable[[], bool]
) -> Iterator[files_pb2.DownloadArtifactResponse]:
    """A download of a file: its size and SHA-256 as it is now, then its bytes from `offset`."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if offset > size:
            raise _out_of_range(job_id, relative, offset, size)
        sha = hashlib.sha256()
        for start in range(0, size, CHUNK_BYTES):
            sha.update(os.pread(fd, min(CHUNK_BYTES, size - start), start))
        info = files_pb2.ArtifactInfo(path=relative, size_bytes=size, sha256=sha.hexdigest(), offset=offset)
        first = True
        for start in range(offset, max(size, offset + 1), CHUNK_BYTES):
            if not is_active():
                return
            data = os.pread(fd, min(CHUNK_BYTES, size - start), start) if start < size else b""
            yield files_pb2.DownloadArtifactResponse(info=info if first else None, data=data)
            first = False
    finally:
        os.close(fd)
