"""Single-turn pairs: {"instruction", "response"}, or the same as {"prompt", "completion"}."""

from __future__ import annotations

import msgspec

from ..issues import CONFLICTING_FIELDS, MISSING_FIELD, Problem
from .base import Format, Record, Text, joined

PAIRS = (("instruction", "response"), ("prompt", "completion"))


class InstructionRecord(Record):
    instruction: Text | msgspec.UnsetType = msgspec.UNSET
    response: Text | msgspec.UnsetType = msgspec.UNSET
    prompt: Text | msgspec.UnsetType = msgspec.UNSET
    completion: Text | msgspec.UnsetType = msgspec.UNSET


def check(record: InstructionRecord) -> list[Problem] | None:
    present = {name: getattr(record, name) is not msgspec.UNSET for pair in PAIRS for name in pair}
    used = [pair for pair in PAIRS if any(present[name] for name in pair)]
    if not used:
        return [Problem("", MISSING_FIELD, "needs instruction and response (or prompt and completion)")]
    if len(used) > 1:
        return [Problem("", CONFLICTING_FIELDS, "mixes instruction/response with prompt/completion: keep one pair")]
    first, second = used[0]
    return [
        Problem(name, MISSING_FIELD, f'"{name}" is missing: it pairs with "{other}"')
        for name, other in ((first, second), (second, first)) if not present[name]
    ] or None


def to_example(record: InstructionRecord) -> dict:
    """{"prompt", "completion"} whichever pair the record uses (check() has made sure it uses one)."""
    if record.instruction is not msgspec.UNSET:
        return {"prompt": record.instruction, "completion": record.response}
    return {"prompt": record.prompt, "completion": record.completion}


def training_text(record: InstructionRecord) -> str:
    values = (record.instruction, record.response, record.prompt, record.completion)
    return joined(*(value for value in values if value is not msgspec.UNSET))


FORMAT = Format(
    name="instruction_response",
    record_type=InstructionRecord,
    methods=("sft",),
    description="An instruction and its response (or a prompt and its completion).",
    training_text=training_text,
    to_example=to_example,
    check=check,
)
