"""Every droidft RPC goes through here: it gets a request id in the logs, its request is checked
against the .proto rules, a stream past --max-streams is refused, and any error leaves as a rich
status, so no servicer repeats any of it and no request can crash the server."""

from __future__ import annotations

import inspect
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
import structlog

from ..domain.errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument
from .errors import internal_status, to_status
from .validation import check_request

if TYPE_CHECKING:
    from .metrics import Metrics

SERVICE_PREFIX = "/droidft.v1."
REQUEST_ID_KEY = "x-request-id"  # a client may send its own, to find its calls in the server's logs

log = structlog.get_logger("droidft.rpc")


_HANDLER_KINDS = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler),
    ("unary_stream", grpc.unary_stream_rpc_method_handler),
    ("stream_unary", grpc.stream_unary_rpc_method_handler),
    ("stream_stream", grpc.stream_stream_rpc_method_handler),
)


def wrap_handler(
    handler: grpc.RpcMethodHandler,
    unary: Callable,
    stream: Callable,
    deserializer: Callable | None = None,
    client_streaming: Callable | None = None,
) -> grpc.RpcMethodHandler:
    """The handler with its behaviour wrapped: `unary` for unary calls, `stream` for server-streaming ones,
    `client_streaming` for the two kinds whose requests stream (reflection); without it those stay as they are."""
    wrappers = {"unary_unary": unary, "unary_stream": stream}
    wrappers |= {"stream_unary": client_streaming, "stream_stream": client_streaming}
    for kind, make in _HANDLER_KINDS:
        behaviour = getattr(handler, kind)
        if behaviour is not None:
            if wrappers[kind] is None:
                return handler
            return make(
                wrappers[kind](behaviour),
                request_deserializer=deserializer or handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


def _request_id(handler_call_details) -> str:
    for key, value in handler_call_details.invocation_metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable():
            return value
    return uuid.uuid4().hex[:16]


class RequestLogInterceptor(grpc.aio.ServerInterceptor):
    """One `rpc` log line a call: method, status code, milliseconds, and the request id every line it
    causes carries (the id comes from the caller's x-request-id, or is made here); and the call counted
    in the metrics, when the server has them."""

    def __init__(self, metrics: Metrics | None = None):
        self._metrics = metrics

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        request_id = _request_id(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is None:
            return None

        def unary(behaviour):
            async def handle(request, context):
                started = time.perf_counter()
                structlog.contextvars.bind_contextvars(request_id=request_id)
                try:
                    return await behaviour(request, context)
                finally:
                    self._record(method, context, started)

            return handle

        def stream(behaviour):
            if not inspect.isasyncgenfunction(behaviour):  # a handler that writes through its context (health)
                return unary(behaviour)

            async def handle(request, context):
                started = time.perf_counter()
                structlog.contextvars.bind_contextvars(request_id=request_id)
                try:
                    async for response in behaviour(request, context):
                        yield response
                finally:
                    self._record(method, context, started)

            return handle

        return wrap_handler(handler, unary, stream, client_streaming=stream)

    def _record(self, method: str, context, started: float) -> None:
        seconds = time.perf_counter() - started
        code = getattr(context.code(), "name", None) or "OK"
        log.info("rpc", method=method, code=code, ms=round(seconds * 1000, 2))
        if self._metrics is not None:
            self._metrics.observe_call(method, code, seconds)


async def _abort(context: grpc.aio.ServicerContext, method: str, error: Exception):
    if isinstance(error, DroidftError):
        log.info("rpc_error", method=method, reason=error.reason_name, message=error.message)
        await context.abort_with_status(to_status(error))
    log.exception("rpc_internal_error", method=method)
    await context.abort_with_status(internal_status(f"internal error in {method}: {type(error).__name__}"))


class StreamCount:
    """Streams open now; readable (and awaitable) from any thread, for metrics and shutdown."""

    def __init__(self):
        self._changed = threading.Condition()
        self.value = 0

    def add(self, delta: int) -> None:
        with self._changed:
            self.value += delta
            self._changed.notify_all()

    def wait_for(self, predicate, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.value), timeout)


class Unparsable:
    """A request body that is not a message of the call's request type."""

    def __init__(self, error: Exception):
        self.error = error


def _tolerant(deserialize: Callable) -> Callable:
    # gRPC answers a body its deserializer rejects with UNKNOWN; here it becomes INVALID_ARGUMENT.
    def parse(body: bytes):
        try:
            return deserialize(body)
        except Exception as error:
            return Unparsable(error)

    return parse


def _check(request) -> None:
    if isinstance(request, Unparsable):
        raise invalid_argument(
            [FieldViolation("", f"the request body is not a valid message of its type: {request.error}", "parsable")]
        )
    check_request(request)


class GuardInterceptor(grpc.aio.ServerInterceptor):
    """The .proto rules, the stream limit and the error mapping of every droidft.v1 call."""

    def __init__(self, max_streams: int):
        self._max_streams = max_streams
        self.open_streams = StreamCount()

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(SERVICE_PREFIX):
            return handler

        def unary(behaviour):
            async def handle(request, context):
                try:
                    _check(request)
                    return await behaviour(request, context)
                except grpc.aio.AbortError:
                    raise
                except Exception as error:
                    await _abort(context, method, error)

            return handle

        def stream(behaviour):
            async def handle(request, context):
                try:
                    _check(request)
                    if self.open_streams.value >= self._max_streams:
                        raise DroidftError(
                            ErrorKind.RESOURCE_EXHAUSTED,
                            Reason.TOO_MANY_STREAMS,
                            f"the server already serves {self.open_streams.value} streams, its --max-streams; "
                            "retry later or close a stream",
                            {"max_streams": str(self._max_streams)},
                        )
                    self.open_streams.add(1)  # checked and counted on the loop's one thread: no race
                    try:
                        async for response in behaviour(request, context):
                            yield response
                    finally:
                        self.open_streams.add(-1)
                except grpc.aio.AbortError:
                    raise
                except Exception as error:
                    await _abort(context, method, error)

            return handle

        def client_streaming(behaviour):
            if inspect.isasyncgenfunction(behaviour):  # droidft.v1 has no bidirectional call
                return behaviour

            async def handle(requests, context):
                async def checked():
                    async for request in requests:
                        _check(request)
                        yield request

                try:
                    return await behaviour(checked(), context)
                except grpc.aio.AbortError:
                    raise
                except Exception as error:
                    await _abort(context, method, error)

            return handle

        return wrap_handler(handler, unary, stream, _tolerant(handler.request_deserializer), client_streaming)
