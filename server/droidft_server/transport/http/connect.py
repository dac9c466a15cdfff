"""droidft.v1.TrainingService over HTTP/1.1 for browsers: the Connect protocol and gRPC-Web.

Not a second service: each call goes through the very handlers the gRPC port builds, with the same
interceptors (request log and metrics, bearer tokens, the .proto rules, the stream limit, rich errors)
and the same servicer. Only the framing differs. This module speaks

- Connect unary (`application/proto`, `application/json`) and server-streaming
  (`application/connect+proto`, `application/connect+json`) calls, errors as Connect's error JSON
  (`code`, `message`, `details` with each google.rpc detail as `type` and base64 `value`);
- gRPC-Web, binary (`application/grpc-web`, `application/grpc-web+proto`): messages and a trailer frame
  with `grpc-status`, `grpc-message` and `grpc-status-details-bin`, as the gRPC port sends them.

Not supported, refused with a Connect error that says so: compressed requests, Connect GET requests,
client streaming (no droidft RPC streams requests). `connect-timeout-ms` is not enforced: a browser
that gives up closes the request, which cancels the call like a gRPC cancel.

It runs on the gRPC server's own event loop, so handlers see the same thread pool and run exactly as
they do for a gRPC caller.
"""

from __future__ import annotations

import base64
import inspect
import json
import struct
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
from aiohttp import web
from google.protobuf import json_format, message_factory
from google.rpc import code_pb2, status_pb2

from droidft.v1 import service_pb2

from ...domain.errors import FieldViolation, invalid_argument
from ..errors import to_status

SERVICE = service_pb2.DESCRIPTOR.services_by_name["TrainingService"]
STATUS_DETAILS_KEY = "grpc-status-details-bin"

# Connect's HTTP status for each code (connectrpc.com/docs/protocol, "Error Codes").
HTTP_STATUS = {
    "canceled": 499,
    "unknown": 500,
    "invalid_argument": 400,
    "deadline_exceeded": 504,
    "not_found": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "resource_exhausted": 429,
    "failed_precondition": 400,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "data_loss": 500,
    "unauthenticated": 401,
}

_END_STREAM = 0x02  # Connect's flag of the last envelope, which holds the end-of-stream JSON
_TRAILERS = 0x80  # gRPC-Web's flag of the trailer frame
_COMPRESSED = 0x01


def connect_code(code: grpc.StatusCode) -> str:
    """Connect's name of a gRPC status code ("invalid_argument"; CANCELLED is "canceled")."""
    return "canceled" if code == grpc.StatusCode.CANCELLED else code.name.lower()


class CallAborted(grpc.aio.AbortError):
    """A handler ended the call with a status (context.abort_with_status), as grpc.aio would."""

    def __init__(self, status: grpc.Status):
        super().__init__(status.code, status.details)
        self.status = status


@dataclass(frozen=True)
class _CallDetails(grpc.HandlerCallDetails):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class HttpCallContext:
    """The part of grpc.aio's ServicerContext droidft's interceptors and servicer use, for an HTTP call."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]):
        self._metadata = metadata
        self._code: grpc.StatusCode | None = None
        self._done: list[Callable] = []

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def code(self) -> grpc.StatusCode | None:
        return self._code

    async def abort_with_status(self, status: grpc.Status):
        self._code = status.code
        raise CallAborted(status)

    def add_done_callback(self, callback: Callable) -> None:
        self._done.append(callback)

    def finish(self) -> None:
        """The call ended, however: done callbacks run (work done for the caller stops)."""
        callbacks, self._done = self._done, []
        for callback in callbacks:
            callback(self)


def _terminal_handlers(servicer) -> dict[str, grpc.RpcMethodHandler]:
    """The service's handlers as grpc.aio builds them from the servicer, keyed by /package.Service/Method."""
    handlers = {}
    for method in SERVICE.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[f"/{SERVICE.full_name}/{method.name}"] = make(
            getattr(servicer, method.name),
            request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString,
        )
    return handlers


class ServiceHandlers:
    """Each call's handler through the gRPC server's interceptors, in their order, as grpc.aio resolves it."""

    def __init__(self, servicer, interceptors: Sequence[grpc.aio.ServerInterceptor]):
        self._handlers = _terminal_handlers(servicer)
        self._interceptors = tuple(interceptors)
        self.methods = {f"/{SERVICE.full_name}/{m.name}": m for m in SERVICE.methods}

    async def resolve(self, details: _CallDetails) -> grpc.RpcMethodHandler | None:
        async def terminal(call_details):
            return self._handlers.get(call_details.method)

        continuation = terminal
        for interceptor in reversed(self._interceptors):
            continuation = _bind(interceptor, continuation)
        return await continuation(details)


async def _responses(handler: grpc.RpcMethodHandler, request, context: HttpCallContext):
    """The messages of a server-streaming handler; one that answers through its context instead (the token
    check's refusal) is awaited, as grpc.aio does."""
    called = handler.unary_stream(request, context)
    if inspect.isawaitable(called):
        await called
        return
    async for message in called:
        yield message


def _bind(interceptor, continuation):
    async def call(details):
        return await interceptor.intercept_service(continuation, details)

    return call


# --- errors -------------------------------------------------------------------------------------------


def _rich_status(status: grpc.Status) -> status_pb2.Status:
    for key, value in status.trailing_metadata or ():
        if key == STATUS_DETAILS_KEY:
            return status_pb2.Status.FromString(value)
    return status_pb2.Status(code=status.code.value[0], message=status.details or "")


def _unpadded(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def connect_error(status: grpc.Status) -> dict:
    """Connect's error JSON: the code, the message and each google.rpc detail (type and base64 value)."""
    rich = _rich_status(status)
    error: dict = {"code": connect_code(status.code), "message": rich.message}
    details = [
        {"type": detail.type_url.rpartition("/")[2], "value": _unpadded(detail.value)} for detail in rich.details
    ]
    if details:
        error["details"] = details
    return error


def _refusal(violation: str, rule: str) -> CallAborted:
    return CallAborted(to_status(invalid_argument([FieldViolation("", violation, rule)])))


def _unimplemented(message: str) -> grpc.Status:
    rich = status_pb2.Status(code=code_pb2.UNIMPLEMENTED, message=message)
    return _status(grpc.StatusCode.UNIMPLEMENTED, rich)


def _status(code: grpc.StatusCode, rich: status_pb2.Status) -> grpc.Status:
    return _Status(code, rich.message, ((STATUS_DETAILS_KEY, rich.SerializeToString()),))


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple


# --- the protocols ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Codec:
    json: bool

    def decode(self, data: bytes, request_class):
        if not self.json:
            return data  # the handler's own (tolerant) deserializer parses it
        try:
            return json_format.Parse(data.decode() or "{}", request_class()).SerializeToString()
        except (json_format.ParseError, UnicodeDecodeError) as error:
            raise _refusal(f"the request body is not a valid JSON message of its type: {error}", "parsable") from None

    def encode(self, message) -> bytes:
        if not self.json:
            return message.SerializeToString()
        return json_format.MessageToJson(message, indent=None).encode()


def _envelope(flags: int, data: bytes) -> bytes:
    return struct.pack(">BI", flags, len(data)) + data


def _unenvelope(body: bytes) -> bytes:
    """The one message of an enveloped request body (a server-streaming call sends exactly one)."""
    if len(body) < 5:
        raise _refusal("the request body holds no enveloped message", "parsable")
    flags, length = struct.unpack(">BI", body[:5])
    if flags & _COMPRESSED:
        raise CallAborted(_unimplemented("compressed requests are not supported; send them uncompressed"))
    if len(body) != 5 + length:
        raise _refusal("the request body must hold exactly one enveloped message", "parsable")
    return body[5:]


def _grpc_web_trailers(status: grpc.Status | None) -> bytes:
    if status is None:
        return _envelope(_TRAILERS, b"grpc-status: 0\r\n")
    rich = _rich_status(status)
    lines = [
        f"grpc-status: {status.code.value[0]}",
        f"grpc-message: {urllib.parse.quote(rich.message, safe=' ')}",
        f"{STATUS_DETAILS_KEY}: {base64.b64encode(rich.SerializeToString()).decode()}",
    ]
    return _envelope(_TRAILERS, ("\r\n".join(lines) + "\r\n").encode())


_HOP_HEADERS = {"content-type", "content-length", "connection", "host", "accept-encoding", "te", "cookie"}


def _metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    """The request's headers as gRPC metadata, lower case (authorization, x-request-id, ...)."""
    return tuple(
        (key.lower(), value)
        for key, value in request.headers.items()
        if key.lower() not in _HOP_HEADERS and not key.lower().startswith("connect-")
    )


class ConnectRoutes:
    """aiohttp handlers of POST /droidft.v1.TrainingService/<Method>."""

    def __init__(self, handlers: ServiceHandlers):
        self._handlers = handlers

    def add_to(self, app: web.Application) -> None:
        app.router.add_post(f"/{SERVICE.full_name}/{{method}}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = f"/{SERVICE.full_name}/{request.match_info['method']}"
        content_type = request.content_type
        grpc_web = content_type in ("application/grpc-web", "application/grpc-web+proto")
        streaming_envelope = grpc_web or content_type.startswith("application/connect+")
        codec = _Codec(json=content_type.endswith("json"))
        method = self._handlers.methods.get(path)
        if not grpc_web and content_type not in (
            "application/proto",
            "application/json",
            "application/connect+proto",
            "application/connect+json",
        ):
            return web.Response(status=415, text=f"unsupported content type {content_type!r}")
        if method is not None and streaming_envelope != method.server_streaming and not grpc_web:
            kind = "server-streaming" if method.server_streaming else "unary"
            return self._unary_error(_unimplemented(f"{path} is {kind}: send it as a Connect {kind} call"))
        if method is None:
            status = _unimplemented(f"no method {path}")
            return await self._grpc_web(request, None, path, None) if grpc_web else self._unary_error(status)
        context = HttpCallContext(_metadata(request))
        try:
            if grpc_web:
                return await self._grpc_web(request, method, path, context)
            if method.server_streaming:
                return await self._stream(request, method, path, context, codec)
            return await self._unary(request, method, path, context, codec)
        finally:
            context.finish()

    async def _handler(self, path: str, context: HttpCallContext):
        return await self._handlers.resolve(_CallDetails(path, context.invocation_metadata()))

    async def _request(self, request: web.Request, method, codec: _Codec, enveloped: bool):
        if request.headers.get("content-encoding", "identity") != "identity" or (
            not enveloped and request.headers.get("connect-content-encoding", "identity") != "identity"
        ):
            raise CallAborted(_unimplemented("compressed requests are not supported; send them uncompressed"))
        body = await request.read()
        if enveloped:
            body = _unenvelope(body)
        return codec.decode(body, message_factory.GetMessageClass(method.input_type))

    def _unary_error(self, status: grpc.Status) -> web.Response:
        error = connect_error(status)
        return web.json_response(error, status=HTTP_STATUS[error["code"]])

    async def _unary(self, request, method, path, context, codec) -> web.Response:
        try:
            handler = await self._handler(path, context)
            body = await self._request(request, method, codec, enveloped=False)
            response = await handler.unary_unary(handler.request_deserializer(body), context)
        except CallAborted as aborted:
            return self._unary_error(aborted.status)
        content_type = "application/json" if codec.json else "application/proto"
        return web.Response(body=codec.encode(response), content_type=content_type)

    async def _stream(self, request, method, path, context, codec) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": request.content_type})
        end: dict = {}
        try:
            handler = await self._handler(path, context)
            body = await self._request(request, method, codec, enveloped=True)
            messages = _responses(handler, handler.request_deserializer(body), context)
            await response.prepare(request)
            async for message in messages:
                await response.write(_envelope(0, codec.encode(message)))
        except CallAborted as aborted:
            end = {"error": connect_error(aborted.status)}
        if not response.prepared:
            await response.prepare(request)
        await response.write(_envelope(_END_STREAM, json.dumps(end).encode()))
        await response.write_eof()
        return response

    async def _grpc_web(self, request, method, path, context) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "application/grpc-web+proto"})
        status = None
        try:
            if method is None:
                raise CallAborted(_unimplemented(f"no method {path}"))
            handler = await self._handler(path, context)
            body = await self._request(request, method, _Codec(json=False), enveloped=True)
            request_message = handler.request_deserializer(body)
            await response.prepare(request)
            if method.server_streaming:
                async for message in _responses(handler, request_message, context):
                    await response.write(_envelope(0, message.SerializeToString()))
            else:
                message = await handler.unary_unary(request_message, context)
                await response.write(_envelope(0, message.SerializeToString()))
        except CallAborted as aborted:
            status = aborted.status
        if not response.prepared:
            await response.prepare(request)
        await response.write(_grpc_web_trailers(status))
        await response.write_eof()
        return response
