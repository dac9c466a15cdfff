"""The files area: files clients upload, kept under the server's state directory.

    <files>/<file_id>/<name>            an uploaded file, whole and checked against its SHA-256
    <files>/<file_id>/.file.json        what ListFiles shows of it
    <files>/uploads/<upload_id>.part    the bytes of an upload so far, kept to resume an interrupted one
    <files>/uploads/<upload_id>.json    what the upload started with (name, size, SHA-256)

A completed upload is assembled in a temporary directory (`.writing-*`) and renamed into place, so a
file is listed, and readable as data, only whole. Requests name an uploaded file as data with
`file:<file_id>` (FileRoots resolves it); nothing else of the state directory is reachable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import timestamp_pb2

from droidft.v1 import files_pb2

from .errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument

DATA_PATH_PREFIX = "file:"  # a data path "file:<file_id>" names an uploaded file
DEFAULT_MAX_UPLOAD_BYTES = 10 * 2**30
_FILE_ID = re.compile(r"^f-[0-9a-f]{32}$")
_METADATA = ".file.json"
_UPLOADS = "uploads"
_WRITING = ".writing-"


def data_path(file_id: str) -> str:
    return f"{DATA_PATH_PREFIX}{file_id}"


def file_not_found(file_id: str) -> DroidftError:
    return DroidftError(
        ErrorKind.NOT_FOUND, Reason.FILE_NOT_FOUND, f"no uploaded file {file_id!r}", {"file_id": file_id}
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest_of_prefix(path: Path, length: int) -> hashlib._Hash:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        left = length
        while left and (block := handle.read(min(left, 1 << 20))):
            sha.update(block)
            left -= len(block)
    return sha


def _incomplete(header: UploadHeader, received: int, why: str) -> DroidftError:
    return DroidftError(
        ErrorKind.FAILED_PRECONDITION,
        Reason.UPLOAD_INCOMPLETE,
        f"upload {header.upload_id} of {header.size_bytes} bytes: {why}; resume it from offset {received}",
        {"upload_id": header.upload_id, "received_bytes": str(received), "size_bytes": str(header.size_bytes)},
    )


@dataclass(frozen=True)
class UploadHeader:
    upload_id: str
    name: str
    size_bytes: int
    sha256: str

    def to_json(self) -> str:
        return json.dumps(vars(self))


class Upload:
    """One stream of an upload: write() its chunks, then finish(); a stream that ends short keeps its bytes."""

    def __init__(self, store: FileStore, header: UploadHeader, offset: int):
        self._store = store
        self.header = header
        self._part = store.part_path(header.upload_id)
        self._sha = _digest_of_prefix(self._part, offset) if offset else hashlib.sha256()
        self._handle = open(self._part, "r+b" if offset else "wb")  # noqa: SIM115 (closed by finish or close)
        self._handle.seek(offset)
        self._handle.truncate()
        self.received = offset

    def write(self, chunk: bytes) -> None:
        if self.received + len(chunk) > self.header.size_bytes:
            self.close()
            why = f"more bytes than the {self.header.size_bytes} that start.size_bytes gives"
            raise invalid_argument([FieldViolation("chunk", why, "upload.size_bytes")])
        self._handle.write(chunk)
        self._sha.update(chunk)
        self.received += len(chunk)

    def close(self) -> None:
        """Keep what was received (flushed to disk) for a resumed upload, and let another stream take it."""
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        self._store.release(self.header.upload_id)

    def finish(self) -> files_pb2.UploadedFile:
        """The file, once every byte is here and matches the SHA-256; else UPLOAD_INCOMPLETE or CHECKSUM_MISMATCH."""
        header = self.header
        self.close()
        if self.received < header.size_bytes:
            raise _incomplete(header, self.received, f"the stream ended after {self.received} bytes")
        actual = self._sha.hexdigest()
        if actual != header.sha256:
            self._store.drop_upload(header.upload_id)
            raise DroidftError(
                ErrorKind.DATA_LOSS,
                Reason.CHECKSUM_MISMATCH,
                f"upload {header.upload_id}: the bytes received have SHA-256 {actual}, not {header.sha256}; "
                "nothing was kept, upload it again",
                {"upload_id": header.upload_id, "expected_sha256": header.sha256, "actual_sha256": actual},
            )
        return self._store.complete(header)


class FileStore:
    """The files area of one server; every method is safe to call from several threads."""

    def __init__(self, root: Path, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES):
        self.root = root
        self.max_upload_bytes = max_upload_bytes
        (root / _UPLOADS).mkdir(parents=True, exist_ok=True)
        self._writing: set[str] = set()  # upload ids a stream is writing now
        self._lock = threading.Lock()
        for leftover in root.glob(f"{_WRITING}*"):  # a completion cut short by a crash: its upload is kept
            shutil.rmtree(leftover, ignore_errors=True)

    def part_path(self, upload_id: str) -> Path:
        return self.root / _UPLOADS / f"{upload_id}.part"

    def _header_path(self, upload_id: str) -> Path:
        return self.root / _UPLOADS / f"{upload_id}.json"

    def _header(self, upload_id: str) -> UploadHeader | None:
        try:
            return UploadHeader(**json.loads(self._header_path(upload_id).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _received(self, upload_id: str) -> int:
        try:
            return self.part_path(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    def begin(self, start: files_pb2.UploadStart) -> Upload:
        """An upload stream, checked: its size within the limit, no other stream on it, its offset where
        the bytes received end."""
        header = UploadHeader(start.upload_id, start.name, start.size_bytes, start.sha256)
        if header.size_bytes > self.max_upload_bytes:
            raise DroidftError(
                ErrorKind.RESOURCE_EXHAUSTED,
                Reason.FILE_TOO_LARGE,
                f"{header.name} is {header.size_bytes} bytes, more than this server's limit of "
                f"{self.max_upload_bytes} (--max-upload-bytes)",
                {"size_bytes": str(header.size_bytes), "max_upload_bytes": str(self.max_upload_bytes)},
            )
        with self._lock:
            if header.upload_id in self._writing:
                raise self._conflict(header.upload_id, "another stream is writing it now")
            earlier = self._header(header.upload_id)
            if start.offset:
                received = self._received(header.upload_id) if earlier is not None else 0
                if earlier is not None and earlier != header:
                    raise self._conflict(header.upload_id, "it was started with another name, size or SHA-256")
                if start.offset != received:
                    raise _incomplete(header, received, f"the server holds {received} bytes, not {start.offset}")
            else:
                self._header_path(header.upload_id).write_text(header.to_json())
            self._writing.add(header.upload_id)
        try:
            return Upload(self, header, start.offset)
        except BaseException:
            self.release(header.upload_id)
            raise

    @staticmethod
    def _conflict(upload_id: str, why: str) -> DroidftError:
        return DroidftError(
            ErrorKind.ABORTED, Reason.UPLOAD_CONFLICT, f"upload {upload_id}: {why}", {"upload_id": upload_id}
        )

    def release(self, upload_id: str) -> None:
        with self._lock:
            self._writing.discard(upload_id)

    def drop_upload(self, upload_id: str) -> None:
        self.part_path(upload_id).unlink(missing_ok=True)
        self._header_path(upload_id).unlink(missing_ok=True)

    def status(self, upload_id: str) -> files_pb2.UploadStatus:
        header = self._header(upload_id)
        if header is None:
            raise DroidftError(
                ErrorKind.NOT_FOUND,
                Reason.UPLOAD_NOT_FOUND,
                f"the server holds nothing of upload {upload_id!r}; start it at offset 0",
                {"upload_id": upload_id},
            )
        return files_pb2.UploadStatus(
            upload_id=upload_id,
            name=header.name,
            size_bytes=header.size_bytes,
            sha256=header.sha256,
            received_bytes=self._received(upload_id),
        )

    def complete(self, header: UploadHeader) -> files_pb2.UploadedFile:
        """Move a whole, checked upload into place: assembled aside, fsynced, then renamed."""
        file_id = f"f-{uuid.uuid4().hex}"
        now = timestamp_pb2.Timestamp()
        now.FromNanoseconds(time.time_ns())
        uploaded = files_pb2.UploadedFile(
            file_id=file_id,
            name=header.name,
            size_bytes=header.size_bytes,
            sha256=header.sha256,
            create_time=now,
            data_path=data_path(file_id),
        )
        writing = self.root / f"{_WRITING}{file_id}"
        writing.mkdir()
        os.replace(self.part_path(header.upload_id), writing / header.name)
        (writing / _METADATA).write_text(
            json.dumps({**vars(header), "file_id": file_id, "create_time": now.ToJsonString()})
        )
        _fsync_dir(writing)
        os.replace(writing, self.root / file_id)
        _fsync_dir(self.root)
        self._header_path(header.upload_id).unlink(missing_ok=True)
        return uploaded

    def _read(self, directory: Path) -> files_pb2.UploadedFile | None:
        try:
            meta = json.loads((directory / _METADATA).read_text())
        except (OSError, ValueError):
            return None
        created = timestamp_pb2.Timestamp()
        created.FromJsonString(meta["create_time"])
        return files_pb2.UploadedFile(
            file_id=meta["file_id"],
            name=meta["name"],
            size_bytes=meta["size_bytes"],
            sha256=meta["sha256"],
            create_time=created,
            data_path=data_path(meta["file_id"]),
        )

    def list(self) -> list[files_pb2.UploadedFile]:
        found = [self._read(d) for d in self.root.iterdir() if _FILE_ID.match(d.name)]
        return sorted((f for f in found if f is not None), key=lambda f: (f.create_time.ToNanoseconds(), f.file_id))

    def get(self, file_id: str) -> files_pb2.UploadedFile:
        uploaded = self._read(self.root / file_id) if _FILE_ID.match(file_id) else None
        if uploaded is None:
            raise file_not_found(file_id)
        return uploaded

    def path(self, file_id: str) -> Path:
        """Where the uploaded file's bytes are."""
        return self.root / file_id / self.get(file_id).name

    def delete(self, file_id: str) -> int:
        uploaded = self.get(file_id)
        doomed = self.root / f"{_WRITING}deleting-{file_id}"
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.root / file_id, doomed)  # gone from listings at once, even if removal is slow
        shutil.rmtree(doomed, ignore_errors=True)
        return uploaded.size_bytes
