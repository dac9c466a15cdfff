"""Handles on one training job: its calls without repeating its id, and waiting for its end.

A handle holds nothing but the client and the job id, so one can be made for
any job, started by this program or not (as Temporal's workflow handles).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from droidft import rpcs
from droidft.call_options import deadline_after, seconds_left
from droidft.enums import is_terminal
from droidft.errors import DeadlineExceededError
from droidft.v1 import evaluation_pb2, export_pb2, job_pb2, progress_pb2, sampling_pb2

if TYPE_CHECKING:
    from droidft.aio import AsyncClient
    from droidft.client import Client

WAIT_TIMED_OUT = "WAIT_TIMED_OUT"
ExportProgressCallback = Callable[[export_pb2.ExportProgress], Any]


def _export_result(
    update: export_pb2.ExportModelResponse, on_progress: ExportProgressCallback | None
) -> export_pb2.ExportedModel | None:
    if update.HasField("progress"):
        if on_progress is not None:
            on_progress(update.progress)
        return None
    return update.result


def _local_file(directory: str | os.PathLike, exported: export_pb2.ExportedModel, file: export_pb2.ExportedFile):
    """Where an exported file goes in a local model directory: its path inside the export."""
    return Path(directory) / Path(file.path).relative_to(exported.path)


class JobHandle:
    """One job of a Client, made by `client.job(job_id)` or `client.start_training_job(spec)`."""

    def __init__(self, client: Client, job_id: str) -> None:
        self._client = client
        self.id = job_id

    def __repr__(self) -> str:
        return f"JobHandle({self.id!r})"

    def get(self) -> job_pb2.TrainingJob:
        """The job as it is now (its state, metrics and last event's sequence number)."""
        return self._client.get_training_job(self.id)

    def cancel(self) -> job_pb2.TrainingJob:
        """Stop the job if it is queued or running (the adapter trained so far is kept); returns the job."""
        return self._client.cancel_training_job(self.id)

    def delete(self) -> int:
        """Delete the finished job with its files on the server; returns the bytes freed."""
        return self._client.delete_training_job(self.id).bytes_freed

    def pause(self) -> job_pb2.TrainingJob:
        """Checkpoint the running job after its current iteration and free its worker; returns the job."""
        return self._client.pause_training_job(self.id)

    def resume(self, from_iteration: int | None = None) -> job_pb2.TrainingJob:
        """Go on from the last resumable checkpoint (or that of `from_iteration`); returns the job."""
        return self._client.resume_training_job(self.id, from_iteration)

    def checkpoints(self) -> list[job_pb2.Checkpoint]:
        """The job's saved adapter checkpoints, by iteration, the final adapter last."""
        return list(self._client.list_checkpoints(self.id).checkpoints)

    def progress(self, after_sequence: int = 0) -> Iterator[progress_pb2.TrainingProgress]:
        """The job's events after `after_sequence` until its terminal state change, as Client.stream_progress."""
        return self._client.stream_progress(self.id, after_sequence)

    def download(self, path: str, destination: str | os.PathLike) -> Path:
        """Download a file of the job into `destination` (as Client.download: atomic, checked, resumable)."""
        return self._client.download(self.id, path, destination)

    def export(
        self,
        destination: str | os.PathLike | None = None,
        *,
        on_progress: ExportProgressCallback | None = None,
        **options: Any,
    ) -> export_pb2.ExportedModel:
        """Fuse the job's adapter into a full model on the server (Client.export_model's options: iteration,
        quantize_bits, quantize_group_size, dequantize, gguf), and download it into the local directory
        `destination` when given; `on_progress` gets each ExportProgress. Returns the ExportedModel."""
        result = None
        for update in self._client.export_model(self.id, **options):
            result = _export_result(update, on_progress) or result
        assert result is not None, "the export stream ended without a result"
        if destination is not None:
            for file in result.files:
                self.download(file.path, _local_file(destination, result, file))
        return result

    def generate(self, **options: Any) -> Iterator[sampling_pb2.GenerateResponse]:
        """Stream text from the job's model with its adapter; `options` as for Client.generate (prompt or
        messages, adapter, temperature, top_p, max_tokens, stop, seed, side_by_side)."""
        return self._client.generate(self.id, **options)

    def evaluate(self, **options: Any) -> evaluation_pb2.Evaluation:
        """Measure the job's model on its test split (or `data_path`) and return the stored result; `options`
        as for Client.evaluate_model."""
        return _result(list(self._client.evaluate_model(self.id, **options)))

    def evaluations(self) -> list[evaluation_pb2.Evaluation]:
        """The job's stored evaluations, oldest first."""
        return list(self._client.list_evaluations(self.id).evaluations)

    def wait(self, timeout: float | None = None) -> job_pb2.TrainingJob:
        """Follow the job until it has ended, and return it in its final state.

        Args:
            timeout: seconds to wait at most; None: as long as the job runs.

        Returns:
            TrainingJob: the job, SUCCEEDED, FAILED or CANCELLED (wait does not raise for a failed job).

        Raises:
            DeadlineExceededError: the job had not ended within `timeout` (reason "WAIT_TIMED_OUT"); it goes on.
        """
        deadline = deadline_after(timeout)
        try:
            job = self._client._job_now(self.id, deadline)
            if is_terminal(job.state):
                return job
            # Only the events after the job as just read are streamed: the wait needs the end, not the history.
            for _ in self._client._progress(rpcs.stream_progress.build(self.id, job.last_sequence), deadline):
                pass
            return self._client._job_now(self.id, deadline)
        except DeadlineExceededError as error:
            if seconds_left(deadline) != 0:  # one call ran past the client's own timeout
                raise
            raise _timed_out(self.id, timeout) from error


class AsyncJobHandle:
    """One job of an AsyncClient, made by `client.job(job_id)` or `await client.start_training_job(spec)`."""

    def __init__(self, client: AsyncClient, job_id: str) -> None:
        self._client = client
        self.id = job_id

    def __repr__(self) -> str:
        return f"AsyncJobHandle({self.id!r})"

    async def get(self) -> job_pb2.TrainingJob:
        """The job as it is now (its state, metrics and last event's sequence number)."""
        return await self._client.get_training_job(self.id)

    async def cancel(self) -> job_pb2.TrainingJob:
        """Stop the job if it is queued or running (the adapter trained so far is kept); returns the job."""
        return await self._client.cancel_training_job(self.id)

    async def delete(self) -> int:
        """Delete the finished job with its files on the server; returns the bytes freed."""
        return (await self._client.delete_training_job(self.id)).bytes_freed

    async def pause(self) -> job_pb2.TrainingJob:
        """Checkpoint the running job after its current iteration and free its worker; returns the job."""
        return await self._client.pause_training_job(self.id)

    async def resume(self, from_iteration: int | None = None) -> job_pb2.TrainingJob:
        """Go on from the last resumable checkpoint (or that of `from_iteration`); returns the job."""
        return await self._client.resume_training_job(self.id, from_iteration)

    async def checkpoints(self) -> list[job_pb2.Checkpoint]:
        """The job's saved adapter checkpoints, by iteration, the final adapter last."""
        return list((await self._client.list_checkpoints(self.id)).checkpoints)

    def progress(self, after_sequence: int = 0) -> AsyncIterator[progress_pb2.TrainingProgress]:
        """The job's events after `after_sequence` until its terminal state change, as AsyncClient.stream_progress."""
        return self._client.stream_progress(self.id, after_sequence)

    async def download(self, path: str, destination: str | os.PathLike) -> Path:
        """Download a file of the job into `destination` (as AsyncClient.download: atomic, checked, resumable)."""
        return await self._client.download(self.id, path, destination)

    async def export(
        self,
        destination: str | os.PathLike | None = None,
        *,
        on_progress: ExportProgressCallback | None = None,
        **options: Any,
    ) -> export_pb2.ExportedModel:
        """As JobHandle.export: fuse the adapter on the server, and download the model into `destination`."""
        result = None
        async for update in self._client.export_model(self.id, **options):
            result = _export_result(update, on_progress) or result
        assert result is not None, "the export stream ended without a result"
        if destination is not None:
            for file in result.files:
                await self.download(file.path, _local_file(destination, result, file))
        return result

    def generate(self, **options: Any) -> AsyncIterator[sampling_pb2.GenerateResponse]:
        """Stream text from the job's model with its adapter; `options` as for AsyncClient.generate."""
        return self._client.generate(self.id, **options)

    async def evaluate(self, **options: Any) -> evaluation_pb2.Evaluation:
        """Measure the job's model on its test split (or `data_path`) and return the stored result; `options`
        as for AsyncClient.evaluate_model."""
        return _result([message async for message in self._client.evaluate_model(self.id, **options)])

    async def evaluations(self) -> list[evaluation_pb2.Evaluation]:
        """The job's stored evaluations, oldest first."""
        return list((await self._client.list_evaluations(self.id)).evaluations)

    async def wait(self, timeout: float | None = None) -> job_pb2.TrainingJob:
        """Follow the job until it has ended, and return it in its final state.

        Args:
            timeout: seconds to wait at most; None: as long as the job runs.

        Returns:
            TrainingJob: the job, SUCCEEDED, FAILED or CANCELLED (wait does not raise for a failed job).

        Raises:
            DeadlineExceededError: the job had not ended within `timeout` (reason "WAIT_TIMED_OUT"); it goes on.
        """
        deadline = deadline_after(timeout)
        try:
            job = await self._client._job_now(self.id, deadline)
            if is_terminal(job.state):
                return job
            async for _ in self._client._progress(rpcs.stream_progress.build(self.id, job.last_sequence), deadline):
                pass
            return await self._client._job_now(self.id, deadline)
        except DeadlineExceededError as error:
            if seconds_left(deadline) != 0:  # one call ran past the client's own timeout
                raise
            raise _timed_out(self.id, timeout) from error


def _result(messages: list[evaluation_pb2.EvaluateModelResponse]) -> evaluation_pb2.Evaluation:
    """The evaluation the last message of an EvaluateModel stream holds."""
    return messages[-1].evaluation


def _timed_out(job_id: str, timeout: float | None) -> DeadlineExceededError:
    return DeadlineExceededError(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        f"job {job_id} did not end within {timeout:g} s",
        reason=WAIT_TIMED_OUT,
        metadata={"job_id": job_id},
    )
