"""Issue codes, their severities, and the issues found in a data set.

The codes are part of the API: clients match on them, so they never change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"  # training would fail or learn from a broken record
    WARNING = "warning"  # training runs, but the record is probably not what was meant


# Record-level codes.
INVALID_JSON = "invalid_json"
INVALID_UTF8 = "invalid_utf8"
INVALID_NUMBER = "invalid_number"
TOO_DEEP = "too_deep"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
EMPTY_VALUE = "empty_value"
UNKNOWN_ENUM_VALUE = "unknown_enum_value"
LENGTH_MISMATCH = "length_mismatch"
NO_ASSISTANT_TURN = "no_assistant_turn"
WRONG_ROLE = "wrong_role"  # a turn of a role that cannot do what it does (a user turn calling tools)
NO_SHARED_PROMPT = "no_shared_prompt"  # implicit-prompt preference lists that share no prompt
CONFLICTING_FIELDS = "conflicting_fields"
FORMAT_MISMATCH = "format_mismatch"
DUPLICATE_RECORD = "duplicate_record"
IDENTICAL_PAIR = "identical_pair"
TOO_LONG = "too_long"
# File-level codes (line 0).
NOT_FOUND = "not_found"
NO_TRAIN_FILE = "no_train_file"
EMPTY_FILE = "empty_file"
NOT_JSONL = "not_jsonl"
UNREADABLE_FILE = "unreadable_file"
LINE_TOO_LONG = "line_too_long"  # longer than reader.MAX_LINE_BYTES
DECOMPRESSED_TOO_LARGE = "decompressed_too_large"  # a gzip stream past reader.MAX_EXPANSION
UNKNOWN_FORMAT = "unknown_format"
FORMAT_NOT_ACCEPTED = "format_not_accepted"
NO_TOKENIZER = "no_tokenizer"

SEVERITY: dict[str, Severity] = {
    code: Severity.ERROR
    for code in (
        INVALID_JSON,
        INVALID_UTF8,
        INVALID_NUMBER,
        TOO_DEEP,
        MISSING_FIELD,
        WRONG_TYPE,
        EMPTY_VALUE,
        UNKNOWN_ENUM_VALUE,
        LENGTH_MISMATCH,
        NO_ASSISTANT_TURN,
        WRONG_ROLE,
        NO_SHARED_PROMPT,
        CONFLICTING_FIELDS,
        FORMAT_MISMATCH,
        NOT_FOUND,
        NO_TRAIN_FILE,
        EMPTY_FILE,
        NOT_JSONL,
        UNREADABLE_FILE,
        LINE_TOO_LONG,
        DECOMPRESSED_TOO_LARGE,
        UNKNOWN_FORMAT,
        FORMAT_NOT_ACCEPTED,
    )
} | {code: Severity.WARNING for code in (DUPLICATE_RECORD, IDENTICAL_PAIR, TOO_LONG, NO_TOKENIZER)}


@dataclass(frozen=True)
class Problem:
    """What is wrong inside one record, before it is placed in a file and line."""

    field_path: str  # e.g. "messages[2].role"; "" for the whole record
    code: str
    message: str


@dataclass(frozen=True)
class Issue:
    """One problem found in a data set, placed exactly."""

    file: str
    line: int  # 1-based; 0 when the issue is about the whole file
    field_path: str
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.code]

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field_path}" if self.field_path else ""
        return f"{where}{field}: {self.code}: {self.message}"


def quote(value: str, limit: int = 40) -> str:
    """A value as a message may show it: quoted and cut short, since records can be huge."""
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return '"' + shown.replace('"', '\\"') + '"'
