"""Settings every call of a client carries, and the deadlines of calls that must end in time (JobHandle.wait)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MetadataLike = Mapping[str, str] | Iterable[tuple[str, str]] | None

DEFAULT_TARGET = "localhost:50051"

# Sample data and inline data sets may be tens of MiB (up to 64 MiB of JSONL by the contract);
# gRPC's default 4 MiB receive limit would refuse them.
MAX_MESSAGE_BYTES = 128 * 1024 * 1024
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)


@dataclass(frozen=True)
class CallOptions:
    """Deadline of unary calls (streams run as long as the job) and metadata sent with every call."""

    timeout: float | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, timeout: float | None, metadata: MetadataLike) -> CallOptions:
        pairs = metadata.items() if isinstance(metadata, Mapping) else (metadata or ())
        return cls(timeout=timeout, metadata=tuple((str(k).lower(), v) for k, v in pairs))

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
