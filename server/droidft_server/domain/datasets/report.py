"""What a data-set check found: issues, per-file statistics, and the whole report."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .issues import SEVERITY, Issue, Severity


@dataclass(frozen=True)
class TokenStatistics:
    """Record lengths in tokens of the model's own tokenizer (tokens.py says which figures are exact)."""

    min: int
    mean: float
    p95: int
    max: int  # exact, or an upper bound when sampled
    over_max_seq_length: int  # exact
    sampled: bool = False  # min, mean and p95 are of an evenly spread sample of the records
    records_counted: int = 0  # records whose tokens were counted


@dataclass(frozen=True)
class FileReport:
    path: str
    split: str  # "train", "valid", "test", or "" for a single file
    format: str  # given or detected; "" when unknown
    record_count: int  # non-blank lines
    error_count: int
    warning_count: int
    field_presence: Mapping[str, int]  # how many records have each of the format's top-level fields, by their keys
    token_statistics: TokenStatistics | None = None
    issue_counts: Mapping[str, int] = field(default_factory=dict)  # this file's issues by code, listed or not
    # Records per value of the format's tallied field (Dr. GRPO's domain); empty for other formats.
    tallied_values: Mapping[str, int] = field(default_factory=dict)
    # Decoded records, evenly spread over the file, when the check was asked for a sample (sample_records).
    sample: tuple = ()


@dataclass(frozen=True)
class ValidationReport:
    files: tuple[FileReport, ...]
    issues: tuple[Issue, ...]  # in file and line order, at most max_issues
    issue_counts: Mapping[str, int]  # every issue counted, listed or not

    @property
    def error_count(self) -> int:
        return sum(n for code, n in self.issue_counts.items() if SEVERITY[code] is Severity.ERROR)

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    @property
    def issues_truncated(self) -> bool:
        return sum(self.issue_counts.values()) > len(self.issues)

    @property
    def format(self) -> str:
        """The data set's format: the first file's."""
        return self.files[0].format if self.files else ""

    def first_errors(self, n: int = 3) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.ERROR][:n]

    def summary(self, n: int = 3) -> str:
        """One paragraph for a refusal: how many errors of which kind, and the first few exactly."""
        if self.valid:
            return "no errors"
        kinds = ", ".join(
            f"{code}: {count}" for code, count in sorted(self.issue_counts.items()) if SEVERITY[code] is Severity.ERROR
        )
        first = "; ".join(str(issue) for issue in self.first_errors(n))
        plural = "s" if self.error_count != 1 else ""
        return f"{self.error_count} data error{plural} ({kinds}); first: {first}"


@dataclass
class IssueLog:
    """Collects issues over every file: lists the first max_issues, counts all."""

    max_issues: int
    listed: list[Issue] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def add(self, issue: Issue) -> None:
        self.counts[issue.code] += 1
        if len(self.listed) < self.max_issues:
            self.listed.append(issue)

    def add_file_issue(self, file: str, code: str, message: str) -> None:
        self.add(Issue(file, 0, "", code, message))

    def open_file(self, name: str) -> FileIssues:
        return FileIssues(self, name)


@dataclass
class FileIssues:
    """The issues of one file, put in line order before they join the log.

    Issues arrive in line order only batch by batch (token lengths are measured per batch,
    duplicates are found at the end), so each batch is sorted and the late ones merged in.
    """

    log: IssueLog
    name: str
    errors: int = 0
    warnings: int = 0
    codes: Counter = field(default_factory=Counter)  # this file's issues by code
    _pending: list[Issue] = field(default_factory=list)
    _listed: list[Issue] = field(default_factory=list)
    # The listing is full and batches come in line order: later issues are only counted.
    _full: bool = False

    def add(self, line: int, field_path: str, code: str, message: str) -> None:
        self._count(code, 1)
        if not self._full:
            self._pending.append(Issue(self.name, line, field_path, code, message))

    def end_batch(self) -> None:
        room = self.log.max_issues - len(self.log.listed) - len(self._listed)
        if room > 0 and self._pending:
            self._listed.extend(sorted(self._pending, key=_line)[:room])
        self._full = len(self._listed) >= self.log.max_issues - len(self.log.listed)
        self._pending.clear()

    def close(self, late: LateIssues | None = None) -> None:
        """Count the late issues and merge those that can be listed with the listed ones, then hand them to the log."""
        room = self.log.max_issues - len(self.log.listed)
        made: list[Issue] = []
        if late is not None and len(late.lines):
            self._count(late.code, len(late.lines))
            # Late issues come in line order: past the room left in the listing, none can be listed.
            for index in range(min(room, len(late.lines))):
                line, field_path, message = late.describe(index)
                made.append(Issue(self.name, line, field_path, late.code, message))
        merged = heapq.merge(self._listed, made, key=_line)
        self.log.listed.extend(issue for _, issue in zip(range(room), merged))

    def _count(self, code: str, count: int) -> None:
        self.log.counts[code] += count
        self.codes[code] += count
        if SEVERITY[code] is Severity.ERROR:
            self.errors += count
        else:
            self.warnings += count


@dataclass(frozen=True)
class LateIssues:
    """Issues of one code found when a file ends (duplicates), in line order: all are counted at once, and only
    those the listing has room for are described (a file may repeat millions of records)."""

    code: str
    lines: Sequence[int]
    describe: Callable[[int], tuple[int, str, str]]  # the index-th issue: (line, field path, message)


def _line(issue: Issue) -> int:
    return issue.line
