"""Conversations: {"messages": [{"role", "content"}, ...]} with one assistant turn at least."""

from __future__ import annotations

from ..issues import NO_ASSISTANT_TURN, Problem
from .base import Format, Messages, Record, message_dicts, message_text


class ChatRecord(Record):
    messages: Messages


def check(record: ChatRecord) -> list[Problem] | None:
    messages = record.messages
    if messages[-1].role == "assistant":  # the usual shape, found without a loop (runs per record)
        return None
    for message in messages:
        if message.role == "assistant":
            return None
    return [
        Problem(
            "messages",
            NO_ASSISTANT_TURN,
            'no message has role "assistant": SFT learns from assistant turns, so add the answer as one',
        )
    ]


FORMAT = Format(
    name="chat_messages",
    record_type=ChatRecord,
    methods=("sft",),
    description="A conversation: messages with role system, user, assistant or tool, and content.",
    training_text=lambda record: message_text(record.messages),
    to_example=lambda record: {"messages": message_dicts(record.messages)},
    check=check,
)
