"""GRPO records plus the domain, the audience's expertise level and free domain context."""

from __future__ import annotations

from typing import Literal

from .base import Format, JsonObject
from .grpo import GrpoRecord, to_example, training_text

DOMAINS = ("general", "medical", "scientific", "legal", "technical")
EXPERTISE_LEVELS = ("beginner", "intermediate", "advanced", "expert")


class DrGrpoRecord(GrpoRecord):
    domain: Literal[DOMAINS]
    expertise_level: Literal[EXPERTISE_LEVELS]
    domain_context: JsonObject


FORMAT = Format(
    name="dr_grpo",
    record_type=DrGrpoRecord,
    methods=("dr_grpo",),
    description="A GRPO record with domain, expertise_level and a domain_context object.",
    training_text=training_text,
    to_example=to_example,
    tallied_field="domain",
    reference_steps=True,
)
