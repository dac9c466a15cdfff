"""ShareGPT conversations: {"conversations": [{"from": "human"/"gpt"/"system"/"tool", "value"}, ...]},
trained as chat_messages with the speakers as roles (human: user, gpt: assistant)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ..issues import Problem
from .base import HINTS, SHAREGPT_ROLES, Format, Record, Text, joined
from .chat_messages import no_assistant_turn

ASSISTANT = "gpt"
Speaker = Annotated[
    Literal[tuple(SHAREGPT_ROLES)],
    msgspec.Meta(
        extra={
            HINTS: {
                role: f'"{role}" is a chat role: ShareGPT writes "{speaker}" (or give the turns as messages '
                "with role and content)"
                for speaker, role in SHAREGPT_ROLES.items()
                if speaker != role
            }
        }
    ),
]


class Turn(Record):
    speaker: Speaker = msgspec.field(name="from")
    value: Text


class ShareGptRecord(Record):
    conversations: Annotated[list[Turn], msgspec.Meta(min_length=1)]


def check(record: ShareGptRecord) -> list[Problem] | None:
    if any(turn.speaker == ASSISTANT for turn in record.conversations):
        return None
    return [no_assistant_turn("conversations", ASSISTANT)]


def to_example(record: ShareGptRecord) -> dict:
    return {
        "messages": [{"role": SHAREGPT_ROLES[turn.speaker], "content": turn.value} for turn in record.conversations],
        "tools": None,
    }


FORMAT = Format(
    name="sharegpt",
    record_type=ShareGptRecord,
    methods=("sft",),
    description='A ShareGPT conversation: turns "from" human, gpt, system or tool with their "value".',
    training_text=lambda record: joined(*(turn.value for turn in record.conversations)),
    to_example=to_example,
    check=check,
)
