"""Domain errors as rich gRPC statuses (google.rpc.Status with ErrorInfo, BadRequest, PreconditionFailure)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ..domain.errors import DroidftError, ErrorKind, Reason

ERROR_DOMAIN = "droidft"

STATUS_CODES = {
    ErrorKind.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: code_pb2.NOT_FOUND,
    ErrorKind.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
    ErrorKind.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    ErrorKind.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    ErrorKind.RESOURCE_EXHAUSTED: code_pb2.RESOURCE_EXHAUSTED,
    ErrorKind.UNIMPLEMENTED: code_pb2.UNIMPLEMENTED,
    ErrorKind.UNAVAILABLE: code_pb2.UNAVAILABLE,
    ErrorKind.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    ErrorKind.OUT_OF_RANGE: code_pb2.OUT_OF_RANGE,
    ErrorKind.ABORTED: code_pb2.ABORTED,
    ErrorKind.DATA_LOSS: code_pb2.DATA_LOSS,
}


def _packed(detail) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return packed


# gRPC clients refuse trailers past 8-16 KiB (the details travel in one): an error with hundreds of
# violations would arrive as RESOURCE_EXHAUSTED instead of itself. The first ones are listed, each
# text is cut, and metadata `violations_omitted` counts the rest.
LISTED_VIOLATIONS = 20
TEXT_LIMIT = 300  # characters of a description, a field path or a subject
MESSAGE_LIMIT = 1000


def _cut(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_status(error: DroidftError) -> grpc.Status:
    fields, preconditions = error.field_violations, error.precondition_violations
    omitted = max(0, len(fields) - LISTED_VIOLATIONS) + max(0, len(preconditions) - LISTED_VIOLATIONS)
    metadata = {key: _cut(value) for key, value in error.metadata.items()}
    if omitted:
        metadata["violations_omitted"] = str(omitted)
    details = [_packed(error_details_pb2.ErrorInfo(reason=error.reason_name, domain=ERROR_DOMAIN, metadata=metadata))]
    if fields:
        listed = [
            error_details_pb2.BadRequest.FieldViolation(
                field=_cut(v.field), description=_cut(v.description), reason=v.rule
            )
            for v in fields[:LISTED_VIOLATIONS]
        ]
        details.append(_packed(error_details_pb2.BadRequest(field_violations=listed)))
    if preconditions:
        listed = [
            error_details_pb2.PreconditionFailure.Violation(
                type=v.type, subject=_cut(v.subject), description=_cut(v.description)
            )
            for v in preconditions[:LISTED_VIOLATIONS]
        ]
        details.append(_packed(error_details_pb2.PreconditionFailure(violations=listed)))
    message = _cut(error.message, MESSAGE_LIMIT)
    return rpc_status.to_status(status_pb2.Status(code=STATUS_CODES[error.kind], message=message, details=details))


def internal_status(message: str) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason=Reason.Name(Reason.INTERNAL), domain=ERROR_DOMAIN)
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.INTERNAL, message=message, details=[_packed(info)]))
