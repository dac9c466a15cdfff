"""Errors a request or a job can meet: a kind (the gRPC status class) and a reason.

The reasons are the contract's enum droidft.v1.ErrorReason (proto/droidft/v1/errors.proto), where
each is documented; code names them as `Reason.JOB_NOT_FOUND`, never as a string. Transport maps
each kind onto a gRPC status code, and the reason's name travels as google.rpc.ErrorInfo.reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from droidft.v1 import errors_pb2, job_pb2

# The contract's reasons: Reason.JOB_NOT_FOUND is an int, Reason.Name(value) its wire name.
Reason = errors_pb2.ErrorReason


class ErrorKind(Enum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNIMPLEMENTED = "unimplemented"
    UNAVAILABLE = "unavailable"
    UNAUTHENTICATED = "unauthenticated"
    OUT_OF_RANGE = "out_of_range"
    ABORTED = "aborted"
    DATA_LOSS = "data_loss"


@dataclass(frozen=True)
class FieldViolation:
    field: str  # dotted path inside the request, e.g. "spec.learning_rate"
    description: str
    rule: str = ""  # protovalidate rule id, or a droidft rule name


@dataclass(frozen=True)
class PreconditionViolation:
    type: str  # e.g. "dataset_issue"
    subject: str  # e.g. "train.jsonl:41003 messages[2].role"
    description: str


@dataclass
class DroidftError(Exception):
    kind: ErrorKind
    reason: int  # a Reason value
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    precondition_violations: list[PreconditionViolation] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    @property
    def reason_name(self) -> str:
        return Reason.Name(self.reason)


def invalid_argument(violations: list[FieldViolation], message: str = "") -> DroidftError:
    # The violations travel as details; the message only names the fields, so clients that print both stay readable.
    fields = ", ".join(dict.fromkeys(v.field or "(request)" for v in violations))
    return DroidftError(
        ErrorKind.INVALID_ARGUMENT,
        Reason.INVALID_REQUEST,
        message or f"invalid request: check {fields}",
        field_violations=violations,
    )


def job_not_found(job_id: str) -> DroidftError:
    return DroidftError(ErrorKind.NOT_FOUND, Reason.JOB_NOT_FOUND, f"no job {job_id!r}", {"job_id": job_id})


class StorageError(Exception):
    """The job store cannot write (or read): a full disk, a read-only file, a damaged page. The message
    says which; it never names request contents."""


def storage_unavailable(error: StorageError) -> DroidftError:
    return DroidftError(
        ErrorKind.UNAVAILABLE,
        Reason.STORAGE_UNAVAILABLE,
        f"the server cannot record jobs right now ({error}); retry once its disk can be written again",
    )


def shutting_down() -> DroidftError:
    return DroidftError(ErrorKind.UNAVAILABLE, Reason.SERVER_SHUTTING_DOWN, "the server is shutting down")


def job_error(reason: int, message: str) -> job_pb2.JobError:
    """Why a job failed, as its record keeps it (JobError.reason holds the reason's name)."""
    return job_pb2.JobError(reason=Reason.Name(reason), message=message)
