"""The slow path: why one line failed the fast decoder, every problem named exactly."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from .formats import FORMATS, Format
from .issues import (
    FORMAT_MISMATCH,
    INVALID_JSON,
    INVALID_NUMBER,
    INVALID_UTF8,
    TOO_DEEP,
    WRONG_TYPE,
    Problem,
)
from .schema import BadNumber, fits, json_kind, record_problems


@dataclass(frozen=True)
class Diagnosis:
    problems: list[Problem]
    fields: tuple[str, ...]  # top-level keys, when the line is a JSON object


def _bad_float(text: str) -> float | BadNumber:
    value = float(text)
    return BadNumber(text) if math.isinf(value) else value


# Python's reader accepts what JSON forbids (NaN, Infinity); it hands those to us instead.
_DECODER = json.JSONDecoder(parse_constant=BadNumber, parse_float=_bad_float)
# msgspec takes only strict JSON (no NaN, Infinity, out-of-range number, lone surrogate or
# invalid UTF-8), so a value it reads has nothing for Python's reader to find: most failing
# lines are well-formed JSON of the wrong shape, and this spares them a walk for bad values.
_STRICT_DECODER = msgspec.json.Decoder()


def parse(line: bytes) -> tuple[Any, list[Problem]]:
    """The line's JSON value (None when unreadable) and the problems found reading it."""
    try:
        return _STRICT_DECODER.decode(line), []
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass  # Python's reader says what is wrong, and where
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            Problem(
                "",
                INVALID_UTF8,
                (f"byte 0x{line[exc.start]:02x} at byte {exc.start + 1} is not UTF-8: save the file as UTF-8"),
            )
        ]
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        return None, [Problem("", TOO_DEEP, "nested deeper than JSON readers accept: flatten the record")]
    except json.JSONDecodeError as exc:
        return None, [Problem("", INVALID_JSON, f"not valid JSON: {exc.msg} at column {exc.colno}")]
    except ValueError as exc:  # an integer too long to convert
        return None, [Problem("", INVALID_NUMBER, f"number cannot be read: {exc}")]
    return value, list(_bad_values(value))


def _bad_values(value: Any) -> Iterable[Problem]:
    """NaN/Infinity and text that is not Unicode, anywhere in the value (iteratively: it may be deep)."""
    stack = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, BadNumber):
            yield Problem(path, INVALID_NUMBER, f"{item.text} is not a JSON number: use a finite number or null")
        elif isinstance(item, str):
            if not _is_unicode(item):
                yield Problem(path, INVALID_UTF8, "holds a lone surrogate escape (\\ud800-\\udfff), not text")
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if not _is_unicode(key):
                    yield Problem(path, INVALID_UTF8, "a key holds a lone surrogate escape, not text")
                stack.append((f"{path}.{key}" if path else key, child))


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def diagnose(line: bytes, fmt: Format, fast_error: Exception) -> Diagnosis:
    value, problems = parse(line)
    if value is None and problems:
        return Diagnosis(problems, ())
    if not isinstance(value, dict):
        problems.append(Problem("", WRONG_TYPE, f"a record must be a JSON object, found {json_kind(value)}"))
        return Diagnosis(problems, ())
    own = record_problems(value, fmt)
    if own and not fmt.built_as(set(value)):
        other = next((f for f in FORMATS.values() if f is not fmt and fits(value, f)), None)
        if other is not None:
            own = [
                Problem(
                    "",
                    FORMAT_MISMATCH,
                    (f"this record is {other.name} data, but the file is {fmt.name}: keep one format per file"),
                )
            ]
    problems += own
    if not problems:
        # Both readers disagree on this line (e.g. a lone surrogate the fast one rejects): say what it saw.
        problems.append(Problem("", INVALID_JSON, f"not valid JSON: {fast_error}"))
    return Diagnosis(problems, tuple(value))
