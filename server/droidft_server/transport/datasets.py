"""ValidateDataset, StreamDatasetValidation and GenerateSampleData: requests to domain calls, results to messages."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

from droidft.v1 import data_pb2

from ..domain import datasets
from ..domain.datasets.data_keys import mapping_violations
from ..domain.datasets.progress import ProgressCallback, ValidationProgress, throttled
from ..domain.datasets.writer import ContentTooLarge
from ..domain.errors import FieldViolation, invalid_argument
from ..domain.report_proto import file_report_to_proto
from ..domain.spec import config_of_method, data_keys

SEVERITIES = {
    datasets.Severity.ERROR: data_pb2.ISSUE_SEVERITY_ERROR,
    datasets.Severity.WARNING: data_pb2.ISSUE_SEVERITY_WARNING,
}
DEFAULT_SAMPLE_COUNT = 100
INLINE_LIMIT_BYTES = 64 * 2**20  # the same bound as ValidateDatasetRequest.content


def issue_to_proto(issue: datasets.Issue) -> data_pb2.DatasetIssue:
    return data_pb2.DatasetIssue(
        file=issue.file,
        line=issue.line,
        field_path=issue.field_path,
        code=issue.code,
        message=issue.message,
        severity=SEVERITIES[issue.severity],
    )


def validation_report_to_proto(report: datasets.ValidationReport) -> data_pb2.ValidateDatasetResponse:
    return data_pb2.ValidateDatasetResponse(
        valid=report.valid,
        files=[file_report_to_proto(file) for file in report.files],
        issues=[issue_to_proto(issue) for issue in report.issues],
        issue_counts=report.issue_counts,
        issues_truncated=report.issues_truncated,
    )


def validation_options(
    request: data_pb2.ValidateDatasetRequest, keys_field: str = "data_keys"
) -> datasets.ValidationOptions:
    """The check's options; a data_keys mapping (at keys_field in the request) that no format the check
    may take has is refused, as create refuses it."""
    method = config_of_method(request.method)
    keys = data_keys(request.data_keys)
    given = datasets.FORMATS.get(request.format)
    formats = [given] if given else [datasets.FORMATS[name] for name in datasets.formats_for_method(method)]
    violations = mapping_violations(keys, formats, keys_field)
    if violations:
        raise invalid_argument(violations)
    # Limits the request leaves unset keep ValidationOptions' defaults.
    limits = {name: getattr(request, name) for name in ("max_seq_length", "max_issues") if request.HasField(name)}
    return datasets.ValidationOptions(
        method=method, format=request.format, model_path=request.model_path, data_keys=keys, **limits
    )


def validate_dataset(
    request: data_pb2.ValidateDatasetRequest,
    on_progress: ProgressCallback | None = None,
    keys_field: str = "data_keys",
) -> data_pb2.ValidateDatasetResponse:
    """The whole ValidateDataset call, for a request protovalidate has already accepted (keys_field: where
    the request's data_keys is, for a refusal)."""
    options = {**vars(validation_options(request, keys_field)), "on_progress": on_progress}
    if request.WhichOneof("source") == "content":
        report = datasets.validate_bytes(request.content, **options)
    else:
        report = datasets.validate_path(request.path, **options)
    return validation_report_to_proto(report)


class _StreamGone(Exception):
    """The client of a progress stream went away: stop reading."""


def stream_dataset_validation(
    request: data_pb2.StreamDatasetValidationRequest, is_active: Callable[[], bool]
) -> Iterator[data_pb2.StreamDatasetValidationResponse]:
    """StreamDatasetValidation: the check runs in a thread and reports through a queue, so progress
    messages flow while it reads; the last message carries the result."""
    interval = request.progress_interval_seconds if request.HasField("progress_interval_seconds") else 1.0
    updates: queue.Queue = queue.Queue()
    latest: list[ValidationProgress] = []

    def on_progress(progress: ValidationProgress) -> None:
        if not is_active():
            raise _StreamGone()
        latest[:] = [progress]
        updates.put(progress)

    def check() -> None:
        try:
            updates.put(validate_dataset(request.check, throttled(on_progress, interval), "check.data_keys"))
        except BaseException as error:  # handed to the RPC's thread, which reports it
            updates.put(error)

    threading.Thread(target=check, name="droidft-dataset-check", daemon=True).start()
    while True:
        update = updates.get()
        if isinstance(update, BaseException):
            if isinstance(update, _StreamGone):
                return
            raise update
        if isinstance(update, data_pb2.ValidateDatasetResponse):
            final = _progress_message(latest[0]) if latest else data_pb2.StreamDatasetValidationResponse()
            final.result.CopyFrom(update)
            final.records_read = sum(f.record_count for f in update.files)
            final.bytes_read = final.total_bytes
            yield final
            return
        yield _progress_message(update)


def _progress_message(progress: ValidationProgress) -> data_pb2.StreamDatasetValidationResponse:
    return data_pb2.StreamDatasetValidationResponse(
        bytes_read=progress.bytes_read,
        total_bytes=progress.total_bytes,
        records_read=progress.records_read,
        issues_found=progress.issues_found,
        file=progress.file,
    )


def generate_sample_data(request: data_pb2.GenerateSampleDataRequest) -> data_pb2.GenerateSampleDataResponse:
    """The whole GenerateSampleData call: records into output_path, or back as content."""
    count = request.count if request.HasField("count") else DEFAULT_SAMPLE_COUNT
    try:
        records = datasets.generate(request.format, count, request.seed)
    except datasets.UnknownFormatError as exc:
        raise invalid_argument([FieldViolation("format", str(exc), "known_format")]) from None
    response = data_pb2.GenerateSampleDataResponse(format=request.format, record_count=count)
    if not request.output_path:
        try:
            content = datasets.to_jsonl_bytes(records, limit_bytes=INLINE_LIMIT_BYTES)
        except ContentTooLarge:
            raise invalid_argument(
                [
                    FieldViolation(
                        "count",
                        f"{count} records make more than the {INLINE_LIMIT_BYTES // 2**20} MiB that come back "
                        "inline; set output_path",
                        "inline_size",
                    )
                ]
            ) from None
        response.content = content
        return response
    try:
        datasets.write_jsonl(request.output_path, records)
    except OSError as exc:
        raise invalid_argument(
            [FieldViolation("output_path", f"cannot write: {exc.strerror or exc}", "writable")]
        ) from None
    response.path = request.output_path
    return response
