"""protovalidate rules of the .proto files, turned into the domain's field violations."""

from __future__ import annotations

import protovalidate
from google.protobuf import message

from ..domain.errors import FieldViolation, invalid_argument


def _field_path(violation: protovalidate.Violation) -> str:
    parts = []
    for element in violation.proto.field.elements:
        subscript = element.subscript
        if subscript is None:
            parts.append(element.field_name)
        elif subscript.field == "index":
            parts.append(f"{element.field_name}[{subscript.value}]")
        else:
            parts.append(f"{element.field_name}[{subscript.value!r}]")
    return ".".join(parts)


def check_request(request: message.Message) -> None:
    """Raise the domain's INVALID_ARGUMENT error listing every rule the request breaks."""
    try:
        protovalidate.validate(request)
    except protovalidate.ValidationError as error:
        raise invalid_argument(
            [FieldViolation(_field_path(v), v.proto.message, v.proto.rule_id) for v in error.violations]
        ) from None
