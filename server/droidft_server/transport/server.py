"""The gRPC server: the droidft service plus health checking and reflection, on grpc.aio.

The server runs on an event loop of its own thread, so the rest of the process (the job manager,
the runner's relay threads, main and the tests) stays synchronous. Streams are coroutines, so an
open StreamTrainingProgress costs no thread; blocking domain calls run on the loop's thread pool
of --rpc-threads threads.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from concurrent import futures
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from droidft.v1 import service_pb2, service_pb2_grpc

from .auth import AuthInterceptor, TokenFile
from .interceptor import GuardInterceptor, RequestLogInterceptor, StreamCount

if TYPE_CHECKING:
    from .http.server import HttpPort
    from .metrics import Metrics

SERVICE_NAME = service_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name
HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# ValidateDataset takes up to 64 MiB of inline data and GenerateSampleData returns as much.
MESSAGE_LIMIT_BYTES = 80 * 2**20
DEFAULT_MAX_STREAMS = 10_000
PENDING_UNARY_CALLS = 1_000  # calls beside the streams that may wait to be taken at once
# Keepalive: the server pings an idle connection every 30 s and drops it when no answer comes within
# 10 s, so a client that vanished (a closed laptop, a dead NAT entry) stops holding its streams. It
# lets clients ping every 10 s at the most, even with no call open (the clients ping every 30 s).
KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 2),
]


class BoundServer:
    """A started server: its port, and stop() for synchronous callers."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        server: grpc.aio.Server,
        port: int,
        health_servicer,
        guard: GuardInterceptor,
        http: HttpPort | None = None,
    ):
        self.port = port
        self.http_port = http.port if http is not None else None
        self._http = http
        self._loop, self._thread, self._server = loop, thread, server
        self._health = health_servicer
        self._guard = guard

    @property
    def open_streams(self) -> StreamCount:
        return self._guard.open_streams

    def set_serving(self, serving: bool) -> None:
        """What health checks answer from now on (called from any thread but the loop's)."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            if not self._loop.is_closed():
                asyncio.run_coroutine_threadsafe(self._health.set(name, status), self._loop)

    def stop(self, grace: float) -> None:
        """Health says NOT_SERVING, calls in flight get `grace` seconds, then every call is cancelled."""

        async def stop() -> None:
            await self._health.enter_graceful_shutdown()
            if self._http is not None:
                await self._http.stop()
            await self._server.stop(grace)

        if not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()


def start_server(
    servicer,
    listen: str,
    *,
    max_workers: int,
    tokens: TokenFile | None = None,
    credentials: grpc.ServerCredentials | None = None,
    max_streams: int = DEFAULT_MAX_STREAMS,
    metrics: Metrics | None = None,
    http_listen: str | None = None,
    http_ssl: ssl.SSLContext | None = None,
) -> BoundServer:
    """Serve on `listen` (HOST:PORT, port 0 picks a free one) and return once it serves.

    With `tokens`, every call but health checks needs one of them; with `credentials`, the port speaks TLS.
    With `http_listen`, the same service also answers browsers there (Connect, gRPC-Web) through the same
    interceptors and servicer, beside the web console; `http_ssl` makes that port HTTPS.
    """
    loop = asyncio.new_event_loop()
    loop.set_default_executor(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="droidft-rpc"))
    thread = threading.Thread(target=loop.run_forever, name="droidft-grpc", daemon=True)
    thread.start()
    guard = GuardInterceptor(max_streams)
    # Authentication before anything else: a caller without a token learns nothing, not even whether its
    # request is valid.
    interceptors = [RequestLogInterceptor(metrics), *([AuthInterceptor(tokens)] if tokens is not None else []), guard]

    async def start():
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", MESSAGE_LIMIT_BYTES),
                ("grpc.max_send_message_length", MESSAGE_LIMIT_BYTES),
                *KEEPALIVE_OPTIONS,
                # gRPC cancels calls that wait for the server to take them past 1,000 (its default): a
                # burst of watchers (2,000 opening at once, measured) lost some streams as CANCELLED.
                # --max-streams is the limit that answers with a reason instead.
                ("grpc.server.max_pending_requests", max_streams + PENDING_UNARY_CALLS),
                ("grpc.server.max_pending_requests_hard_limit", 2 * (max_streams + PENDING_UNARY_CALLS)),
            ],
        )
        service_pb2_grpc.add_TrainingServiceServicer_to_server(servicer, server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection((SERVICE_NAME, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME), server)
        port = server.add_secure_port(listen, credentials) if credentials else server.add_insecure_port(listen)
        if port == 0:
            raise OSError(f"cannot listen on {listen}")
        await server.start()
        http = None
        if http_listen:
            # Imported here: aiohttp is a fifth of the server's start-up, and most servers run without this port.
            from .http.server import start_http

            http = await start_http(servicer, interceptors, http_listen, MESSAGE_LIMIT_BYTES, http_ssl)
        for name in ("", SERVICE_NAME):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        return server, port, health_servicer, http

    try:
        server, port, health_servicer, http = asyncio.run_coroutine_threadsafe(start(), loop).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        raise
    return BoundServer(loop, thread, server, port, health_servicer, guard, http)
