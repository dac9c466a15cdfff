"""mlx-lm-lora's own GRPO data: {"prompt", "answer"}, an optional "system", and an optional "domain"
(Dr. GRPO trains on its own domain's records and those naming none)."""

from __future__ import annotations

from typing import Literal

import msgspec

from ...method_families import PROMPT_METHODS
from .base import Format, Record, Text, joined, unset_to_none
from .dr_grpo import DOMAINS


class PromptAnswerRecord(Record):
    prompt: Text
    answer: Text
    system: Text | msgspec.UnsetType = msgspec.UNSET
    domain: Literal[DOMAINS] | msgspec.UnsetType = msgspec.UNSET


def to_example(record: PromptAnswerRecord) -> dict:
    return {
        "prompt": record.prompt,
        "answer": record.answer,
        "system": unset_to_none(record.system),
        "domain": unset_to_none(record.domain),
    }


def training_text(record: PromptAnswerRecord) -> str:
    system = record.system if record.system is not msgspec.UNSET else ""
    return joined(system, record.prompt, record.answer)


FORMAT = Format(
    name="prompt_answer",
    record_type=PromptAnswerRecord,
    methods=PROMPT_METHODS,
    description="A prompt and its exactly checkable answer, with an optional system prompt and domain.",
    training_text=training_text,
    to_example=to_example,
)
