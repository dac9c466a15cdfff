"""Synchronous client of droidft.v1.TrainingService."""

from __future__ import annotations

import os
import time
from typing import Callable, Iterable, Iterator, TypeVar

import grpc

from droidft import request_builders as build
from droidft.call_options import CHANNEL_OPTIONS, DEFAULT_TARGET, CallOptions, MetadataLike
from droidft.enums import MethodLike, StateLike
from droidft.errors import DroidftError, from_rpc_error
from droidft.progress_stream import ProgressCursor, RetryPolicy
from droidft.request_builders import SpecLike
from droidft.v1 import data_pb2, job_pb2, progress_pb2, service_pb2, service_pb2_grpc

Reply = TypeVar("Reply")


class Client:
    """Blocking client; every failed call raises a droidft.errors.DroidftError subclass.

    `timeout` is the deadline in seconds of each unary call; `metadata` is sent
    with every call. A `channel` given here is used as is and not closed by close().
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = None,
        metadata: MetadataLike = None,
        channel: grpc.Channel | None = None,
        retry_policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._stub = service_pb2_grpc.TrainingServiceStub(self._channel)
        self._options = CallOptions.of(timeout, metadata)
        self._retry_policy = retry_policy

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def _unary(self, method: Callable[..., Reply], request) -> Reply:
        try:
            return method(request, timeout=self._options.timeout, metadata=self._options.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    def list_training_methods(self) -> service_pb2.ListTrainingMethodsResponse:
        return self._unary(self._stub.ListTrainingMethods, build.list_training_methods())

    def validate_dataset(
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
        return self._unary(self._stub.ValidateDataset, request)

    def stream_dataset_validation(
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
    ) -> Iterator[data_pb2.StreamDatasetValidationResponse]:
        """Like validate_dataset, with progress messages while the server reads; the last one holds the result."""
        request = build.stream_dataset_validation(
            path, content=content, method=method, format=format, model_path=model_path,
            max_seq_length=max_seq_length, max_issues=max_issues, progress_interval_seconds=progress_interval_seconds,
        )
        call = self._stub.StreamDatasetValidation(request, metadata=self._options.metadata)
        try:
            for progress in call:
                yield progress
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()

    def generate_sample_data(
        self, format: str, *, count: int | None = None, seed: int = 0, output_path: str | os.PathLike = ""
    ) -> data_pb2.GenerateSampleDataResponse:
        request = build.generate_sample_data(format, count=count, seed=seed, output_path=output_path)
        return self._unary(self._stub.GenerateSampleData, request)

    def estimate_resources(self, spec: SpecLike) -> service_pb2.EstimateResourcesResponse:
        return self._unary(self._stub.EstimateResources, build.estimate_resources(spec))

    def create_training_job(
        self, spec: SpecLike, *, request_id: str = "", validate_only: bool = False
    ) -> job_pb2.TrainingJob:
        request = build.create_training_job(spec, request_id=request_id, validate_only=validate_only)
        return self._unary(self._stub.CreateTrainingJob, request)

    def get_training_job(self, job_id: str) -> job_pb2.TrainingJob:
        return self._unary(self._stub.GetTrainingJob, build.get_training_job(job_id))

    def list_training_jobs(
        self, *, page_size: int = 0, page_token: str = "", states: Iterable[StateLike] = ()
    ) -> service_pb2.ListTrainingJobsResponse:
        request = build.list_training_jobs(page_size=page_size, page_token=page_token, states=states)
        return self._unary(self._stub.ListTrainingJobs, request)

    def iter_training_jobs(self, *, page_size: int = 0, states: Iterable[StateLike] = ()) -> Iterator[job_pb2.TrainingJob]:
        """Every job, newest first, fetching further pages as the iteration reaches them."""
        states = tuple(states)
        page_token = ""
        while True:
            page = self.list_training_jobs(page_size=page_size, page_token=page_token, states=states)
            yield from page.jobs
            page_token = page.next_page_token
            if not page_token:
                return

    def cancel_training_job(self, job_id: str) -> job_pb2.TrainingJob:
        return self._unary(self._stub.CancelTrainingJob, build.cancel_training_job(job_id))

    def list_checkpoints(self, job_id: str) -> service_pb2.ListCheckpointsResponse:
        return self._unary(self._stub.ListCheckpoints, build.list_checkpoints(job_id))

    def stream_progress(self, job_id: str, after_sequence: int = 0) -> Iterator[progress_pb2.TrainingProgress]:
        """The job's events after `after_sequence`, live, until its terminal state change.

        A dropped connection (UNAVAILABLE, or the stream ending before the
        terminal event) is reopened after the last event seen, with backoff, so
        no event is lost or repeated; the last error is raised once
        `retry_policy.max_attempts` reconnects in a row brought nothing new.
        """
        cursor = ProgressCursor(job_id, after_sequence, self._retry_policy)
        while True:
            try:
                yield from self._stream_once(cursor)
                if cursor.finished:
                    return
                cursor.check_job(self.get_training_job(job_id))
                if cursor.finished:
                    return
                failure: DroidftError = cursor.ended_early_error()
            except DroidftError as error:
                if not cursor.is_retryable(error):
                    raise
                failure = error
            time.sleep(cursor.next_backoff(failure))

    def _stream_once(self, cursor: ProgressCursor) -> Iterator[progress_pb2.TrainingProgress]:
        call = self._stub.StreamTrainingProgress(cursor.request(), metadata=self._options.metadata)
        try:
            for event in call:
                if cursor.accept(event):
                    yield event
                if cursor.finished:
                    return
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()
