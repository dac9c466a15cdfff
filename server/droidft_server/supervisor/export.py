"""Runs ExportModel's worker process and relays its progress; the export lands whole or not at all.

The worker writes into `exports/.writing-<export_id>-<random>/`, which is renamed to `exports/<export_id>/`
once the worker has exited cleanly. A failed or abandoned export (the caller cancelled) is killed and its
directory removed. An export id names what the export holds, so an existing one is returned as it is.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from droidft.v1 import export_pb2

from ..domain.checkpoints import TEMPORARY_PREFIX, file_digest
from ..domain.errors import DroidftError, ErrorKind, Reason
from ..domain.export import EXPORTS_DIR, ExportPlan
from ..worker.export import PROGRESS_MARKER

FAILURE_LINES = 12  # of the worker's output, in the error of a failed export
ABANDON_CHECK_SECONDS = 0.25


def _result(job_dir: Path, export_id: str, reused: bool) -> export_pb2.ExportedModel:
    directory = job_dir / EXPORTS_DIR / export_id
    files = [
        export_pb2.ExportedFile(
            path=str(path.relative_to(job_dir)), size_bytes=path.stat().st_size, sha256=file_digest(path)
        )
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    ]
    return export_pb2.ExportedModel(
        export_id=export_id, path=str(directory.relative_to(job_dir)), files=files, reused=reused
    )


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stop_when_abandoned(process: subprocess.Popen, is_active: Callable[[], bool]) -> None:
    """Kill the worker once its caller has gone, even while it prints nothing (a long fuse or save)."""
    while True:
        try:
            process.wait(timeout=ABANDON_CHECK_SECONDS)  # a timer: a caller going away signals nothing here
            return
        except subprocess.TimeoutExpired:
            if not is_active():
                process.kill()
                return


def run_export(
    job_id: str,
    job_dir: Path,
    export_id: str,
    plan: ExportPlan,
    is_active: Callable[[], bool],
    *,
    blas_threads: int = 1,
) -> Iterator[export_pb2.ExportModelResponse]:
    """Progress messages while the worker runs, then the result; EXPORT_FAILED when the worker fails. A RunExport
    (domain/export.py) once the composition root has bound `blas_threads`, the worker's BLAS thread share."""
    target = job_dir / EXPORTS_DIR / export_id
    if target.is_dir():
        yield export_pb2.ExportModelResponse(result=_result(job_dir, export_id, reused=True))
        return
    writing = job_dir / EXPORTS_DIR / f"{TEMPORARY_PREFIX}{export_id}-{uuid.uuid4().hex[:8]}"
    writing.mkdir(parents=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "droidft_server.worker.export",
            replace(plan, output_dir=str(writing), blas_threads=blas_threads).to_json(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
    )
    threading.Thread(target=_stop_when_abandoned, args=(process, is_active), name="droidft-export", daemon=True).start()
    output: collections.deque[str] = collections.deque(maxlen=FAILURE_LINES)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(PROGRESS_MARKER):
                progress = json.loads(line.removeprefix(PROGRESS_MARKER))
                yield export_pb2.ExportModelResponse(progress=export_pb2.ExportProgress(**progress))
            else:
                output.append(line.rstrip())
        if process.wait() != 0 and is_active():
            tail = "\n".join(output)
            raise DroidftError(
                ErrorKind.FAILED_PRECONDITION,
                Reason.EXPORT_FAILED,
                f"the export of job {job_id} failed (worker exit code {process.returncode}):\n{tail}",
                {"job_id": job_id},
            )
        if not is_active():
            return
        try:
            os.rename(writing, target)
            _sync_directory(target.parent)  # the rename itself on disk
            reused = False
        except OSError as error:
            if not target.is_dir():  # the job's directory went away meanwhile (the job was deleted)
                raise DroidftError(
                    ErrorKind.FAILED_PRECONDITION,
                    Reason.EXPORT_FAILED,
                    f"the export of job {job_id} could not be put in place: {error.strerror or error}",
                    {"job_id": job_id},
                ) from None
            reused = True  # another export of the same id got there first: it holds the same model
        yield export_pb2.ExportModelResponse(result=_result(job_dir, export_id, reused=reused))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(writing)
