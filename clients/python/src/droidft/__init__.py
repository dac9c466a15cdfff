"""Python client and CLI of droidft, the MLX fine-tuning service (droidft.v1.TrainingService).

The client's names load on first use: a program that needs only the contract's messages (`droidft.v1`, as the
server does) does not pay for the client's modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from droidft.aio import AsyncClient
    from droidft.call_options import Tls
    from droidft.client import Client
    from droidft.errors import DroidftError, FieldViolation, InvalidSpecError, PreconditionViolation, Reason
    from droidft.job_handle import AsyncJobHandle, JobHandle
    from droidft.progress_stream import RetryPolicy

_HOMES = {
    "AsyncClient": "droidft.aio",
    "AsyncJobHandle": "droidft.job_handle",
    "Client": "droidft.client",
    "DroidftError": "droidft.errors",
    "FieldViolation": "droidft.errors",
    "InvalidSpecError": "droidft.errors",
    "JobHandle": "droidft.job_handle",
    "PreconditionViolation": "droidft.errors",
    "Reason": "droidft.errors",
    "RetryPolicy": "droidft.progress_stream",
    "Tls": "droidft.call_options",
}
__all__ = [
    "AsyncClient",
    "AsyncJobHandle",
    "Client",
    "DroidftError",
    "FieldViolation",
    "InvalidSpecError",
    "JobHandle",
    "PreconditionViolation",
    "Reason",
    "RetryPolicy",
    "Tls",
]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'droidft' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
