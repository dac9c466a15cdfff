"""Exceptions raised by the droidft clients, decoded from gRPC's rich error model.

The server attaches a google.rpc.Status to every error (trailer
`grpc-status-details-bin`): google.rpc.ErrorInfo (domain "droidft", a stable
reason, metadata); for INVALID_ARGUMENT, google.rpc.BadRequest (field path,
message and protovalidate rule id of each violation); and, where something on
the server stands in the way, google.rpc.PreconditionFailure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import grpc
from google.rpc import error_details_pb2, status_pb2

from droidft.v1 import errors_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


class _ReasonName(str, Enum):
    def __str__(self) -> str:
        return self.value


# The contract's reasons (droidft.v1.ErrorReason, documented in proto/droidft/v1/errors.proto) as the
# strings DroidftError.reason and JobError.reason hold: `error.reason == Reason.JOB_NOT_FOUND`. Built
# from the generated enum, so it lists exactly what the contract does (keys(): the enum wrapper is not iterable).
_NAMES = [name for name in errors_pb2.ErrorReason.keys() if name != "ERROR_REASON_UNSPECIFIED"]  # noqa: SIM118
Reason = _ReasonName("Reason", [(name, name) for name in _NAMES])


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request: its path (e.g. "spec.batch_size"), what is wrong, and the rule id."""

    field: str
    description: str
    reason: str = ""

    def __str__(self) -> str:
        text = f"{self.field or '(request)'}: {self.description}"
        return f"{text} [{self.reason}]" if self.reason else text


@dataclass(frozen=True)
class PreconditionViolation:
    """Something on the server that stops the call: its kind (e.g. "dataset_issue"), what, and why."""

    type: str
    subject: str
    description: str

    def __str__(self) -> str:
        text = f"{self.subject or '(server)'}: {self.description}"
        return f"{text} [{self.type}]" if self.type else text


class DroidftError(Exception):
    """A failed call: status code, message, and the decoded error details.

    `reason` is the name of a droidft.v1.ErrorReason (compare it with `Reason.JOB_NOT_FOUND`), or
    empty when the failure did not come from droidft (a deadline, a lost connection).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str = "",
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
        field_violations: Iterable[FieldViolation] = (),
        precondition_violations: Iterable[PreconditionViolation] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations: list[FieldViolation] = list(field_violations)
        self.precondition_violations: list[PreconditionViolation] = list(precondition_violations)

    def __str__(self) -> str:
        headline = f"{self.code.name}: {self.message}" if self.message else self.code.name
        if self.reason:
            headline += f" ({self.reason})"
        lines = [headline]
        lines.extend(f"  - {violation}" for violation in self.field_violations + self.precondition_violations)
        lines.extend(f"  {key}: {value}" for key, value in sorted(self.metadata.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.name}, {self.message!r}, reason={self.reason!r})"


class CallCancelledError(DroidftError):
    """CANCELLED: the call itself was cancelled (not the training job)."""


class UnknownError(DroidftError):
    """UNKNOWN."""


class InvalidArgumentError(DroidftError):
    """INVALID_ARGUMENT: the request breaks a rule; see field_violations."""


class InvalidSpecError(InvalidArgumentError, ValueError):
    """A job spec the client refuses before any call (an unknown field, a wrong type or enum name): code
    INVALID_ARGUMENT, the offending field in field_violations. Also a ValueError, as it was raised before."""

    def __init__(self, description: str, field: str = "", reason: str = "") -> None:
        violations = [FieldViolation(field, description, reason)] if field else []
        message = "invalid job spec" + (f": check {field}" if field else f": {description}")
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, message, field_violations=violations)


class DeadlineExceededError(DroidftError):
    """DEADLINE_EXCEEDED: the call ran past its timeout."""


class NotFoundError(DroidftError):
    """NOT_FOUND: no such job, file or model."""


class AlreadyExistsError(DroidftError):
    """ALREADY_EXISTS: e.g. a request_id reused with a different spec."""


class PermissionDeniedError(DroidftError):
    """PERMISSION_DENIED."""


class ResourceExhaustedError(DroidftError):
    """RESOURCE_EXHAUSTED: e.g. the job would not fit in memory, or the queue is full."""


class FailedPreconditionError(DroidftError):
    """FAILED_PRECONDITION: the job or data is not in a state that allows the call."""


class AbortedError(DroidftError):
    """ABORTED."""


class OutOfRangeError(DroidftError):
    """OUT_OF_RANGE."""


class UnimplementedError(DroidftError):
    """UNIMPLEMENTED: the server does not offer this method or call."""


class InternalError(DroidftError):
    """INTERNAL: a server bug."""


class UnavailableError(DroidftError):
    """UNAVAILABLE: the server cannot be reached or is shutting down; retrying may help."""


class DataLossError(DroidftError):
    """DATA_LOSS."""


class UnauthenticatedError(DroidftError):
    """UNAUTHENTICATED."""


_ERROR_BY_CODE: dict[grpc.StatusCode, type[DroidftError]] = {
    grpc.StatusCode.CANCELLED: CallCancelledError,
    grpc.StatusCode.UNKNOWN: UnknownError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


def error_class(code: grpc.StatusCode) -> type[DroidftError]:
    """The exception class raised for a status code."""
    return _ERROR_BY_CODE.get(code, DroidftError)


def make_error(code: grpc.StatusCode, message: str, **details) -> DroidftError:
    """An exception of the class that matches `code`."""
    return error_class(code)(code, message, **details)


def from_rpc_error(error: grpc.RpcError) -> DroidftError:
    """Decode a failed call (sync grpc.RpcError or grpc.aio.AioRpcError) into a DroidftError."""
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    message = error.details() if callable(getattr(error, "details", None)) else str(error)
    trailers = error.trailing_metadata() if callable(getattr(error, "trailing_metadata", None)) else None
    status = _status_from_trailers(trailers or ())
    if status is not None and status.message:
        message = status.message
    details = _decode_details(status) if status is not None else {}
    return make_error(code or grpc.StatusCode.UNKNOWN, message or "", **details)


def _status_from_trailers(trailers) -> status_pb2.Status | None:
    for key, value in trailers:
        if key == STATUS_DETAILS_KEY:
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    return None


def _decode_details(status: status_pb2.Status) -> dict:
    details: dict = {}
    for any_detail in status.details:
        error_info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        precondition_failure = error_details_pb2.PreconditionFailure()
        if any_detail.Unpack(error_info):
            details.update(reason=error_info.reason, domain=error_info.domain, metadata=dict(error_info.metadata))
        elif any_detail.Unpack(bad_request):
            details.setdefault("field_violations", []).extend(
                FieldViolation(field=v.field, description=v.description, reason=v.reason)
                for v in bad_request.field_violations
            )
        elif any_detail.Unpack(precondition_failure):
            details.setdefault("precondition_violations", []).extend(
                PreconditionViolation(type=v.type, subject=v.subject, description=v.description)
                for v in precondition_failure.violations
            )
    return details
