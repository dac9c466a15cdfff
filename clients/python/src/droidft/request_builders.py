"""Plain Python arguments to request messages, shared by Client and AsyncClient."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Union

from google.protobuf import json_format

from droidft.enums import MethodLike, StateLike, method_name, parse_job_state, parse_method
from droidft.v1 import data_pb2, job_pb2, service_pb2

SpecLike = Union[job_pb2.TrainingJobSpec, Mapping[str, Any]]


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


def list_training_methods() -> service_pb2.ListTrainingMethodsRequest:
    return service_pb2.ListTrainingMethodsRequest()


def validate_dataset(
    path: str | os.PathLike | None = None,
    *,
    content: bytes | None = None,
    method: MethodLike | None = None,
    format: str = "",
    model_path: str | os.PathLike = "",
    max_seq_length: int | None = None,
    max_issues: int | None = None,
) -> data_pb2.ValidateDatasetRequest:
    if (path is None) == (content is None):
        raise ValueError("give exactly one of path (on the server) or content (the JSONL bytes)")
    request = data_pb2.ValidateDatasetRequest(format=format, model_path=os.fspath(model_path))
    if path is not None:
        request.path = os.fspath(path)
    else:
        request.content = content
    if method is not None:
        request.method = parse_method(method)
    if max_seq_length is not None:
        request.max_seq_length = max_seq_length
    if max_issues is not None:
        request.max_issues = max_issues
    return request


def stream_dataset_validation(
    path: str | os.PathLike | None = None,
    *,
    progress_interval_seconds: float | None = None,
    **check,
) -> data_pb2.StreamDatasetValidationRequest:
    request = data_pb2.StreamDatasetValidationRequest(check=validate_dataset(path, **check))
    if progress_interval_seconds is not None:
        request.progress_interval_seconds = progress_interval_seconds
    return request


def generate_sample_data(
    format: str, *, count: int | None = None, seed: int = 0, output_path: str | os.PathLike = ""
) -> data_pb2.GenerateSampleDataRequest:
    request = data_pb2.GenerateSampleDataRequest(format=format, seed=seed, output_path=os.fspath(output_path))
    if count is not None:
        request.count = count
    return request


def estimate_resources(spec: SpecLike) -> service_pb2.EstimateResourcesRequest:
    return service_pb2.EstimateResourcesRequest(spec=training_job_spec(spec))


def create_training_job(
    spec: SpecLike, *, request_id: str = "", validate_only: bool = False
) -> service_pb2.CreateTrainingJobRequest:
    return service_pb2.CreateTrainingJobRequest(
        spec=training_job_spec(spec), request_id=request_id, validate_only=validate_only
    )


def get_training_job(job_id: str) -> service_pb2.GetTrainingJobRequest:
    return service_pb2.GetTrainingJobRequest(job_id=job_id)


def list_training_jobs(
    *, page_size: int = 0, page_token: str = "", states: Iterable[StateLike] = ()
) -> service_pb2.ListTrainingJobsRequest:
    return service_pb2.ListTrainingJobsRequest(
        page_size=page_size, page_token=page_token, states=[parse_job_state(s) for s in states]
    )


def cancel_training_job(job_id: str) -> service_pb2.CancelTrainingJobRequest:
    return service_pb2.CancelTrainingJobRequest(job_id=job_id)


def list_checkpoints(job_id: str) -> service_pb2.ListCheckpointsRequest:
    return service_pb2.ListCheckpointsRequest(job_id=job_id)


def stream_training_progress(job_id: str, after_sequence: int = 0) -> service_pb2.StreamTrainingProgressRequest:
    return service_pb2.StreamTrainingProgressRequest(job_id=job_id, after_sequence=after_sequence)


def with_method(spec: job_pb2.TrainingJobSpec, method: MethodLike) -> job_pb2.TrainingJobSpec:
    """Set `spec`'s method (in place): its config is kept when already that method, else an empty one is set."""
    field = method_name(parse_method(method))
    if spec.WhichOneof("method") != field:
        getattr(spec, field).SetInParent()
    return spec
