"""Job specs from plain Python: a TrainingJobSpec, or a dict in proto JSON form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from droidft.enums import MethodLike, method_name, parse_method
from droidft.v1 import job_pb2

SpecLike = job_pb2.TrainingJobSpec | Mapping[str, Any]


def training_job_spec(spec: SpecLike) -> job_pb2.TrainingJobSpec:
    """A TrainingJobSpec, or a dict in proto JSON form (snake_case or lowerCamelCase keys)."""
    if isinstance(spec, job_pb2.TrainingJobSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise TypeError(f"spec must be a TrainingJobSpec or a dict, not {type(spec).__name__}")
    try:
        return json_format.ParseDict(spec, job_pb2.TrainingJobSpec())
    except json_format.ParseError as exc:
        raise ValueError(f"invalid job spec: {exc}") from exc


def with_method(spec: job_pb2.TrainingJobSpec, method: MethodLike) -> job_pb2.TrainingJobSpec:
    """Set `spec`'s method (in place): its config is kept when already that method, else an empty one is set."""
    field = method_name(parse_method(method))
    if spec.WhichOneof("method") != field:
        getattr(spec, field).SetInParent()
    return spec
