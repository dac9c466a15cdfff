"""The data formats droidft reads, keyed by name, and which training methods take which."""

from __future__ import annotations

from ...method_families import METHODS
from . import (
    chat_messages,
    dr_grpo,
    grpo,
    gspo,
    instruction_response,
    preference,
    prompt_answer,
    question_answer,
    sharegpt,
    text,
)
from .base import Format

# Most specific first: detection takes the first format a record fits
# (a Dr. GRPO record also fits grpo, whose decoder ignores the extra fields).
FORMATS: dict[str, Format] = {
    module.FORMAT.name: module.FORMAT
    for module in (
        dr_grpo,
        gspo,
        grpo,
        prompt_answer,
        question_answer,
        preference,
        chat_messages,
        sharegpt,
        instruction_response,
        text,
    )
}


class UnknownFormatError(ValueError):
    pass


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormatError(f'unknown data format "{name}"; known formats: {", ".join(FORMATS)}') from None


def formats_for_method(method_name: str) -> list[str]:
    """Formats a method trains on, its own format first; every format for an empty method name."""
    if not method_name:
        return list(FORMATS)
    if method_name not in METHODS:
        raise ValueError(f'unknown training method "{method_name}"; known methods: {", ".join(METHODS)}')
    accepted = [fmt.name for fmt in FORMATS.values() if method_name in fmt.methods]
    return sorted(accepted, key=lambda name: name != method_name)


__all__ = ["FORMATS", "METHODS", "Format", "UnknownFormatError", "formats_for_method", "get_format"]
