"""GRPO records plus which steps matter (sparse_indicators, one 0/1 per step) and efficiency_markers."""

from __future__ import annotations

from typing import Literal

from ..issues import LENGTH_MISMATCH, Problem
from .base import Format, JsonObject
from .grpo import GrpoRecord, to_example, training_text


class GspoRecord(GrpoRecord):
    sparse_indicators: list[Literal[0, 1]]
    efficiency_markers: JsonObject


def check(record: GspoRecord) -> list[Problem] | None:
    steps, flags = len(record.reasoning_steps), len(record.sparse_indicators)
    if steps == flags:
        return None
    return [
        Problem(
            "sparse_indicators",
            LENGTH_MISMATCH,
            f"has {flags} entries but reasoning_steps has {steps}: give one 0 or 1 per reasoning step",
        )
    ]


FORMAT = Format(
    name="gspo",
    record_type=GspoRecord,
    methods=("gspo",),
    description="A GRPO record with sparse_indicators (0/1 per reasoning step) and efficiency_markers.",
    training_text=training_text,
    to_example=to_example,
    check=check,
    reference_steps=True,
)
