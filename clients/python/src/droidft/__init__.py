"""Python client and CLI of droidft, the MLX fine-tuning service (droidft.v1.TrainingService)."""

from droidft.aio import AsyncClient
from droidft.call_options import Tls
from droidft.client import Client
from droidft.errors import DroidftError, FieldViolation, InvalidSpecError, PreconditionViolation, Reason
from droidft.job_handle import AsyncJobHandle, JobHandle
from droidft.progress_stream import RetryPolicy

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
