"""The HTTP port (--http-listen): the web console at `/` and the service for browsers (Connect, gRPC-Web).

It is an aiohttp server on the gRPC server's event loop; every call goes through the gRPC port's
interceptors and servicer (connect.py). The console is the page clients/typescript/console builds into
static/ (`make setup` builds it); without it `/` says how to build it.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

import grpc
from aiohttp import web

from .connect import ConnectRoutes, ServiceHandlers

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_FILES = {"/": "index.html", "/console.js": "console.js"}
# A page that sends requests to the port may come only from the port itself; no other site may frame it.
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


async def _console_file(request: web.Request) -> web.StreamResponse:
    path = STATIC_DIR / CONSOLE_FILES[request.path]
    if not path.is_file():
        return web.Response(
            status=404, text="the console is not built: run `make setup` (it builds clients/typescript/console)\n"
        )
    return web.FileResponse(path, headers=PAGE_HEADERS)  # sent from the file, without blocking the loop


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)  # the console has none; the browser stops asking


def console_app(
    servicer, interceptors: Sequence[grpc.aio.ServerInterceptor], message_limit_bytes: int
) -> web.Application:
    app = web.Application(client_max_size=message_limit_bytes)  # the gRPC port's limit on a request
    ConnectRoutes(ServiceHandlers(servicer, interceptors)).add_to(app)
    for route in CONSOLE_FILES:
        app.router.add_get(route, _console_file)
    app.router.add_get("/favicon.ico", _no_icon)
    return app


class HttpPort:
    """The started HTTP port on a running loop: its bound port, and stop()."""

    def __init__(self, runner: web.AppRunner, port: int):
        self._runner = runner
        self.port = port

    async def stop(self) -> None:
        await self._runner.cleanup()


async def start_http(
    servicer,
    interceptors: Sequence[grpc.aio.ServerInterceptor],
    listen: str,
    message_limit_bytes: int,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpPort:
    """Serve on `listen` (HOST:PORT, port 0 picks a free one); run on the gRPC server's loop."""
    host, _, port = listen.rpartition(":")
    # A browser that closes a stream cancels its handler, so the call's work stops as a gRPC cancel does.
    app = console_app(servicer, interceptors, message_limit_bytes)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]") or None, int(port), ssl_context=ssl_context)
    await site.start()
    return HttpPort(runner, runner.addresses[0][1])
