"""Which format a file is in, read from its first record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from .formats import FORMATS, Format
from .issues import UNKNOWN_FORMAT, Problem
from .reader import SPLITS, LineBatch, LineBatches, layout_of, open_stream, record_batches, split_files

# Records read at most to find one JSON object to detect from.
DETECT_LINES = 1000

_decode_any = msgspec.json.Decoder().decode


@dataclass(frozen=True)
class Detection:
    format: Format | None
    has_records: bool  # a non-blank line exists
    problem: Problem | None  # unknown_format; None when a format was found


def detect(batches: LineBatches, candidates: Sequence[Format]) -> Detection:
    """The format of the first JSON object among the first records (see choose_format); closes batches."""
    try:
        return _detect(batches, candidates)
    finally:
        batches.close()  # a reader stopped early lets go of what it holds now, not when collected


def _detect(batches: Iterator[LineBatch], candidates: Sequence[Format]) -> Detection:
    first_line = None
    for number, line in _first_lines(batches):
        first_line = first_line or line
        try:
            record = _decode_any(line)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            continue
        if isinstance(record, dict):
            fmt = choose_format(record, candidates)
            if fmt is not None:
                return Detection(fmt, True, None)
            fields = ", ".join(list(record)[:8]) or "none"
            return Detection(
                None,
                True,
                Problem(
                    "",
                    UNKNOWN_FORMAT,
                    (
                        f"line {number} is no known format (its fields: {fields}); "
                        f"expected one of: {', '.join(f.name for f in candidates)}"
                    ),
                ),
            )
    if first_line is None:
        return Detection(None, False, None)
    return Detection(
        None,
        True,
        Problem(
            "",
            UNKNOWN_FORMAT,
            (f"none of the first {DETECT_LINES} lines is a JSON object: cannot tell the format"),
        ),
    )


def choose_format(record: dict, candidates: Sequence[Format]) -> Format | None:
    """The format the record is built as: all its required fields present, most of its fields
    present, the method's formats first. Validity is not asked: a broken GSPO record is GSPO
    data to report on, not GRPO data that happens to fit."""
    keys = set(record)
    for pool in (candidates, FORMATS.values()):
        complete = [fmt for fmt in pool if fmt.built_as(keys)]
        if complete:
            return max(complete, key=lambda fmt: len(keys & set(fmt.keys)))
    shared, best = max(((len(keys & set(fmt.keys)), fmt) for fmt in candidates), key=lambda pair: pair[0])
    return best if shared else None


def _first_lines(batches: Iterator[LineBatch]):
    seen = 0
    for batch in batches:
        for number, line in enumerate(batch.lines, batch.first_line):
            if line.strip():
                yield number, line
                seen += 1
                if seen >= DETECT_LINES:
                    return


def detect_format(path: str | Path) -> str:
    """The format of a data file or of a data-set directory's first split; "" when unknown."""
    path = Path(path)
    if path.is_dir():
        files = split_files(path)
        path = next((files[split] for split in SPLITS if split in files), None)
    if path is None or not path.is_file():
        return ""
    with open_stream(path) as stream:
        fmt = detect(record_batches(stream, layout_of(path.name, stream)), list(FORMATS.values())).format
    return fmt.name if fmt else ""
