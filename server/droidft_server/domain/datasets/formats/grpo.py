"""Reasoning problems: {"problem", "reasoning_steps": [str], "solution"}; the base of GSPO and Dr. GRPO data."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ...method_families import PROMPT_METHODS
from .base import Format, Record, Text, joined, unset_to_none

Steps = Annotated[list[Text], msgspec.Meta(min_length=1)]


class GrpoRecord(Record):
    problem: Text
    reasoning_steps: Steps
    solution: Text


def to_example(record: GrpoRecord) -> dict:
    """A policy prompt: the problem, the answer its completions are scored against, the reference steps,
    and (GSPO, Dr. GRPO data) which steps matter and the record's domain."""
    return {
        "prompt": record.problem,
        "answer": record.solution,
        "system": None,
        "reference_steps": list(record.reasoning_steps),
        "step_weights": [float(flag) for flag in getattr(record, "sparse_indicators", ())],
        "domain": unset_to_none(getattr(record, "domain", None)),
    }


def training_text(record: GrpoRecord) -> str:
    return joined(record.problem, *record.reasoning_steps, record.solution)


FORMAT = Format(
    name="grpo",
    record_type=GrpoRecord,
    methods=PROMPT_METHODS,
    description="A problem, the reasoning steps that solve it, and the exactly checkable solution.",
    training_text=training_text,
    to_example=to_example,
    reference_steps=True,
)
