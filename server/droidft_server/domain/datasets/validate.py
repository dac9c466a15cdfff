"""Checking a whole data set before training: every line read, every problem placed exactly.

Each line is decoded straight into its format's Struct by msgspec (the fast path, C speed);
only lines that fail go to the slow path (diagnose.py), which names each problem.
Memory stays flat: lines stream in 256 KiB batches, duplicates keep 8 bytes a line,
token lengths a histogram, and issues beyond max_issues are only counted.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import not_
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import msgspec

from ..spec import DEFAULTS
from .data_keys import NO_KEYS, DataKeys, keyed, keyed_candidates
from .detect import Detection, detect
from .diagnose import diagnose
from .duplicates import DuplicateFinder
from .formats import FORMATS, Format, formats_for_method
from .issues import (
    DUPLICATE_RECORD,
    EMPTY_FILE,
    FORMAT_NOT_ACCEPTED,
    NO_TOKENIZER,
    NO_TRAIN_FILE,
    NOT_FOUND,
    TOO_LONG,
    UNKNOWN_FORMAT,
    UNREADABLE_FILE,
    Problem,
)
from .progress import ProgressCallback, ValidationProgress
from .reader import LineBatch, LineBatches, ReadStopped, layout_of, open_stream, record_batches, split_files
from .report import FileIssues, FileReport, IssueLog, LateIssues, ValidationReport
from .sample import EvenSample
from .tokenizer_settings import tokenizer_files_error
from .tokens import TokenCounter, TokenizerMissing, load_tokenizer, tokenizers_loaded_once

if TYPE_CHECKING:
    pass


CONTENT_NAME = "<content>"  # the file name issues carry for validate_bytes
_FAST_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


@dataclass(frozen=True)
class ValidationOptions:
    method: str = ""  # "sft", "grpo", ...: picks the accepted formats; "": any format
    format: str = ""  # "": detected from the first record
    model_path: str = ""  # a model directory with tokenizer.json: token statistics
    max_seq_length: int = DEFAULTS["max_seq_length"]  # a job's default, so a check without one judges as training will
    max_issues: int = 100
    # Decoded records kept per file (FileReport.sample), evenly spread, for measures of whole records
    # (the chat template's tokens); 0: none.
    sample_records: int = 0
    on_progress: ProgressCallback | None = None  # told after each batch of lines how far the check has got
    # The keys the records use for the format's fields (data_keys.py); the caller has refused a mapping
    # that mapping_violations finds wrong.
    data_keys: DataKeys = NO_KEYS


def validate_path(path: str | Path, **options) -> ValidationReport:
    """Check a data file (JSON Lines, a JSON array, CSV or Parquet; gzip too) or a directory with train /
    valid / test files (see reader.split_files).

    options: the fields of ValidationOptions (method, format, model_path, max_seq_length,
    max_issues). An unknown method name raises ValueError; everything about the data is an issue.
    """
    path = Path(path)
    sources: list[tuple[str, str, Path]] = []
    missing: list[tuple[str, str, str]] = []  # (file, code, message)
    if not path.exists():
        missing.append((str(path), NOT_FOUND, "no such file or directory"))
    elif path.is_dir():
        files = split_files(path)
        if "train" not in files:
            present = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
            missing.append(
                (
                    str(path),
                    NO_TRAIN_FILE,
                    (
                        f"the directory has no train file (it holds: {present}); name the training file "
                        "train.jsonl (or train.json, train.csv, train.parquet)"
                    ),
                )
            )
        sources = [(split, str(file), file) for split, file in files.items()]
    else:
        sources = [("", str(path), path)]
    return _Validation(ValidationOptions(**options)).run(sources, missing)


def validate_files(files: Sequence[tuple[str, Path]], **options) -> ValidationReport:
    """Check the files of one data set, given as (split, path), in one format: the given one, or the
    first file's; options as for validate_path. A job's training and validation files, read once."""
    return _Validation(ValidationOptions(**options)).run([(split, str(path), path) for split, path in files], [])


def validate_bytes(content: bytes, **options) -> ValidationReport:
    """Check content given as bytes (JSON Lines, a JSON array or Parquet; gzip too); options as for validate_path."""
    return _Validation(ValidationOptions(**options)).run([("", CONTENT_NAME, content)], [])


class _Validation:
    def __init__(self, options: ValidationOptions):
        self.options = options
        self.log = IssueLog(options.max_issues)
        method_formats = [FORMATS[name] for name in formats_for_method(options.method)]
        self.candidates = keyed_candidates(method_formats, options.data_keys)
        self.format: Format | None = None

    def run(
        self, sources: list[tuple[str, str, Path | bytes]], missing: list[tuple[str, str, str]]
    ) -> ValidationReport:
        for file, code, message in missing:
            self.log.add_file_issue(file, code, message)
        tokens = self._token_counter()
        reports = []
        if self.options.format:
            self.format = self._given_format(sources[0][1] if sources else "")
            if self.format is None:
                sources = []
        self._bytes_total = sum(_size(source) for _, _, source in sources)
        self._bytes_done = self._records_done = 0
        for split, name, source in sources:
            reports.append(self._file(split, name, source, tokens))
            self._bytes_done += _size(source)
            self._records_done += reports[-1].record_count
        return ValidationReport(tuple(reports), tuple(self.log.listed), dict(self.log.counts))

    def _given_format(self, name: str) -> Format | None:
        fmt = FORMATS.get(self.options.format)
        if fmt is not None:
            fmt = keyed(fmt, self.options.data_keys)
        if fmt is None:
            self.log.add_file_issue(
                name,
                UNKNOWN_FORMAT,
                (f'"{self.options.format}" is not a data format; known formats: {", ".join(FORMATS)}'),
            )
        elif fmt not in self.candidates:
            self._not_accepted(name, fmt)
        return fmt

    def _not_accepted(self, name: str, fmt: Format) -> None:
        self.log.add_file_issue(
            name,
            FORMAT_NOT_ACCEPTED,
            (
                f"{fmt.name} data is not what {self.options.method} trains on; "
                f"it takes: {', '.join(f.name for f in self.candidates)}"
            ),
        )

    def _token_counter(self) -> Callable[[Format], TokenCounter] | None:
        """A maker of one counter per file, sharing one loaded tokenizer; None without a model."""
        if not self.options.model_path:
            return None
        model_dir = self.options.model_path
        with tokenizers_loaded_once():
            unusable = tokenizer_files_error(Path(model_dir))
            try:
                tokenizer = load_tokenizer(model_dir)
            except TokenizerMissing as exc:
                self.log.add_file_issue(model_dir, NO_TOKENIZER, f"no token statistics: {exc}")
                return None
        if unusable is not None:  # its settings or chat template: create refuses the model, and says so here too
            self.log.add_file_issue(
                model_dir, NO_TOKENIZER, f"the model's tokenizer cannot be used (create refuses it): {unusable}"
            )
        return lambda fmt: TokenCounter(tokenizer, self.options.max_seq_length, fmt)

    def _file(
        self, split: str, name: str, source: Path | bytes, tokens: Callable[[Format], TokenCounter] | None
    ) -> FileReport:
        issues = self.log.open_file(name)
        scan = None
        try:
            with open_stream(source) as stream:
                layout = layout_of(name, stream)
                fmt = self._file_format(name, record_batches(stream, layout), issues)
                if fmt is not None:
                    stream.seek(0)
                    sample = EvenSample(self.options.sample_records) if self.options.sample_records else None
                    scan = _FileScan(fmt, issues, tokens(fmt) if tokens else None, sample)
                    scan.run(record_batches(stream, layout), self._progress_reporter(name, stream))
        except ReadStopped as exc:
            issues.add(exc.line, "", exc.code, str(exc))
        except (OSError, EOFError, zlib.error) as exc:  # a corrupt gzip stream, a read error, not a regular file
            line = scan.lines_read if scan else 0
            issues.add(line, "", UNREADABLE_FILE, f"reading stopped after line {line}: {exc}")
        issues.end_batch()
        issues.close(scan.late_issues() if scan else None)
        return FileReport(
            path=name,
            split=split,
            format=scan.format.name if scan else "",
            record_count=scan.records if scan else 0,
            error_count=issues.errors,
            warning_count=issues.warnings,
            field_presence=scan.field_presence() if scan else {},
            token_statistics=scan.tokens.statistics() if scan and scan.tokens else None,
            issue_counts=dict(issues.codes),
            tallied_values=dict(scan.tallied_values) if scan else {},
            sample=scan.sampled_records() if scan else (),
        )

    def _progress_reporter(self, name: str, stream: BinaryIO) -> Callable[[int], None] | None:
        report = self.options.on_progress
        if report is None:
            return None
        raw = getattr(stream, "fileobj", stream)  # a gzip stream: progress in compressed bytes

        def after_batch(records: int) -> None:
            report(
                ValidationProgress(
                    file=name,
                    bytes_read=self._bytes_done + raw.tell(),
                    total_bytes=self._bytes_total,
                    records_read=self._records_done + records,
                    issues_found=sum(self.log.counts.values()),
                )
            )

        return after_batch

    def _file_format(self, name: str, batches: LineBatches, issues: FileIssues) -> Format | None:
        """The format to check this file against; reports why there is none."""
        detection: Detection = detect(batches, self.candidates)
        if not detection.has_records:
            issues.add(0, "", EMPTY_FILE, "no records: the file is empty or holds only blank lines")
            return None
        if detection.problem is not None and (detection.problem.code != UNKNOWN_FORMAT or self.format is None):
            issues.add(0, "", detection.problem.code, detection.problem.message)
            return None
        if self.format is None:
            self.format = detection.format
            if self.format not in self.candidates:
                self._not_accepted(name, self.format)
        return self.format


@dataclass
class _Tally:
    """What a run of records adds up to, kept apart until the whole run is accepted."""

    presence: Counter = field(default_factory=Counter)
    values: Counter = field(default_factory=Counter)  # of the format's tallied field


class _FileScan:
    """One pass over one file's lines against one format.

    Lines go through C-level map() chains, each record dropped as soon as it is visited: kept
    records would wake the garbage collector, which then costs more than decoding. Python runs
    per record only where a rule or an optional field needs it, and per line
    only for lines that fail.
    """

    def __init__(self, fmt: Format, issues: FileIssues, tokens: TokenCounter | None, sample: EvenSample | None = None):
        self.format = fmt
        self.issues = issues
        self.tokens = tokens
        self.sample = sample
        self.tallied_values: Counter[str] = Counter()
        self.records = 0
        self.lines_read = 0
        self._typed = 0  # records that decoded into the format's Struct
        self._presence: Counter[str] = Counter()
        self._duplicates = DuplicateFinder()
        self._decode = msgspec.json.Decoder(fmt.record_type).decode
        # The format's rule alone, when there is nothing to tally per record: then segments
        # cut by failing lines cost no set-up (not_ drops a record at C speed without a rule).
        # Token counting and the sample keep lines, not records: kept records would wake the garbage collector.
        per_record = fmt.optional_fields or fmt.tallied_field
        self._plain_visit = None if per_record else (fmt.check or not_)

    def run(self, batches: LineBatches, after_batch: Callable[[int], None] | None = None) -> None:
        for batch in batches:
            self._scan_batch(batch)
            self.lines_read = batch.first_line + len(batch.lines) - 1
            if self.tokens is not None:
                for line, length, exact in self.tokens.flush():
                    self.issues.add(
                        line,
                        "",
                        TOO_LONG,
                        (
                            f"{'' if exact else 'at least '}{length} tokens, over max_seq_length "
                            f"{self.tokens.max_seq_length}: training cuts the rest; shorten it or raise max_seq_length"
                        ),
                    )
            self.issues.end_batch()
            if after_batch is not None:
                after_batch(self.records)

    def _scan_batch(self, batch: LineBatch) -> None:
        self._duplicates.add(batch.lines)
        if batch.utf8:
            self._scan_lines(batch.first_line, batch.lines)
            return
        # Invalid UTF-8 may sit where the fast decoder does not look (a field it skips): lines go one by one.
        for number, line in enumerate(batch.lines, batch.first_line):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._slow(number, line, exc)
            else:
                self._scan_lines(number, [line])

    def _visitor(self, tally: _Tally) -> Callable[[msgspec.Struct], list[Problem] | None]:
        """The per-record work of this scan, writing into tally."""
        check, optional, tallied = self.format.check, self.format.optional_fields, self.format.tallied_field
        presence, values = tally.presence, tally.values

        def visit(record: msgspec.Struct) -> list[Problem] | None:
            for name in optional:
                if getattr(record, name) is not msgspec.UNSET:
                    presence[name] += 1
            if tallied:
                values[getattr(record, tallied)] += 1
            return check(record) if check is not None else None

        return visit

    def _scan_lines(self, first: int, lines: list[bytes]) -> None:
        """Segments of lines that decode, mapped in C; at a failing line, the slow path, then on.

        One iterator serves every segment: map() has taken the failing line from it when decoding
        raises, so the next segment starts after it at no cost (re-slicing the list from the
        failing line on made a batch of blank lines quadratic).
        """
        remaining = iter(lines)
        start = 0
        while start < len(lines):
            tally = None if self._plain_visit else _Tally()
            visit = self._plain_visit or self._visitor(tally)
            outcomes: list = []  # extend keeps what it appended before a line fails
            failure = None
            try:
                outcomes.extend(map(visit, map(self._decode, remaining)))
            except _FAST_ERRORS as exc:
                failure = exc
            end = start + len(outcomes)
            self._accept(first + start, outcomes, tally, lines[start:end])
            if failure is not None:
                self._slow(first + end, lines[end], failure)
            start = end + 1

    def _accept(self, first: int, outcomes: list, tally: _Tally | None, lines: list[bytes]) -> None:
        """Consecutive lines from `first` that decoded, with what visiting each returned."""
        import numpy as np

        self.records += len(outcomes)
        self._typed += len(outcomes)
        if any(outcomes):  # rarely: one C pass spares the Python loop
            for offset, problems in enumerate(outcomes):
                if problems:
                    self._problems_at(first + offset, problems)
        if tally is not None:
            self._presence.update(tally.presence)
            self.tallied_values.update(tally.values)
        if self.tokens is not None:
            self.tokens.add(first, lines)
        if self.sample is not None:
            for index in np.flatnonzero(self.sample.wanted(first, len(lines))).tolist():
                if self.sample.wants(first + index):  # the stride may have grown since
                    self.sample.add(first + index, lines[index])

    def sampled_records(self) -> tuple:
        """The sample's records, decoded again from their lines (which decoded when read)."""
        return tuple(self._decode(line) for _, line in self.sample.items) if self.sample else ()

    def _slow(self, number: int, line: bytes, error: Exception) -> None:
        self._duplicates.drop(number)
        if not line or line.isspace():
            return
        self.records += 1
        diagnosis = diagnose(line, self.format, error)
        self._problems_at(number, diagnosis.problems)
        field_of_key = dict(zip(self.format.keys, self.format.fields))
        self._presence.update(field_of_key[key] for key in diagnosis.fields if key in field_of_key)

    def _problems_at(self, number: int, problems: list[Problem]) -> None:
        for problem in problems:
            self.issues.add(number, problem.field_path, problem.code, problem.message)

    def late_issues(self) -> LateIssues:
        lines, firsts = self._duplicates.duplicates()

        def describe(index: int) -> tuple[int, str, str]:
            message = f"same record as line {firsts[index]}: it counts twice in training; drop one"
            return int(lines[index]), "", message

        return LateIssues(DUPLICATE_RECORD, lines, describe)

    def field_presence(self) -> dict[str, int]:
        counts = Counter({name: self._typed for name in self.format.required_fields})
        counts.update(self._presence)
        return {key: counts[name] for name, key in zip(self.format.fields, self.format.keys) if counts[name]}


def _size(source: Path | bytes) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size
