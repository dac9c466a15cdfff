"""Every problem of a decoded record against a format's record type.

The fast path only learns *that* a line fails its Struct; this walk, over the same type's
msgspec description, names each problem with its field path. It runs on failing lines only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect as mi

from .formats.base import HINTS, Format
from .issues import EMPTY_VALUE, MISSING_FIELD, UNKNOWN_ENUM_VALUE, WRONG_TYPE, Problem, quote

# A record with a million wrong items gets this many issues, not a million.
MAX_PROBLEMS_PER_RECORD = 20


class BadNumber:
    """Stands for NaN, Infinity or an out-of-range number, which JSON does not allow."""

    def __init__(self, text: str):
        self.text = text


_KIND_OF_VALUE = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    BadNumber: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_kind(value: Any) -> str:
    """The JSON kind of a value as either JSON reader builds it (exactly these Python types)."""
    return _KIND_OF_VALUE.get(type(value), "object")


_KIND_OF_TYPE = {
    mi.StrType: "string",
    mi.IntType: "number",
    mi.FloatType: "number",
    mi.BoolType: "boolean",
    mi.ListType: "array",
    mi.DictType: "object",
    mi.StructType: "object",
    mi.NoneType: "null",
}


def _expected_kind(info: mi.Type) -> str:
    if isinstance(info, mi.Metadata):
        return _expected_kind(info.type)
    if isinstance(info, mi.LiteralType):
        return json_kind(info.values[0])
    return _KIND_OF_TYPE.get(type(info), "value")


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


# Checks a value at a field path, appending what is wrong with it.
Check = Callable[[Any, str, list[Problem]], None]


@cache
def _record_check(record_type: type) -> Check:
    # Built once per type (type_info evaluates annotations, and a check made of closures runs
    # several times faster than walking the type description for every failing line).
    return _check_for(mi.type_info(record_type))


def record_problems(record: dict, fmt: Format) -> list[Problem]:
    """Problems of a decoded JSON object against the format's type, in field order."""
    problems: list[Problem] = []
    _record_check(fmt.record_type)(record, "", problems)
    return problems[:MAX_PROBLEMS_PER_RECORD]


def fits(record: dict, fmt: Format) -> bool:
    """True when the record is a valid record of the format, its own rules included."""
    try:
        typed = msgspec.convert(record, fmt.record_type)
    except msgspec.ValidationError:
        return False
    return not (fmt.check and fmt.check(typed))


def _check_for(info: mi.Type) -> Check:
    if isinstance(info, mi.AnyType):
        return _no_check
    if isinstance(info, mi.UnionType):
        return _union_check(info)
    expected, check_value = _expected_kind(info), _value_check(info)

    def check(value: Any, path: str, problems: list[Problem]) -> None:
        found = json_kind(value)
        if type(value) is BadNumber:
            return  # bad numbers are reported where they are found, whatever the type
        if found != expected:
            problems.append(Problem(path, WRONG_TYPE, f"expected {_a(expected)}, found {_a(found)}"))
        elif check_value is not None:
            check_value(value, path, problems)

    return check


def _no_check(value: Any, path: str, problems: list[Problem]) -> None:
    return None


def _union_check(info: mi.UnionType) -> Check:
    members = [(_expected_kind(member), _check_for(member)) for member in info.types]
    kinds = " or ".join(_a(kind) for kind, _ in members)

    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if type(value) is BadNumber:
            return
        found = json_kind(value)
        member = next((check for kind, check in members if kind == found), None)
        if member is not None:
            member(value, path, problems)
        else:
            problems.append(Problem(path, WRONG_TYPE, f"expected {kinds}, found {_a(found)}"))

    return check


def _value_check(info: mi.Type) -> Check | None:
    """What to check of a value once it is of the expected kind; None: nothing."""
    if isinstance(info, mi.Metadata):
        hints = (info.extra or {}).get(HINTS, {})
        if isinstance(info.type, mi.LiteralType):
            return _literal_check(info.type, hints)
        return _value_check(info.type)
    if isinstance(info, mi.LiteralType):
        return _literal_check(info)
    if isinstance(info, mi.StrType) and info.min_length:
        return _non_empty_string
    if isinstance(info, mi.ListType):
        return _list_check(info)
    if isinstance(info, mi.StructType):
        return _struct_check(info)
    return None


def _literal_check(info: mi.LiteralType, hints: dict[str, str] | None = None) -> Check:
    """hints: what to write instead of a refused value, by value ("*": for any other value)."""
    allowed = ", ".join(str(v) for v in info.values)
    hints = hints or {}

    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if value not in info.values or isinstance(value, bool):
            shown = quote(value) if isinstance(value, str) else str(value)
            hint = hints.get(value, hints.get("*")) if isinstance(value, str) else hints.get("*")
            problems.append(
                Problem(path, UNKNOWN_ENUM_VALUE, f"{shown} is not one of: {allowed}" + (f"; {hint}" if hint else ""))
            )

    return check


def _non_empty_string(value: str, path: str, problems: list[Problem]) -> None:
    if not value:
        problems.append(Problem(path, EMPTY_VALUE, "is an empty string: write the text or drop the record"))


def _list_check(info: mi.ListType) -> Check:
    check_item = _check_for(info.item_type)

    def check(value: list, path: str, problems: list[Problem]) -> None:
        if info.min_length and not value:
            problems.append(Problem(path, EMPTY_VALUE, "is an empty array: give at least one item"))
        for i, item in enumerate(value):
            if len(problems) >= MAX_PROBLEMS_PER_RECORD:
                return  # a record with a million wrong items: the rest is not looked at
            check_item(item, f"{path}[{i}]", problems)

    return check


def _struct_check(info: mi.StructType) -> Check:
    # encode_name: the key as the JSON has it (ShareGPT's "from" is the field from_).
    fields = [(field.encode_name, field.required, _check_for(field.type)) for field in info.fields]

    def check(value: dict, path: str, problems: list[Problem]) -> None:
        for name, required, check_field in fields:
            inner = f"{path}.{name}" if path else name
            if name in value:
                check_field(value[name], inner, problems)
            elif required:
                has = ", ".join(quote(key, 20) for key in list(value)[:8]) or "no fields"
                problems.append(Problem(inner, MISSING_FIELD, f'required field "{name}" is missing (found: {has})'))

    return check
