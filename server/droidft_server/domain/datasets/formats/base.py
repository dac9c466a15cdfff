"""What a data format is, and the pieces its records share.

A format's record type is a msgspec Struct: the fast path decodes every line straight into it,
and the slow path (schema.py) walks the same type to name every problem of a broken record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from ..issues import Problem

Text = Annotated[str, msgspec.Meta(min_length=1)]

# ShareGPT's speakers and the chat roles they are (sharegpt.py reads them; the hints below name them).
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "tool": "tool"}
# A value a Literal refuses, with what to write instead (schema.py adds the hint to the refusal).
HINTS = "hints"
Role = Annotated[
    Literal["system", "user", "assistant", "tool"],
    msgspec.Meta(
        extra={
            HINTS: {
                **{
                    speaker: f'"{speaker}" is ShareGPT\'s name for "{role}": write "{role}"'
                    for speaker, role in SHAREGPT_ROLES.items()
                    if speaker != role
                },
                "model": '"model" is Gemini\'s name for "assistant": write "assistant"',
            }
        }
    ),
]


class Record(msgspec.Struct, gc=False):
    """Base of every record type. Records are trees decoded from JSON, never cycles, so the garbage
    collector need not track them: validation keeps thousands alive per batch, and tracking them
    made the collector take as long as the decoding."""


class JsonObject(Record):
    """A free-form JSON object (efficiency_markers, domain_context). As a Struct without fields it
    is checked to be an object while its members are skipped, not built: building them as dicts
    cost more than decoding all the rest of the record."""


class TextPart(Record):
    """One part of a content list, as OpenAI's and Hugging Face's multimodal messages write them."""

    type: Annotated[
        Literal["text"],
        msgspec.Meta(extra={HINTS: {"*": "the models droidft trains read text only: keep the text parts"}}),
    ]
    text: Text


# Content is text, or a list of text parts that are joined (CONTENT_PART_SEPARATOR) as one text.
Content = Text | Annotated[list[TextPart], msgspec.Meta(min_length=1)]
CONTENT_PART_SEPARATOR = ""  # parts join as chat templates render a list of text parts: back to back


class Message(Record):
    role: Role
    content: Content


Messages = Annotated[list[Message], msgspec.Meta(min_length=1)]


@dataclass(frozen=True)
class Format:
    """A data format: its record type, the methods that train on it, and its own rules."""

    name: str
    record_type: type[msgspec.Struct]
    methods: tuple[str, ...]
    description: str
    # The text a training sequence is made of, for token lengths.
    training_text: Callable[[Any], str]
    # The record as its trainer takes it (see training_data.py); the trainer never looks at raw keys.
    to_example: Callable[[Any], dict]
    # Rules a type cannot say (e.g. "one assistant turn at least"); None: the type says it all.
    check: Callable[[Any], Sequence[Problem] | None] | None = None
    # A field whose values validation counts per file (FileReport.tallied_values): Dr. GRPO's domain,
    # which decides the records a job keeps (record_selection.py).
    tallied_field: str | None = None
    # Its examples carry the reference solution's steps (what the step_overlap reward scores against).
    reference_steps: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        return self.record_type.__struct_fields__

    @property
    def required_fields(self) -> tuple[str, ...]:
        defaults = len(self.record_type.__struct_defaults__)
        return self.fields[: len(self.fields) - defaults]

    @property
    def optional_fields(self) -> tuple[str, ...]:
        return self.fields[len(self.required_fields) :]

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys its records give the fields in (the fields' names, unless read through data_keys.py)."""
        return self.record_type.__struct_encode_fields__

    def built_as(self, keys: set[str]) -> bool:
        """True when a record with these top-level keys is laid out as this format, valid or not."""
        return keys.issuperset(self.keys[: len(self.required_fields)]) and not keys.isdisjoint(self.keys)


def joined(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def content_text(content: str | list[TextPart]) -> str:
    if isinstance(content, str):
        return content
    return CONTENT_PART_SEPARATOR.join(part.text for part in content)


def message_dicts(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": message.role, "content": content_text(message.content)} for message in messages]


def unset_to_none(value: Any) -> Any:
    return None if value is msgspec.UNSET else value


def message_text(messages: list[Message] | str) -> str:
    if isinstance(messages, str):
        return messages
    return joined(*(content_text(message.content) for message in messages if message.content))
