"""Every droidft RPC goes through here: its request is checked against the .proto rules, and any
error leaves as a rich status, so no servicer repeats either and no request can crash the server."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import structlog

from ..domain.errors import DroidftError
from .errors import internal_status, to_status
from .validation import check_request

SERVICE_PREFIX = "/droidft.v1."

log = structlog.get_logger("droidft.rpc")


def _abort(context: grpc.ServicerContext, method: str, error: Exception):
    if isinstance(error, DroidftError):
        log.info("rpc_error", method=method, reason=error.reason_name, message=error.message)
        context.abort_with_status(to_status(error))
    log.exception("rpc_internal_error", method=method)
    context.abort_with_status(internal_status(f"internal error in {method}: {type(error).__name__}"))


def _guard_unary(method: str, behaviour: Callable):
    def handle(request, context):
        try:
            check_request(request)
            return behaviour(request, context)
        except Exception as error:
            _abort(context, method, error)

    return handle


def _guard_stream(method: str, behaviour: Callable):
    def handle(request, context):
        try:
            check_request(request)
            yield from behaviour(request, context)
        except Exception as error:
            _abort(context, method, error)

    return handle


class GuardInterceptor(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(SERVICE_PREFIX):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _guard_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _guard_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
