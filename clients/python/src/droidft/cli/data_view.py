"""Pure rendering of a data-set check."""

from __future__ import annotations

from droidft.cli.render import format_bytes, format_table
from droidft.v1 import data_pb2

SEVERITY_NAMES = {data_pb2.ISSUE_SEVERITY_ERROR: "error", data_pb2.ISSUE_SEVERITY_WARNING: "warning"}


def files_table(files: list[data_pb2.DatasetFileReport]) -> str:
    rows = ((f.path, f.split or "-", f.format, f.record_count, f.error_count, f.warning_count) for f in files)
    return format_table(("FILE", "SPLIT", "FORMAT", "RECORDS", "ERRORS", "WARNINGS"), rows)


def token_lines(files: list[data_pb2.DatasetFileReport]) -> list[str]:
    return [
        f"{f.path}: tokens min {s.min}, mean {s.mean:.1f}, p95 {s.p95}, max {s.max}; "
        f"{s.over_max_seq_length} over max_seq_length"
        for f in files
        if f.HasField("token_statistics")
        for s in [f.token_statistics]
    ]


def issues_table(issues: list[data_pb2.DatasetIssue]) -> str:
    rows = (
        (f"{i.file}:{i.line}", SEVERITY_NAMES.get(i.severity, "?"), i.field_path or "-", i.code, i.message)
        for i in issues
    )
    return format_table(("LOCATION", "SEVERITY", "FIELD", "CODE", "MESSAGE"), rows)


def issue_counts_line(counts: dict[str, int]) -> str:
    """Per-code counts, most frequent first: "missing_field 3, invalid_json 1"."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{code} {count}" for code, count in ordered)


def validation_report(response: data_pb2.ValidateDatasetResponse) -> str:
    sections = [files_table(list(response.files))]
    tokens = token_lines(list(response.files))
    if tokens:
        sections.append("\n".join(tokens))
    if response.issues:
        sections.append(issues_table(list(response.issues)))
    if response.issue_counts:
        counts = f"Issues by code: {issue_counts_line(dict(response.issue_counts))}"
        if response.issues_truncated:
            total = sum(response.issue_counts.values())
            counts += f"\n({len(response.issues)} of {total} issues listed; raise --max-issues to see more)"
        sections.append(counts)
    sections.append("Data set is valid." if response.valid else "Data set is NOT valid.")
    return "\n\n".join(sections)


def progress_line(progress: data_pb2.StreamDatasetValidationResponse) -> str:
    """One line of a data-set check under way, e.g. 'train.jsonl: 120.3 MiB of 200.0 MiB (60%), 41,003 records'."""
    share = f" ({100 * progress.bytes_read // progress.total_bytes}%)" if progress.total_bytes else ""
    return (
        f"{progress.file}: {format_bytes(progress.bytes_read)} of {format_bytes(progress.total_bytes)}{share}, "
        f"{progress.records_read:,} records, {progress.issues_found:,} issues"
    )
