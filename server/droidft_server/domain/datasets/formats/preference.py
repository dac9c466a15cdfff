"""Preference pairs for DPO, ORPO and CPO: a prompt, the chosen and the rejected answer."""

from __future__ import annotations

import msgspec

from ...method_families import PREFERENCE_METHODS
from ..issues import IDENTICAL_PAIR, Problem
from .base import Format, Messages, Record, Text, joined, message_dicts, message_text, unset_to_none

Answer = Text | Messages


class PreferenceRecord(Record):
    prompt: Answer
    chosen: Answer
    rejected: Answer
    system: Text | msgspec.UnsetType = msgspec.UNSET


def check(record: PreferenceRecord) -> list[Problem] | None:
    if record.chosen != record.rejected:
        return None
    return [Problem("rejected", IDENTICAL_PAIR, "is the same as chosen: the pair teaches no preference")]


def _turns(answer: str | list, role: str) -> list[dict[str, str]]:
    return [{"role": role, "content": answer}] if isinstance(answer, str) else message_dicts(answer)


def to_example(record: PreferenceRecord) -> dict:
    """The prompt as chat turns (system first), each answer as the assistant turns that follow it."""
    system = unset_to_none(record.system)
    prompt = ([{"role": "system", "content": system}] if system else []) + _turns(record.prompt, "user")
    return {
        "prompt": prompt,
        "chosen": _turns(record.chosen, "assistant"),
        "rejected": _turns(record.rejected, "assistant"),
    }


def training_text(record: PreferenceRecord) -> str:
    # The longer answer bounds the longest sequence trained on.
    answer = max(message_text(record.chosen), message_text(record.rejected), key=len)
    system = record.system if record.system is not msgspec.UNSET else ""
    return joined(system, message_text(record.prompt), answer)


FORMAT = Format(
    name="preference",
    record_type=PreferenceRecord,
    methods=PREFERENCE_METHODS,
    description="A prompt with a chosen and a rejected answer (strings or message lists), optional system.",
    training_text=training_text,
    to_example=to_example,
    check=check,
)
