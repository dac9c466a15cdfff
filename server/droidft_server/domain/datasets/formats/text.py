"""Plain text: {"text": ...}, trained on whole."""

from __future__ import annotations

from .base import Format, Record, Text


class TextRecord(Record):
    text: Text


FORMAT = Format(
    name="text",
    record_type=TextRecord,
    methods=("sft",),
    description="Plain text, trained on as a whole.",
    training_text=lambda record: record.text,
    to_example=lambda record: {"text": record.text},
)
