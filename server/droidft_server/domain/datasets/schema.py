"""Every problem of a decoded record against a format's record type.

The fast path only learns *that* a line fails its Struct; this walk, over the same type's
msgspec description, names each problem with its field path. It runs on failing lines only.
"""

from __future__ import annotations

from functools import cache
from itertools import islice
from typing import Any, Iterator

import msgspec
import msgspec.inspect as mi

from .formats.base import Format
from .issues import EMPTY_VALUE, MISSING_FIELD, UNKNOWN_ENUM_VALUE, WRONG_TYPE, Problem, quote

# A record with a million wrong items gets this many issues, not a million.
MAX_PROBLEMS_PER_RECORD = 20


class BadNumber:
    """Stands for NaN, Infinity or an out-of-range number, which JSON does not allow."""

    def __init__(self, text: str):
        self.text = text


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, BadNumber)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_KIND_OF_TYPE = {
    mi.StrType: "string", mi.IntType: "number", mi.FloatType: "number", mi.BoolType: "boolean",
    mi.ListType: "array", mi.DictType: "object", mi.StructType: "object", mi.NoneType: "null",
}


def _expected_kind(info: mi.Type) -> str:
    if isinstance(info, mi.LiteralType):
        return json_kind(info.values[0])
    return _KIND_OF_TYPE.get(type(info), "value")


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


@cache
def _type_info(record_type: type) -> mi.Type:
    return mi.type_info(record_type)  # slow (it evaluates annotations): once per type


def record_problems(record: dict, fmt: Format) -> list[Problem]:
    """Problems of a decoded JSON object against the format's type, in field order."""
    return list(islice(_walk(record, _type_info(fmt.record_type), ""), MAX_PROBLEMS_PER_RECORD))


def fits(record: dict, fmt: Format) -> bool:
    """True when the record is a valid record of the format, its own rules included."""
    try:
        typed = msgspec.convert(record, fmt.record_type)
    except msgspec.ValidationError:
        return False
    return not (fmt.check and fmt.check(typed))


def _walk(value: Any, info: mi.Type, path: str) -> Iterator[Problem]:
    if isinstance(value, BadNumber) or isinstance(info, mi.AnyType):
        return  # bad numbers are reported where they are found, whatever the type
    if isinstance(info, mi.UnionType):
        matching = [member for member in info.types if _expected_kind(member) == json_kind(value)]
        if matching:
            yield from _walk(value, matching[0], path)
        else:
            kinds = " or ".join(_a(_expected_kind(member)) for member in info.types)
            yield Problem(path, WRONG_TYPE, f"expected {kinds}, found {_a(json_kind(value))}")
        return
    expected, found = _expected_kind(info), json_kind(value)
    if expected != found:
        yield Problem(path, WRONG_TYPE, f"expected {_a(expected)}, found {_a(found)}")
        return
    if isinstance(info, mi.LiteralType):
        if value not in info.values or isinstance(value, bool):
            allowed = ", ".join(str(v) for v in info.values)
            shown = quote(value) if isinstance(value, str) else str(value)
            yield Problem(path, UNKNOWN_ENUM_VALUE, f"{shown} is not one of: {allowed}")
    elif isinstance(info, mi.StrType):
        if info.min_length and not value:
            yield Problem(path, EMPTY_VALUE, "is an empty string: write the text or drop the record")
    elif isinstance(info, mi.ListType):
        if info.min_length and not value:
            yield Problem(path, EMPTY_VALUE, "is an empty array: give at least one item")
        for i, item in enumerate(value):
            yield from _walk(item, info.item_type, f"{path}[{i}]")
    elif isinstance(info, mi.StructType):
        for field in info.fields:
            inner = f"{path}.{field.name}" if path else field.name
            if field.name in value:
                yield from _walk(value[field.name], field.type, inner)
            elif field.required:
                has = ", ".join(quote(key, 20) for key in list(value)[:8]) or "no fields"
                yield Problem(inner, MISSING_FIELD, f'required field "{field.name}" is missing (found: {has})')
