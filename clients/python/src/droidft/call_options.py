"""Settings every call of a client carries, shared by Client and AsyncClient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Tuple, Union

MetadataLike = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]

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
    def of(cls, timeout: float | None, metadata: MetadataLike) -> "CallOptions":
        pairs = metadata.items() if isinstance(metadata, Mapping) else (metadata or ())
        return cls(timeout=timeout, metadata=tuple((str(k).lower(), v) for k, v in pairs))
