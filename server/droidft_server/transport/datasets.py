"""ValidateDataset and GenerateSampleData: requests to domain calls, domain results to messages."""

from __future__ import annotations

from droidft.v1 import data_pb2

from ..domain import datasets
from ..domain.errors import FieldViolation, invalid_argument
from ..domain.spec import METHOD_OF_CONFIG

METHOD_NAMES = {value: name for name, value in METHOD_OF_CONFIG.items()}
SEVERITIES = {
    datasets.Severity.ERROR: data_pb2.ISSUE_SEVERITY_ERROR,
    datasets.Severity.WARNING: data_pb2.ISSUE_SEVERITY_WARNING,
}
DEFAULT_MAX_SEQ_LENGTH = 2048
DEFAULT_MAX_ISSUES = 100
DEFAULT_SAMPLE_COUNT = 100
INLINE_LIMIT_BYTES = 64 * 2**20  # the same bound as ValidateDatasetRequest.content


def issue_to_proto(issue: datasets.Issue) -> data_pb2.DatasetIssue:
    return data_pb2.DatasetIssue(
        file=issue.file, line=issue.line, field_path=issue.field_path, code=issue.code,
        message=issue.message, severity=SEVERITIES[issue.severity],
    )


def token_statistics_to_proto(stats: datasets.TokenStatistics) -> data_pb2.TokenStatistics:
    return data_pb2.TokenStatistics(
        min=stats.min, mean=stats.mean, p95=stats.p95, max=stats.max, over_max_seq_length=stats.over_max_seq_length,
    )


def file_report_to_proto(report: datasets.FileReport) -> data_pb2.DatasetFileReport:
    message = data_pb2.DatasetFileReport(
        path=report.path, split=report.split, format=report.format, record_count=report.record_count,
        error_count=report.error_count, warning_count=report.warning_count, field_presence=report.field_presence,
    )
    if report.token_statistics is not None:
        message.token_statistics.CopyFrom(token_statistics_to_proto(report.token_statistics))
    return message


def validation_report_to_proto(report: datasets.ValidationReport) -> data_pb2.ValidateDatasetResponse:
    return data_pb2.ValidateDatasetResponse(
        valid=report.valid,
        files=[file_report_to_proto(file) for file in report.files],
        issues=[issue_to_proto(issue) for issue in report.issues],
        issue_counts=report.issue_counts,
        issues_truncated=report.issues_truncated,
    )


def validation_options(request: data_pb2.ValidateDatasetRequest) -> datasets.ValidationOptions:
    return datasets.ValidationOptions(
        method=METHOD_NAMES.get(request.method, ""),
        format=request.format,
        model_path=request.model_path,
        max_seq_length=request.max_seq_length if request.HasField("max_seq_length") else DEFAULT_MAX_SEQ_LENGTH,
        max_issues=request.max_issues if request.HasField("max_issues") else DEFAULT_MAX_ISSUES,
    )


def validate_dataset(request: data_pb2.ValidateDatasetRequest) -> data_pb2.ValidateDatasetResponse:
    """The whole ValidateDataset call, for a request protovalidate has already accepted."""
    options = vars(validation_options(request))
    if request.WhichOneof("source") == "content":
        report = datasets.validate_bytes(request.content, **options)
    else:
        report = datasets.validate_path(request.path, **options)
    return validation_report_to_proto(report)


def generate_sample_data(request: data_pb2.GenerateSampleDataRequest) -> data_pb2.GenerateSampleDataResponse:
    """The whole GenerateSampleData call: records into output_path, or back as content."""
    count = request.count if request.HasField("count") else DEFAULT_SAMPLE_COUNT
    try:
        records = datasets.generate(request.format, count, request.seed)
    except datasets.UnknownFormatError as exc:
        raise invalid_argument([FieldViolation("format", str(exc), "known_format")]) from None
    response = data_pb2.GenerateSampleDataResponse(format=request.format, record_count=count)
    if not request.output_path:
        content = datasets.to_jsonl_bytes(records)
        if len(content) > INLINE_LIMIT_BYTES:
            raise invalid_argument([FieldViolation(
                "count", f"{count} records make {len(content) // 2**20} MiB, more than the {INLINE_LIMIT_BYTES // 2**20} MiB "
                "that come back inline; set output_path", "inline_size")])
        response.content = content
        return response
    try:
        datasets.write_jsonl(request.output_path, records)
    except OSError as exc:
        raise invalid_argument([FieldViolation("output_path", f"cannot write: {exc.strerror or exc}", "writable")]) from None
    response.path = request.output_path
    return response
