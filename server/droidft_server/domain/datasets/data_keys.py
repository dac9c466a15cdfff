"""Records whose keys are not their format's field names (DataKeys in the contract): the one home of the
mapping. A format read through a mapping decodes the records' own keys into its fields, so its rules,
its training text and its examples (what the trainer takes) are the format's own, unchanged; only the
keys the decoder looks for, and the field paths of problems, are the records'.

Validation, detection, the job's data plan and the worker all take their format through keyed().
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache

import msgspec

from ..errors import FieldViolation
from .formats.base import Format, Record
from .issues import Problem

# (format field, the key the records use for it) pairs, sorted (spec.data_keys makes them from the contract's
# DataKeys): hashable, so each keyed format is made once.
DataKeys = tuple[tuple[str, str], ...]
NO_KEYS: DataKeys = ()
RULE = "data_keys.fields_of_the_format"


def keyed(fmt: Format, keys: DataKeys) -> Format:
    """The format reading records that use these keys (fmt itself when there are none)."""
    return _keyed(fmt, keys) if keys else fmt


@cache
def _keyed(fmt: Format, keys: DataKeys) -> Format:
    renamed = dict(keys)
    record_type = fmt.record_type
    fields = [
        (info.name, info.type) if info.required else (info.name, info.type, info.default)
        for info in msgspec.structs.fields(record_type)
    ]
    # msgspec renames only the fields a class defines itself, so the keyed type defines them all again.
    keyed_type = msgspec.defstruct(
        record_type.__name__, fields, bases=(Record,), rename=renamed, module=record_type.__module__
    )
    check = fmt.check
    return dataclasses.replace(
        fmt, record_type=keyed_type, check=(lambda record: _renamed_paths(check(record), renamed)) if check else None
    )


def _renamed_paths(problems: Sequence[Problem] | None, renamed: dict[str, str]) -> list[Problem] | None:
    """A format's own problems, their field paths written with the records' keys."""
    if not problems:
        return None
    return [_renamed_problem(problem, renamed) for problem in problems]


def _renamed_problem(problem: Problem, renamed: dict[str, str]) -> Problem:
    head, sep, rest = problem.field_path.partition(".")
    name, bracket, index = head.partition("[")
    if name not in renamed:
        return problem
    return Problem(
        renamed[name] + bracket + index + sep + rest,
        problem.code,
        f'{problem.message} ({name} is the key "{renamed[name]}" by data_keys)',
    )


def keyed_candidates(candidates: Sequence[Format], keys: DataKeys) -> list[Format]:
    """The formats the data may be in under this mapping: those with every field it names, keyed
    (a mapping that mapping_violations refuses has no keyed format)."""
    return [keyed(fmt, keys) for fmt in _having(candidates, keys)]


def _having(candidates: Sequence[Format], keys: DataKeys) -> list[Format]:
    named = {field for field, _ in keys}
    return [fmt for fmt in candidates if named.issubset(fmt.fields)]


def mapping_violations(keys: DataKeys, candidates: Sequence[Format], field: str) -> list[FieldViolation]:
    """Why no format of candidates reads records through this mapping; [] when one does.

    field: the mapping's path in the request ("spec.data_keys", "data_keys")."""
    if not keys:
        return []
    known = {name for fmt in candidates for name in fmt.fields}
    described = "; ".join(f"{fmt.name}: {', '.join(fmt.fields)}" for fmt in candidates)
    violations = [
        FieldViolation(
            f'{field}.fields["{name}"]',
            f'"{name}" is no field of the data formats this data may be in; name one of their fields ({described})',
            RULE,
        )
        for name, _ in keys
        if name not in known
    ]
    if violations:
        return violations
    if not _having(candidates, keys):
        named = ", ".join(name for name, _ in keys)
        return [
            FieldViolation(
                f"{field}.fields",
                f"no one format has all of {named}: name the fields of one format ({described})",
                RULE,
            )
        ]
    return _clashes(keys, candidates, field)


def _clashes(keys: DataKeys, candidates: Sequence[Format], field: str) -> list[FieldViolation]:
    """Two fields read from one key: a field mapped onto another's name, or two onto one key."""
    renamed = dict(keys)
    violations = []
    for fmt in _having(candidates, keys):
        taken: dict[str, str] = {}
        for name in fmt.fields:
            key = renamed.get(name, name)
            if key in taken:
                mapped = name if name in renamed else taken[key]
                violations.append(
                    FieldViolation(
                        f'{field}.fields["{mapped}"]',
                        f'maps {mapped} onto "{key}", which {fmt.name} data also reads as '
                        f"{taken[key] if mapped == name else name}: give each field its own key",
                        RULE,
                    )
                )
            taken[key] = name
    return list(dict.fromkeys(violations))
