"""Asynchronous (asyncio, grpc.aio) client of droidft.v1.TrainingService."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import Message

from droidft import rpcs
from droidft.call_options import DEFAULT_TARGET, CallOptions, MetadataLike, TlsLike, open_channel, seconds_left
from droidft.enums import StateLike
from droidft.errors import DroidftError, NotFoundError, OutOfRangeError, UnavailableError, from_rpc_error
from droidft.job_handle import AsyncJobHandle
from droidft.progress_stream import ProgressCursor, RetryPolicy
from droidft.rpcs import P, Req, Resp, Rpc
from droidft.specs import SpecLike
from droidft.transfers import Download, TransferRetries, download_into_async, resume_offset, upload_requests
from droidft.v1 import files_pb2, job_pb2, progress_pb2, service_pb2, service_pb2_grpc

ProgressRequest = service_pb2.StreamTrainingProgressRequest
Progress = progress_pb2.TrainingProgress


def _unary_method(rpc: Rpc[P, Req, Resp]) -> rpcs.AsyncUnaryCall[P, Req, Resp]:
    async def call(self: AsyncClient, *args: Any, **kwargs: Any) -> Resp:
        return await self._unary(rpc, rpc.request(*args, **kwargs))

    return rpc.method(call, "AsyncClient", rpc.response_name)


def _stream_method(rpc: Rpc[P, Req, Resp]) -> rpcs.AsyncStreamCall[P, Req, Resp]:
    async def call(self: AsyncClient, *args: Any, **kwargs: Any) -> AsyncIterator[Resp]:
        async for reply in self._stream(rpc, rpc.request(*args, **kwargs)):
            yield reply

    return rpc.method(call, "AsyncClient", f"AsyncIterator[{rpc.response_name}]")


def _progress_method(rpc: Rpc[P, ProgressRequest, Progress]) -> rpcs.AsyncStreamCall[P, ProgressRequest, Progress]:
    async def call(self: AsyncClient, *args: Any, **kwargs: Any) -> AsyncIterator[Progress]:
        async for event in self._progress(rpc.request(*args, **kwargs)):
            yield event

    return rpc.method(call, "AsyncClient", f"AsyncIterator[{rpc.response_name}]")


def _upload_method(rpc: Rpc[P, Req, Resp]) -> rpcs.AsyncUnaryCall[P, Req, Resp]:
    async def call(self: AsyncClient, *args: Any, **kwargs: Any) -> Resp:
        first = rpc.request(*args, **kwargs)
        if args and isinstance(args[0], Message):
            return await self._upload(iter([first]))
        path = args[0] if args else kwargs["path"]
        retries = TransferRetries(self._retry_policy)
        while True:
            offset = 0
            try:
                try:
                    status = await self.get_upload_status(first.start.upload_id)
                except NotFoundError:
                    status = None
                offset = resume_offset(first, status)
                return await self._upload(upload_requests(first, path, offset))
            except UnavailableError:  # the connection dropped: go on from what the server holds
                wait = retries.backoff(offset)
                if wait is None:
                    raise
                await asyncio.sleep(wait)

    return rpc.method(call, "AsyncClient", rpc.response_name)


class AsyncClient:
    """asyncio client with the same methods as droidft.Client, as coroutines and async iterators.

    The channel is opened on the first call, so that it belongs to the event loop
    that makes the calls (grpc.aio channels are bound to one loop); the client
    can therefore be built anywhere.

    Args:
        target: the server's "host:port".
        timeout: deadline in seconds of each unary call (streams last as long as the job); None: none.
        metadata: sent with every call, a dict or (key, value) pairs.
        token: the bearer token of a server that asks for one (its --auth-token-file); None: none.
        tls: TLS to the server: a droidft.Tls (a CA, a client certificate), True for the system's roots;
            None: plaintext.
        channel: a grpc.aio channel to use as is (then `target` and `tls` are ignored, and close() leaves it open).
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
        channel: grpc.aio.Channel | None = None,
        retry_policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._target = target
        self._tls = tls
        self._owns_channel = channel is None
        self._channel = channel
        self._opened_stub: service_pb2_grpc.TrainingServiceStub | None = None
        self._options = CallOptions.of(timeout, metadata, token)
        self._retry_policy = retry_policy

    @property
    def _stub(self) -> service_pb2_grpc.TrainingServiceStub:
        if self._opened_stub is None:
            if self._channel is None:
                self._channel = open_channel(self._target, self._tls, asyncio=True)
            self._opened_stub = service_pb2_grpc.TrainingServiceStub(self._channel)
        return self._opened_stub

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel, unless it was given to the constructor."""
        if self._owns_channel and self._channel is not None:
            await self._channel.close()

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

    async def download(self, job_id: str, path: str, destination: str | os.PathLike) -> Path:
        """Download a file of a job into `destination`, written whole or not at all, as Client.download.

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
                return await download_into_async(download, self.download_artifact(job_id, path, offset=download.offset))
            except OutOfRangeError:
                if not download.offset:
                    raise
                download.restart()  # the partial file is longer than the server's: not a prefix of it
            except UnavailableError:  # the connection dropped: go on from the partial file
                wait = retries.backoff(Download(destination).offset)
                if wait is None:
                    raise
                await asyncio.sleep(wait)

    async def iter_training_jobs(
        self, *, page_size: int = 0, states: Iterable[StateLike] = ()
    ) -> AsyncIterator[job_pb2.TrainingJob]:
        """Every job, newest first, fetching further pages as the iteration reaches them.

        Args:
            page_size: jobs fetched per call, 0 to 1000; 0: 50.
            states: only jobs in these states (names like "running", or JobState values); empty: every state.
        """
        states = tuple(states)
        page_token = ""
        while True:
            page = await self.list_training_jobs(page_size=page_size, page_token=page_token, states=states)
            for job in page.jobs:
                yield job
            page_token = page.next_page_token
            if not page_token:
                return

    def job(self, job_id: str) -> AsyncJobHandle:
        """A handle on the job `job_id`: get(), cancel(), progress(), checkpoints() and wait() without the id."""
        return AsyncJobHandle(self, job_id)

    async def start_training_job(self, spec: SpecLike, *, request_id: str = "") -> AsyncJobHandle:
        """Submit a training job, as create_training_job does, and return its handle instead of the job.

        Args:
            spec: what to train: a TrainingJobSpec, or a dict in proto JSON form.
            request_id: idempotency key: a retry with the same key and spec returns the first job's handle.
        """
        return self.job((await self.create_training_job(spec, request_id=request_id)).job_id)

    async def _job_now(self, job_id: str, deadline: float | None) -> job_pb2.TrainingJob:
        return await self._unary(rpcs.get_training_job, rpcs.get_training_job.build(job_id), deadline)

    async def _unary(self, rpc: Rpc[Any, Any, Resp], request: Message, deadline: float | None = None) -> Resp:
        method = getattr(self._stub, rpc.name)
        try:
            timeout = self._options.timeout_within(deadline)
            return await method(request, timeout=timeout, metadata=self._options.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    async def _upload(self, requests: Iterator[files_pb2.UploadFileRequest]) -> files_pb2.UploadedFile:
        try:  # no deadline: an upload takes as long as its bytes take
            return await self._stub.UploadFile(requests, metadata=self._options.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    async def _stream(self, rpc: Rpc[Any, Any, Resp], request: Message) -> AsyncIterator[Resp]:
        call = getattr(self._stub, rpc.name)(request, metadata=self._options.metadata)
        try:
            async for reply in call:
                yield reply
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()

    async def _progress(self, first: ProgressRequest, deadline: float | None = None) -> AsyncIterator[Progress]:
        """The events that `first` asks for, across reconnects like Client's; DeadlineExceededError past `deadline`."""
        cursor = ProgressCursor(first, self._retry_policy)
        while True:
            try:
                async for event in self._stream_once(cursor, deadline):
                    yield event
                if cursor.finished:
                    return
                cursor.check_job(await self._job_now(cursor.job_id, deadline))
                if cursor.finished:
                    return
                failure: DroidftError = cursor.ended_early_error()
            except DroidftError as error:
                if not cursor.is_retryable(error):
                    raise
                failure = error
            await asyncio.sleep(cursor.next_backoff(failure, deadline))

    async def _stream_once(self, cursor: ProgressCursor, deadline: float | None) -> AsyncIterator[Progress]:
        call = self._stub.StreamTrainingProgress(
            cursor.request(), timeout=seconds_left(deadline), metadata=self._options.metadata
        )
        try:
            async for event in call:
                # The server ends the stream after the job's last event: a resumed job's log goes on past the
                # pause, failure or cancel it was resumed from.
                if cursor.accept(event):
                    yield event
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()
