"""The error that refuses a job whose data has errors, listing the first ones exactly."""

from __future__ import annotations

from ..errors import DroidftError, ErrorKind, PreconditionViolation, Reason
from .report import ValidationReport

VIOLATIONS_LISTED = 10


def data_errors(report: ValidationReport, listed: int = VIOLATIONS_LISTED) -> DroidftError:
    """FAILED_PRECONDITION with one violation per error issue (the first `listed`)."""
    violations = [
        PreconditionViolation(
            type=f"dataset_{issue.code}",
            subject=" ".join(
                part for part in (f"{issue.file}:{issue.line}" if issue.line else issue.file, issue.field_path) if part
            ),
            description=issue.message,
        )
        for issue in report.first_errors(listed)
    ]
    return DroidftError(
        ErrorKind.FAILED_PRECONDITION,
        Reason.DATASET_INVALID,
        report.summary(),
        metadata={"error_count": str(report.error_count)},
        precondition_violations=violations,
    )
