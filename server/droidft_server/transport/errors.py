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
}


def _packed(detail) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return packed


def to_status(error: DroidftError) -> grpc.Status:
    details = [
        _packed(error_details_pb2.ErrorInfo(reason=error.reason_name, domain=ERROR_DOMAIN, metadata=error.metadata))
    ]
    if error.field_violations:
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description, reason=v.rule
                        )
                        for v in error.field_violations
                    ]
                )
            )
        )
    if error.precondition_violations:
        details.append(
            _packed(
                error_details_pb2.PreconditionFailure(
                    violations=[
                        error_details_pb2.PreconditionFailure.Violation(
                            type=v.type, subject=v.subject, description=v.description
                        )
                        for v in error.precondition_violations
                    ]
                )
            )
        )
    return rpc_status.to_status(
        status_pb2.Status(code=STATUS_CODES[error.kind], message=error.message, details=details)
    )


def internal_status(message: str) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason=Reason.Name(Reason.INTERNAL), domain=ERROR_DOMAIN)
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.INTERNAL, message=message, details=[_packed(info)]))
