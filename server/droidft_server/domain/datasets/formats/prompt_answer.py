"""mlx-lm-lora's own GRPO data: {"prompt", "answer"} and an optional "system"."""

from __future__ import annotations

import msgspec

from ...method_families import POLICY_METHODS
from .base import Format, Record, Text, joined


class PromptAnswerRecord(Record):
    prompt: Text
    answer: Text
    system: Text | msgspec.UnsetType = msgspec.UNSET


def training_text(record: PromptAnswerRecord) -> str:
    system = record.system if record.system is not msgspec.UNSET else ""
    return joined(system, record.prompt, record.answer)


FORMAT = Format(
    name="prompt_answer",
    record_type=PromptAnswerRecord,
    methods=POLICY_METHODS,
    description="A prompt and its exactly checkable answer, with an optional system prompt.",
    training_text=training_text,
)
