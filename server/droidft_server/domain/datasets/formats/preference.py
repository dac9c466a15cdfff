"""Preference pairs for DPO, ORPO and CPO: a prompt, the chosen and the rejected answer; or TRL's
implicit prompt, chosen and rejected as whole conversations whose shared first turns are the prompt."""

from __future__ import annotations

import msgspec

from ...method_families import PREFERENCE_METHODS
from ..issues import IDENTICAL_PAIR, MISSING_FIELD, NO_SHARED_PROMPT, Problem
from .base import Format, Message, Messages, Record, Text, joined, message_dicts, message_text, unset_to_none

Answer = Text | Messages


class PreferenceRecord(Record):
    chosen: Answer
    rejected: Answer
    prompt: Answer | msgspec.UnsetType = msgspec.UNSET  # left out: the turns chosen and rejected share
    system: Text | msgspec.UnsetType = msgspec.UNSET


def shared_turns(chosen: list[Message], rejected: list[Message]) -> int:
    """How many first turns the two conversations have in common."""
    shared = 0
    for ours, theirs in zip(chosen, rejected):
        if ours != theirs:
            break
        shared += 1
    return shared


def _implicit_prompt_problems(record: PreferenceRecord) -> list[Problem] | None:
    chosen, rejected = record.chosen, record.rejected
    if isinstance(chosen, str) or isinstance(rejected, str):
        return [
            Problem(
                "prompt",
                MISSING_FIELD,
                (
                    'required field "prompt" is missing: give it, or give chosen and rejected as whole '
                    "conversations (message lists) that share their prompt turns"
                ),
            )
        ]
    shared = shared_turns(chosen, rejected)
    if shared == 0:
        return [
            Problem(
                "rejected",
                NO_SHARED_PROMPT,
                (
                    "shares no first turn with chosen: without a prompt field the turns both conversations "
                    "begin with are the prompt; begin both with the same turns, or give the prompt"
                ),
            )
        ]
    for name, turns in (("chosen", chosen), ("rejected", rejected)):
        if shared == len(turns) or turns[shared].role != "assistant":
            return [
                Problem(
                    f"{name}[{shared}]" if shared < len(turns) else name,
                    NO_SHARED_PROMPT,
                    (
                        f"after the {shared} turn(s) both conversations begin with, {name} "
                        + (f'goes on with a "{turns[shared].role}" turn' if shared < len(turns) else "ends")
                        + ": the answers compared must be assistant turns after one common prompt"
                    ),
                )
            ]
    return None


def check(record: PreferenceRecord) -> list[Problem] | None:
    if record.prompt is msgspec.UNSET:
        problems = _implicit_prompt_problems(record)
        if problems:
            return problems
    if record.chosen != record.rejected:
        return None
    return [Problem("rejected", IDENTICAL_PAIR, "is the same as chosen: the pair teaches no preference")]


def _turns(answer: str | list, role: str) -> list[dict[str, str]]:
    return [{"role": role, "content": answer}] if isinstance(answer, str) else message_dicts(answer)


def to_example(record: PreferenceRecord) -> dict:
    """The prompt as chat turns (system first), each answer as the assistant turns that follow it."""
    prompt, chosen, rejected = record.prompt, record.chosen, record.rejected
    if prompt is msgspec.UNSET:
        shared = shared_turns(chosen, rejected)
        prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
    system = unset_to_none(record.system)
    return {
        "prompt": ([{"role": "system", "content": system}] if system else []) + _turns(prompt, "user"),
        "chosen": _turns(chosen, "assistant"),
        "rejected": _turns(rejected, "assistant"),
    }


def training_text(record: PreferenceRecord) -> str:
    # The longer answer bounds the longest sequence trained on (an implicit prompt is inside both).
    answer = max(message_text(record.chosen), message_text(record.rejected), key=len)
    system = record.system if record.system is not msgspec.UNSET else ""
    prompt = message_text(record.prompt) if record.prompt is not msgspec.UNSET else ""
    return joined(system, prompt, answer)


FORMAT = Format(
    name="preference",
    record_type=PreferenceRecord,
    methods=PREFERENCE_METHODS,
    description=(
        "A prompt with a chosen and a rejected answer (strings or message lists), optional system; "
        "or chosen and rejected as whole conversations sharing their prompt turns."
    ),
    training_text=training_text,
    to_example=to_example,
    check=check,
)
