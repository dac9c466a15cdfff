"""UploadFile, DownloadArtifact and ExportModel: streams to domain calls and back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from droidft.v1 import export_pb2, files_pb2

from ..domain.artifacts import EVENTS_ARTIFACT, artifact_file, events_jsonl, stream_bytes, stream_file
from ..domain.errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument
from ..domain.export import RunExport, plan_export
from ..domain.files import FileStore, Upload
from ..domain.jobs import JobManager


async def upload(store: FileStore, requests: AsyncIterator[files_pb2.UploadFileRequest]) -> files_pb2.UploadedFile:
    """The first message starts (or resumes) the upload, the chunks are written as they come; the end checks it.
    A disk that cannot take the bytes answers UNAVAILABLE: what was written stays, for a resumed upload."""
    started: Upload | None = None
    try:
        async for request in requests:
            kind = request.WhichOneof("message")
            if started is None:
                if kind != "start":
                    raise invalid_argument([FieldViolation("start", "the first message must carry start", "first")])
                started = await asyncio.to_thread(store.begin, request.start)
            elif kind != "chunk":
                raise invalid_argument([FieldViolation("start", "only the first message carries start", "first")])
            else:
                started.write(request.chunk)
        if started is None:
            raise invalid_argument([FieldViolation("start", "the stream sent no message", "first")])
        return await asyncio.to_thread(started.finish)
    except OSError as error:
        raise DroidftError(
            ErrorKind.UNAVAILABLE,
            Reason.STORAGE_UNAVAILABLE,
            f"the server cannot write the upload ({error.strerror or error}); resume it once its disk has room",
        ) from None
    finally:
        if started is not None:
            started.close()  # what was received stays for a resumed upload (a finished one has moved away)


def _events(jobs: JobManager, job_id: str) -> Iterator:
    after = 0
    while batch := jobs.events_after(job_id, after):
        yield from batch
        after = batch[-1].sequence


def download(
    jobs: JobManager, request: files_pb2.DownloadArtifactRequest, is_active: Callable[[], bool]
) -> Iterator[files_pb2.DownloadArtifactResponse]:
    job = jobs.get(request.job_id)
    if request.path == EVENTS_ARTIFACT:
        yield from stream_bytes(job.job_id, EVENTS_ARTIFACT, events_jsonl(_events(jobs, job.job_id)), request.offset)
        return
    job_dir = Path(job.output_dir)
    path = artifact_file(job.job_id, job_dir, request.path)
    relative = str(path.relative_to(job_dir.resolve()))
    yield from stream_file(job.job_id, relative, path, request.offset, is_active)


def export(
    jobs: JobManager, request: export_pb2.ExportModelRequest, run_export: RunExport, is_active: Callable[[], bool]
) -> Iterator[export_pb2.ExportModelResponse]:
    job = jobs.get(request.job_id)
    export_id, plan = plan_export(job, request)
    yield from run_export(job.job_id, Path(job.output_dir), export_id, plan, is_active)
