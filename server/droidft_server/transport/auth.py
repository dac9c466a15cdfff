"""Who may call: bearer tokens from a file, checked on every RPC but health.

The token file holds one token a line, optionally named (`name:token`); blank lines and lines
starting with `#` are skipped. A token without a name is known by its line (`line-3`), never by
its value: tokens appear in no log and no error, and the name is what a job records as its creator.
`reload()` (on SIGHUP) swaps in the file's new tokens at once; a file that cannot be read then keeps
the tokens already loaded.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import grpc
import structlog

from ..domain.errors import DroidftError, ErrorKind, Reason
from .errors import to_status
from .interceptor import wrap_handler

HEALTH_PREFIX = "/grpc.health.v1.Health/"
BEARER = "bearer "

log = structlog.get_logger("droidft.auth")


class TokenFileError(ValueError):
    """The token file is missing, unreadable, or holds no token."""


def parse_tokens(text: str) -> list[tuple[str, str]]:
    """(name, token) of each token line."""
    tokens = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, token = line.partition(":")  # a token holding ":" must be named
        if not separator:
            name, token = f"line-{number}", line
        if not token or not name:
            raise TokenFileError(f"line {number}: give a token, or name:token")
        tokens.append((name, token))
    return tokens


class TokenFile:
    def __init__(self, path: Path):
        self._path = path
        self._lock = threading.Lock()
        self._tokens = self._read()

    def _read(self) -> list[tuple[str, bytes]]:
        try:
            tokens = parse_tokens(self._path.read_text())
        except OSError as error:
            raise TokenFileError(f"cannot read the token file {self._path}: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise TokenFileError(f"the token file {self._path} is not UTF-8 text (byte {error.start})") from None
        if not tokens:
            raise TokenFileError(f"the token file {self._path} holds no token")
        return [(name, token.encode()) for name, token in tokens]

    def reload(self) -> None:
        try:
            tokens = self._read()
        except TokenFileError as error:
            log.warning("token_file_not_reloaded", reason=str(error))
            return
        with self._lock:
            self._tokens = tokens
        log.info("token_file_reloaded", tokens=len(tokens), names=[name for name, _ in tokens])

    def caller(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
        """The name of the caller's token, or None when it sent none the file holds."""
        presented = _bearer(metadata)
        if presented is None:
            return None
        with self._lock:
            tokens = self._tokens
        found = None
        for name, token in tokens:  # every token compared, in constant time: no timing tells which matched
            if hmac.compare_digest(presented, token):
                found = name
        return found


def _bearer(metadata: Iterable[tuple[str, str | bytes]] | None) -> bytes | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value[: len(BEARER)].lower() == BEARER:
            return value[len(BEARER) :].strip().encode()
    return None


def _refusal(method: str) -> Callable:
    status = to_status(
        DroidftError(
            ErrorKind.UNAUTHENTICATED,
            Reason.AUTHENTICATION_REQUIRED,
            f"{method} needs an `authorization: Bearer <token>` header with a token the server knows",
        )
    )

    async def refuse(request_or_iterator, context):
        await context.abort_with_status(status)

    return refuse


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses every call but health checks whose bearer token the token file does not hold."""

    def __init__(self, tokens: TokenFile):
        self._tokens = tokens

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        if method.startswith(HEALTH_PREFIX) or self._tokens.caller(handler_call_details.invocation_metadata):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        log.info("rpc_unauthenticated", method=method)  # never the token it sent
        refuse = _refusal(method)

        def refused(behaviour: Callable) -> Callable:
            return refuse

        return wrap_handler(handler, refused, refused, client_streaming=refused)
