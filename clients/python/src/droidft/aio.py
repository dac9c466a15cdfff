"""Asynchronous (asyncio, grpc.aio) client of droidft.v1.TrainingService."""

from __future__ import annotations

import asyncio
import os
from typing import AsyncIterator, Awaitable, Callable, Iterable, TypeVar

import grpc
import grpc.aio

from droidft import request_builders as build
from droidft.call_options import CHANNEL_OPTIONS, DEFAULT_TARGET, CallOptions, MetadataLike
from droidft.enums import MethodLike, StateLike
from droidft.errors import DroidftError, from_rpc_error
from droidft.progress_stream import ProgressCursor, RetryPolicy
from droidft.request_builders import SpecLike
from droidft.v1 import data_pb2, job_pb2, progress_pb2, service_pb2, service_pb2_grpc

Reply = TypeVar("Reply")


class AsyncClient:
    """asyncio client with the same methods as droidft.Client, as coroutines and async iterators.

    The channel is opened on the first call, so that it belongs to the event loop
    that makes the calls (grpc.aio channels are bound to one loop); the client
    can therefore be built anywhere.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = None,
        metadata: MetadataLike = None,
        channel: grpc.aio.Channel | None = None,
        retry_policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._target = target
        self._owns_channel = channel is None
        self._channel = channel
        self._opened_stub: service_pb2_grpc.TrainingServiceStub | None = None
        self._options = CallOptions.of(timeout, metadata)
        self._retry_policy = retry_policy

    @property
    def _stub(self) -> service_pb2_grpc.TrainingServiceStub:
        if self._opened_stub is None:
            if self._channel is None:
                self._channel = grpc.aio.insecure_channel(self._target, options=CHANNEL_OPTIONS)
            self._opened_stub = service_pb2_grpc.TrainingServiceStub(self._channel)
        return self._opened_stub

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_channel and self._channel is not None:
            await self._channel.close()

    async def _unary(self, method: Callable[..., Awaitable[Reply]], request) -> Reply:
        try:
            return await method(request, timeout=self._options.timeout, metadata=self._options.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    async def list_training_methods(self) -> service_pb2.ListTrainingMethodsResponse:
        return await self._unary(self._stub.ListTrainingMethods, build.list_training_methods())

    async def validate_dataset(
        self,
        path: str | os.PathLike | None = None,
        *,
        content: bytes | None = None,
        method: MethodLike | None = None,
        format: str = "",
        model_path: str | os.PathLike = "",
        max_seq_length: int | None = None,
        max_issues: int | None = None,
    ) -> data_pb2.ValidateDatasetResponse:
        request = build.validate_dataset(
            path, content=content, method=method, format=format, model_path=model_path,
            max_seq_length=max_seq_length, max_issues=max_issues,
        )
        return await self._unary(self._stub.ValidateDataset, request)

    async def stream_dataset_validation(
        self,
        path: str | os.PathLike | None = None,
        *,
        content: bytes | None = None,
        method: MethodLike | None = None,
        format: str = "",
        model_path: str | os.PathLike = "",
        max_seq_length: int | None = None,
        max_issues: int | None = None,
        progress_interval_seconds: float | None = None,
    ) -> AsyncIterator[data_pb2.StreamDatasetValidationResponse]:
        """Like validate_dataset, with progress messages while the server reads; the last one holds the result."""
        request = build.stream_dataset_validation(
            path, content=content, method=method, format=format, model_path=model_path,
            max_seq_length=max_seq_length, max_issues=max_issues, progress_interval_seconds=progress_interval_seconds,
        )
        call = self._stub.StreamDatasetValidation(request, metadata=self._options.metadata)
        try:
            async for progress in call:
                yield progress
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()

    async def generate_sample_data(
        self, format: str, *, count: int | None = None, seed: int = 0, output_path: str | os.PathLike = ""
    ) -> data_pb2.GenerateSampleDataResponse:
        request = build.generate_sample_data(format, count=count, seed=seed, output_path=output_path)
        return await self._unary(self._stub.GenerateSampleData, request)

    async def estimate_resources(self, spec: SpecLike) -> service_pb2.EstimateResourcesResponse:
        return await self._unary(self._stub.EstimateResources, build.estimate_resources(spec))

    async def create_training_job(
        self, spec: SpecLike, *, request_id: str = "", validate_only: bool = False
    ) -> job_pb2.TrainingJob:
        request = build.create_training_job(spec, request_id=request_id, validate_only=validate_only)
        return await self._unary(self._stub.CreateTrainingJob, request)

    async def get_training_job(self, job_id: str) -> job_pb2.TrainingJob:
        return await self._unary(self._stub.GetTrainingJob, build.get_training_job(job_id))

    async def list_training_jobs(
        self, *, page_size: int = 0, page_token: str = "", states: Iterable[StateLike] = ()
    ) -> service_pb2.ListTrainingJobsResponse:
        request = build.list_training_jobs(page_size=page_size, page_token=page_token, states=states)
        return await self._unary(self._stub.ListTrainingJobs, request)

    async def iter_training_jobs(
        self, *, page_size: int = 0, states: Iterable[StateLike] = ()
    ) -> AsyncIterator[job_pb2.TrainingJob]:
        """Every job, newest first, fetching further pages as the iteration reaches them."""
        states = tuple(states)
        page_token = ""
        while True:
            page = await self.list_training_jobs(page_size=page_size, page_token=page_token, states=states)
            for job in page.jobs:
                yield job
            page_token = page.next_page_token
            if not page_token:
                return

    async def cancel_training_job(self, job_id: str) -> job_pb2.TrainingJob:
        return await self._unary(self._stub.CancelTrainingJob, build.cancel_training_job(job_id))

    async def list_checkpoints(self, job_id: str) -> service_pb2.ListCheckpointsResponse:
        return await self._unary(self._stub.ListCheckpoints, build.list_checkpoints(job_id))

    async def stream_progress(self, job_id: str, after_sequence: int = 0) -> AsyncIterator[progress_pb2.TrainingProgress]:
        """The job's events after `after_sequence`, live, until its terminal state change.

        Reconnects like droidft.Client.stream_progress: no event is lost or repeated.
        """
        cursor = ProgressCursor(job_id, after_sequence, self._retry_policy)
        while True:
            try:
                async for event in self._stream_once(cursor):
                    yield event
                if cursor.finished:
                    return
                cursor.check_job(await self.get_training_job(job_id))
                if cursor.finished:
                    return
                failure: DroidftError = cursor.ended_early_error()
            except DroidftError as error:
                if not cursor.is_retryable(error):
                    raise
                failure = error
            await asyncio.sleep(cursor.next_backoff(failure))

    async def _stream_once(self, cursor: ProgressCursor) -> AsyncIterator[progress_pb2.TrainingProgress]:
        call = self._stub.StreamTrainingProgress(cursor.request(), metadata=self._options.metadata)
        try:
            async for event in call:
                if cursor.accept(event):
                    yield event
                if cursor.finished:
                    return
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()
