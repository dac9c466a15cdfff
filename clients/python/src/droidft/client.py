"""Synchronous client of droidft.v1.TrainingService."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message

from droidft import rpcs
from droidft.call_options import DEFAULT_TARGET, CallOptions, MetadataLike, TlsLike, open_channel, seconds_left
from droidft.enums import StateLike
from droidft.errors import DroidftError, NotFoundError, OutOfRangeError, UnavailableError, from_rpc_error
from droidft.job_handle import JobHandle
from droidft.progress_stream import ProgressCursor, RetryPolicy
from droidft.rpcs import P, Req, Resp, Rpc
from droidft.specs import SpecLike
from droidft.transfers import Download, TransferRetries, download_into, resume_offset, upload_requests
from droidft.v1 import files_pb2, job_pb2, progress_pb2, service_pb2, service_pb2_grpc

ProgressRequest = service_pb2.StreamTrainingProgressRequest
Progress = progress_pb2.TrainingProgress


def _unary_method(rpc: Rpc[P, Req, Resp]) -> rpcs.UnaryCall[P, Req, Resp]:
    def call(self: Client, *args: Any, **kwargs: Any) -> Resp:
        return self._unary(rpc, rpc.request(*args, **kwargs))

    return rpc.method(call, "Client", rpc.response_name)


def _stream_method(rpc: Rpc[P, Req, Resp]) -> rpcs.StreamCall[P, Req, Resp]:
    def call(self: Client, *args: Any, **kwargs: Any) -> Iterator[Resp]:
        yield from self._stream(rpc, rpc.request(*args, **kwargs))

    return rpc.method(call, "Client", f"Iterator[{rpc.response_name}]")


def _progress_method(rpc: Rpc[P, ProgressRequest, Progress]) -> rpcs.StreamCall[P, ProgressRequest, Progress]:
    def call(self: Client, *args: Any, **kwargs: Any) -> Iterator[Progress]:
        yield from self._progress(rpc.request(*args, **kwargs))

    return rpc.method(call, "Client", f"Iterator[{rpc.response_name}]")


def _upload_method(rpc: Rpc[P, Req, Resp]) -> rpcs.UnaryCall[P, Req, Resp]:
    def call(self: Client, *args: Any, **kwargs: Any) -> Resp:
        first = rpc.request(*args, **kwargs)
        if args and isinstance(args[0], Message):
            return self._upload(iter([first]))
        path = args[0] if args else kwargs["path"]
        retries = TransferRetries(self._retry_policy)
        while True:
            offset = 0
            try:
                try:
                    status = self.get_upload_status(first.start.upload_id)
                except NotFoundError:
                    status = None
                offset = resume_offset(first, status)
                return self._upload(upload_requests(first, path, offset))
            except UnavailableError:  # the connection dropped: go on from what the server holds
                wait = retries.backoff(offset)
                if wait is None:
                    raise
                time.sleep(wait)

    return rpc.method(call, "Client", rpc.response_name)


class Client:
    """Blocking client; every failed call raises a droidft.errors.DroidftError subclass.

    Each method of a service call takes the arguments it documents, or the
    call's ready request message alone, and returns the generated response
    message (droidft.v1.*_pb2). `client.job(job_id)` gives a JobHandle.

    Args:
        target: the server's "host:port".
        timeout: deadline in seconds of each unary call (streams last as long as the job); None: none.
        metadata: sent with every call, a dict or (key, value) pairs.
        token: the bearer token of a server that asks for one (its --auth-token-file); None: none.
        tls: TLS to the server: a droidft.Tls (a CA, a client certificate), True for the system's roots;
            None: plaintext.
        channel: a channel to use as is (then `target` and `tls` are ignored, and close() leaves it open).
        retry_policy: how stream_progress reconnects after a dropped connection.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = None,
        metadata: MetadataLike = None,
        token: str | None = None,
        tls: TlsLike = None,
        channel: grpc.Channel | None = None,
        retry_policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else open_channel(target, tls)
        self._stub = service_pb2_grpc.TrainingServiceStub(self._channel)
        self._options = CallOptions.of(timeout, metadata, token)
        self._retry_policy = retry_policy

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel, unless it was given to the constructor."""
        if self._owns_channel:
            self._channel.close()

    list_training_methods = _unary_method(rpcs.list_training_methods)
    validate_dataset = _unary_method(rpcs.validate_dataset)
    stream_dataset_validation = _stream_method(rpcs.stream_dataset_validation)
    generate_sample_data = _unary_method(rpcs.generate_sample_data)
    estimate_resources = _unary_method(rpcs.estimate_resources)
    create_training_job = _unary_method(rpcs.create_training_job)
    get_training_job = _unary_method(rpcs.get_training_job)
    list_training_jobs = _unary_method(rpcs.list_training_jobs)
    cancel_training_job = _unary_method(rpcs.cancel_training_job)
    delete_training_job = _unary_method(rpcs.delete_training_job)
    pause_training_job = _unary_method(rpcs.pause_training_job)
    resume_training_job = _unary_method(rpcs.resume_training_job)
    generate = _stream_method(rpcs.generate)
    evaluate_model = _stream_method(rpcs.evaluate_model)
    list_evaluations = _unary_method(rpcs.list_evaluations)
    list_checkpoints = _unary_method(rpcs.list_checkpoints)
    stream_progress = _progress_method(rpcs.stream_progress)
    upload_file = _upload_method(rpcs.upload_file)
    get_upload_status = _unary_method(rpcs.get_upload_status)
    list_files = _unary_method(rpcs.list_files)
    delete_file = _unary_method(rpcs.delete_file)
    download_artifact = _stream_method(rpcs.download_artifact)
    export_model = _stream_method(rpcs.export_model)

    def download(self, job_id: str, path: str, destination: str | os.PathLike) -> Path:
        """Download a file of a job into `destination`, written whole or not at all.

        The bytes go to `<destination>.partial`, which a later call resumes from (and this one, after a dropped
        connection, as retry_policy allows); the file is renamed into place once its SHA-256 matches the
        server's (else DownloadChecksumError, and the partial file is removed).

        Args:
            job_id: the job.
            path: the file, relative to the job's directory, as download_artifact takes it.
            destination: the local file to write.

        Returns:
            Path: the destination.
        """
        retries = TransferRetries(self._retry_policy)
        while True:
            download = Download(destination)
            try:
                return download_into(download, self.download_artifact(job_id, path, offset=download.offset))
            except OutOfRangeError:
                if not download.offset:
                    raise
                download.restart()  # the partial file is longer than the server's: not a prefix of it
            except UnavailableError:  # the connection dropped: go on from the partial file
                wait = retries.backoff(Download(destination).offset)
                if wait is None:
                    raise
                time.sleep(wait)

    def iter_training_jobs(
        self, *, page_size: int = 0, states: Iterable[StateLike] = ()
    ) -> Iterator[job_pb2.TrainingJob]:
        """Every job, newest first, fetching further pages as the iteration reaches them.

        Args:
            page_size: jobs fetched per call, 0 to 1000; 0: 50.
            states: only jobs in these states (names like "running", or JobState values); empty: every state.
        """
        states = tuple(states)
        page_token = ""
        while True:
            page = self.list_training_jobs(page_size=page_size, page_token=page_token, states=states)
            yield from page.jobs
            page_token = page.next_page_token
            if not page_token:
                return

    def job(self, job_id: str) -> JobHandle:
        """A handle on the job `job_id`: get(), cancel(), progress(), checkpoints() and wait() without the id."""
        return JobHandle(self, job_id)

    def start_training_job(self, spec: SpecLike, *, request_id: str = "") -> JobHandle:
        """Submit a training job, as create_training_job does, and return its handle instead of the job.

        Args:
            spec: what to train: a TrainingJobSpec, or a dict in proto JSON form.
            request_id: idempotency key: a retry with the same key and spec returns the first job's handle.
        """
        return self.job(self.create_training_job(spec, request_id=request_id).job_id)

    def _job_now(self, job_id: str, deadline: float | None) -> job_pb2.TrainingJob:
        return self._unary(rpcs.get_training_job, rpcs.get_training_job.build(job_id), deadline)

    def _unary(self, rpc: Rpc[Any, Any, Resp], request: Message, deadline: float | None = None) -> Resp:
        method = getattr(self._stub, rpc.name)
        try:
            timeout = self._options.timeout_within(deadline)
            return method(request, timeout=timeout, metadata=self._options.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    def _upload(self, requests: Iterator[files_pb2.UploadFileRequest]) -> files_pb2.UploadedFile:
        try:  # no deadline: an upload takes as long as its bytes take
            return self._stub.UploadFile(requests, metadata=self._options.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    def _stream(self, rpc: Rpc[Any, Any, Resp], request: Message) -> Iterator[Resp]:
        call = getattr(self._stub, rpc.name)(request, metadata=self._options.metadata)
        try:
            yield from call
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()

    def _progress(self, first: ProgressRequest, deadline: float | None = None) -> Iterator[Progress]:
        """The events that `first` asks for, across reconnects; DeadlineExceededError past `deadline`."""
        cursor = ProgressCursor(first, self._retry_policy)
        while True:
            try:
                yield from self._stream_once(cursor, deadline)
                if cursor.finished:
                    return
                cursor.check_job(self._job_now(cursor.job_id, deadline))
                if cursor.finished:
                    return
                failure: DroidftError = cursor.ended_early_error()
            except DroidftError as error:
                if not cursor.is_retryable(error):
                    raise
                failure = error
            time.sleep(cursor.next_backoff(failure, deadline))

    def _stream_once(self, cursor: ProgressCursor, deadline: float | None) -> Iterator[Progress]:
        call = self._stub.StreamTrainingProgress(
            cursor.request(), timeout=seconds_left(deadline), metadata=self._options.metadata
        )
        try:
            for event in call:
                # The server ends the stream after the job's last event: a resumed job's log goes on past the
                # pause, failure or cancel it was resumed from.
                if cursor.accept(event):
                    yield event
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()
