"""Settings every call of a client carries (deadline, metadata, the bearer token), how its channel is
opened (plaintext or TLS), and the deadlines of calls that must end in time (JobHandle.wait)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

MetadataLike = Mapping[str, str] | Iterable[tuple[str, str]] | None

DEFAULT_TARGET = "localhost:50051"

# Sample data and inline data sets may be tens of MiB (up to 64 MiB of JSONL by the contract);
# gRPC's default 4 MiB receive limit would refuse them.
MAX_MESSAGE_BYTES = 128 * 1024 * 1024
# Keepalive while a call is open: a ping every 30 s, the connection given up 10 s after an unanswered
# one, so a progress stream notices a vanished server (or network) instead of waiting forever. Pings
# go even when no data flows: a stream may be quiet for minutes between events. The server allows
# a ping every 10 s.
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 0),
)


@dataclass(frozen=True)
class Tls:
    """TLS to the server.

    Args:
        ca_file: PEM of the CA that signed the server's certificate; None: the system's trusted roots.
        cert_file: PEM of this client's certificate chain, for a server that asks for one (mutual TLS).
        key_file: PEM of that certificate's private key.
        server_name: the name to check the server's certificate for, when it is not the target's host.
    """

    ca_file: str | os.PathLike | None = None
    cert_file: str | os.PathLike | None = None
    key_file: str | os.PathLike | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give both cert_file and key_file for a client certificate, or neither")
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file),
            private_key=_read(self.key_file),
            certificate_chain=_read(self.cert_file),
        )

    def channel_options(self) -> tuple[tuple[str, str], ...]:
        return (("grpc.ssl_target_name_override", self.server_name),) if self.server_name else ()


def _read(path: str | os.PathLike | None) -> bytes | None:
    return Path(path).read_bytes() if path is not None else None


TlsLike = Tls | bool | None  # True: TLS with the system's roots; None or False: plaintext


def open_channel(target: str, tls: TlsLike, *, asyncio: bool = False) -> grpc.Channel | grpc.aio.Channel:
    """A channel to `target`, over TLS when asked (a Tls, or True for the system's roots)."""
    grpc_module = grpc.aio if asyncio else grpc
    if not tls:
        return grpc_module.insecure_channel(target, options=CHANNEL_OPTIONS)
    settings = tls if isinstance(tls, Tls) else Tls()
    return grpc_module.secure_channel(
        target, settings.credentials(), options=CHANNEL_OPTIONS + settings.channel_options()
    )


@dataclass(frozen=True)
class CallOptions:
    """Deadline of unary calls (streams run as long as the job) and metadata sent with every call."""

    timeout: float | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, timeout: float | None, metadata: MetadataLike, token: str | None = None) -> CallOptions:
        pairs = metadata.items() if isinstance(metadata, Mapping) else (metadata or ())
        sent = tuple((str(k).lower(), v) for k, v in pairs)
        if token:
            sent += (("authorization", f"Bearer {token}"),)
        return cls(timeout=timeout, metadata=sent)

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        shown = tuple((k, "<redacted>" if k == "authorization" else v) for k, v in self.metadata)
        return f"CallOptions(timeout={self.timeout!r}, metadata={shown!r})"

    def timeout_within(self, deadline: float | None) -> float | None:
        """The timeout of one unary call made before `deadline`: the client's timeout, cut short by it."""
        left = seconds_left(deadline)
        if left is None or (self.timeout is not None and self.timeout < left):
            return self.timeout
        return left


def deadline_after(timeout: float | None) -> float | None:
    """The time.monotonic() reading `timeout` seconds from now; None (no deadline) for None."""
    return None if timeout is None else time.monotonic() + timeout


def seconds_left(deadline: float | None) -> float | None:
    """Seconds until `deadline` (a time.monotonic() reading), at least 0; None when there is none."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
