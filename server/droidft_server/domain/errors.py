"""The error catalogue: every failure a request can meet, with a stable reason.

Transport maps each kind onto a gRPC status code; the reason travels as google.rpc.ErrorInfo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ErrorKind(Enum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNIMPLEMENTED = "unimplemented"
    UNAVAILABLE = "unavailable"


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
    reason: str  # stable, UPPER_SNAKE_CASE
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    precondition_violations: list[PreconditionViolation] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def invalid_argument(violations: list[FieldViolation], message: str = "") -> DroidftError:
    # The violations travel as details; the message only names the fields, so clients that print both stay readable.
    fields = ", ".join(dict.fromkeys(v.field or "(request)" for v in violations))
    return DroidftError(
        ErrorKind.INVALID_ARGUMENT, "INVALID_REQUEST", message or f"invalid request: check {fields}", field_violations=violations
    )


def job_not_found(job_id: str) -> DroidftError:
    return DroidftError(ErrorKind.NOT_FOUND, "JOB_NOT_FOUND", f"no job {job_id!r}", {"job_id": job_id})
