"""Job specs from plain Python: a TrainingJobSpec, or a dict in proto JSON form.

A dict's keys are checked against the contract before it is parsed: an unknown key is refused with the
closest known names ("did you mean"), and an enum field takes its short name as well as the full one
("lora" or "FINE_TUNE_TYPE_LORA" for adapter.fine_tune_type, "medical" for dr_grpo.domain).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from google.protobuf import descriptor, json_format, message_factory

from droidft.enums import MethodLike, method_name, parse_method
from droidft.errors import InvalidSpecError
from droidft.v1 import job_pb2

SpecLike = job_pb2.TrainingJobSpec | Mapping[str, Any]
_F = descriptor.FieldDescriptor


def training_job_spec(spec: SpecLike) -> job_pb2.TrainingJobSpec:
    """A TrainingJobSpec, or a dict in proto JSON form (snake_case or lowerCamelCase keys, short enum names);
    a spec the contract cannot hold raises InvalidSpecError."""
    if isinstance(spec, job_pb2.TrainingJobSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise TypeError(f"spec must be a TrainingJobSpec or a dict, not {type(spec).__name__}")
    normalised = _normalised(spec, job_pb2.TrainingJobSpec.DESCRIPTOR, "spec")
    try:
        return json_format.ParseDict(normalised, job_pb2.TrainingJobSpec())
    except json_format.ParseError as exc:
        raise InvalidSpecError(str(exc)) from exc


def training_message(message_type: descriptor.Descriptor, value: Mapping[str, Any], where: str):
    """A message of `message_type` from its proto JSON mapping, checked and normalised as a spec is."""
    normalised = _normalised(value, message_type, where)
    try:
        return json_format.ParseDict(normalised, message_factory.GetMessageClass(message_type)())
    except json_format.ParseError as exc:
        raise InvalidSpecError(str(exc), where, "json.parse") from exc


def enum_prefix(enum: descriptor.EnumDescriptor) -> str:
    """What every value name of the enum starts with ("FINE_TUNE_TYPE_"): its UNSPECIFIED value's name, less that."""
    return enum.values_by_number[0].name.removesuffix("UNSPECIFIED")


def enum_short_names(enum: descriptor.EnumDescriptor) -> list[str]:
    prefix = enum_prefix(enum)
    return [value.name.removeprefix(prefix).lower() for value in enum.values if value.number != 0]


def enum_value_name(enum: descriptor.EnumDescriptor, text: str, where: str) -> str:
    """The full value name of `text`: a short name ("lora", "dr-grpo") or the full one, any case."""
    name = text.strip().upper().replace("-", "_")
    for candidate in (name, enum_prefix(enum) + name):
        found = enum.values_by_name.get(candidate)
        if found is not None and found.number != 0:
            return found.name
    raise InvalidSpecError(
        f"unknown value {text!r}; choose one of {', '.join(enum_short_names(enum))}", where, "enum.defined"
    )


def unknown_field(key: str, known: list[str], where: str) -> InvalidSpecError:
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else f"; known fields: {', '.join(sorted(known))}"
    return InvalidSpecError(f"no field {key!r}{hint}", where, "field.known")


def _normalised(value: Mapping[str, Any], message: descriptor.Descriptor, where: str) -> dict[str, Any]:
    """`value` with every key checked against `message` and short enum names made full."""
    fields = {**message.fields_by_name, **{f.json_name: f for f in message.fields}}
    result = {}
    for key, item in value.items():
        field = fields.get(key)
        path = f"{where}.{key}"
        if field is None:
            raise unknown_field(key, [f.name for f in message.fields], path)
        result[key] = _normalised_value(field, item, path)
    return result


def _normalised_value(field: descriptor.FieldDescriptor, item: Any, path: str) -> Any:
    if field.is_repeated and isinstance(item, list):
        return [_normalised_scalar(field, element, f"{path}[{index}]") for index, element in enumerate(item)]
    return _normalised_scalar(field, item, path)


def _normalised_scalar(field: descriptor.FieldDescriptor, item: Any, path: str) -> Any:
    if field.type == _F.TYPE_MESSAGE and isinstance(item, Mapping) and not field.message_type.GetOptions().map_entry:
        return _normalised(item, field.message_type, path)
    if field.type == _F.TYPE_ENUM and isinstance(item, str):
        return enum_value_name(field.enum_type, item, path)
    return item


def with_method(spec: job_pb2.TrainingJobSpec, method: MethodLike) -> job_pb2.TrainingJobSpec:
    """Set `spec`'s method (in place): its config is kept when already that method, else an empty one is set."""
    field = method_name(parse_method(method))
    if spec.WhichOneof("method") != field:
        getattr(spec, field).SetInParent()
    return spec
