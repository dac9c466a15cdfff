"""How far a data-set check has got, for callers that show progress on big files."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationProgress:
    file: str  # the file being read
    bytes_read: int  # over every file; for gzip files, compressed bytes
    total_bytes: int
    records_read: int
    issues_found: int


ProgressCallback = Callable[[ValidationProgress], None]


def throttled(report: ProgressCallback, interval_seconds: float, clock=time.monotonic) -> ProgressCallback:
    """Pass on at most one progress report per interval (the first always)."""
    last = [float("-inf")]

    def maybe_report(progress: ValidationProgress) -> None:
        now = clock()
        if now - last[0] >= interval_seconds:
            last[0] = now
            report(progress)

    return maybe_report
