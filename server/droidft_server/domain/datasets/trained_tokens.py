"""Tokens an SFT or preference record trains on beyond the text the validator counts (tokens.py).

mlx-lm's SFT datasets tokenize more than a record's text: chat_messages and instruction_response
records go through the model's chat template (role markers, turn separators, and the default
system prompt some templates insert), text records get the tokenizer's special tokens and an
end-of-sequence token. Batches are padded to a multiple of 32 tokens, so these few tokens per
record can move the longest batch into the next multiple: on the tiny ChatML model a two-turn
record gains 15 tokens, and records of 20-60 text tokens train in rows of 96, not 64. The preference
methods render the prompt with each answer through the chat template too (worker/preference.py); the
longer of the two conversations is what a row holds.

The template is rendered as transformers renders it for mlx-lm (a sandboxed jinja2 environment
with the same extensions, filters and special-token variables), on an evenly spread sample of
the records that the validator keeps while it reads the data (ValidationOptions.sample_records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .formats import get_format
from .tokenizer_settings import DEFAULT_TEMPLATE_NAME, chat_templates, read_tokenizer_settings
from .tokens import load_tokenizer

if TYPE_CHECKING:  # jinja2 loads when a template is read: the server process starts without it
    from .chat_template import ChatTemplate

SAMPLE_RECORDS = 1000  # records rendered per data set, up to twice as many, evenly spread: a jinja render each
# The SFT format tokenized as it is; every other SFT format's examples are conversations ({"messages"}) that
# the trainer renders through the chat template.
PLAIN_TEXT_FORMAT = "text"
# Its examples are a prompt and two answers ({"prompt", "chosen", "rejected"}), each answer rendered after the prompt.
PREFERENCE_FORMAT = "preference"


@dataclass(frozen=True)
class TemplateTokens:
    """Tokens a record trains on beyond its text, over the sampled records."""

    mean: float
    max: int


NONE = TemplateTokens(mean=0.0, max=0)


def _token_text(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def read_chat_template(model_path: str | Path) -> ChatTemplate | None:
    """The model's chat template (chat_template.jinja, or tokenizer_config.json's), as transformers finds it."""
    from .chat_template import ChatTemplate

    settings = read_tokenizer_settings(model_path)
    special = {
        name: text for name, value in settings.items() if name.endswith("_token") and (text := _token_text(value))
    }
    source = chat_templates(model_path, settings).get(DEFAULT_TEMPLATE_NAME)  # of named ones, mlx-lm applies this
    return ChatTemplate(source, special) if source is not None else None


def _conversations(example: dict) -> list[tuple[list[dict], list | None]]:
    """The conversations (messages, tools) a record's example trains on: one (SFT), or the prompt followed by
    each answer (preference)."""
    if "chosen" in example:
        return [(example["prompt"] + example[answer], None) for answer in ("chosen", "rejected")]
    return [(example["messages"], example.get("tools"))]


NO_CHAT_TEMPLATE = "has no chat template (tokenizer_config.json's chat_template, or chat_template.jinja)"


def template_error(model_path: str | Path, format_name: str, sample: Sequence) -> str | None:
    """Why the model's chat template cannot render the conversations mlx-lm's SFT dataset for `format_name`, or
    a preference trainer, renders, tried on `sample` (records decoded as that format); None when it renders them
    (and for plain text, which no template renders)."""
    if format_name == PLAIN_TEXT_FORMAT:
        return None
    template = read_chat_template(model_path)
    if template is None:
        return NO_CHAT_TEMPLATE
    fmt = get_format(format_name)
    conversations = (conversation for record in sample for conversation in _conversations(fmt.to_example(record)))
    if (error := template.failure(conversations)) is not None:
        return f"has a chat template that fails on the data's records ({error})"
    return None


def template_tokens(model_path: str | Path, format_name: str, sample: Sequence) -> TemplateTokens:
    """Tokens mlx-lm's SFT dataset for `format_name`, or a preference trainer, adds to a record's text, measured
    on `sample` (records decoded as that format); none when the model has no chat template or it does not render
    these records (mlx-lm cannot train them)."""
    from jinja2 import TemplateError

    tokenizer = load_tokenizer(model_path)
    fmt = get_format(format_name)
    texts, trained = [], []  # per record: its text as counted, and what it trains on (one or two renders)
    try:
        templated = format_name != PLAIN_TEXT_FORMAT
        template = read_chat_template(model_path) if templated else None
        if templated and template is None:
            return NONE
        for record in sample:
            example = fmt.to_example(record)
            texts.append(fmt.training_text(record))
            if template is None:
                trained.append([example["text"]])
            else:
                trained.append([template.render(messages, tools) for messages, tools in _conversations(example)])
    except TemplateError:
        return NONE
    if not texts:
        return NONE
    counted = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    # Templated text is tokenized as it is; plain text with the tokenizer's special tokens, then mlx-lm appends EOS.
    flat = [text for renders in trained for text in renders]
    encodings = tokenizer.encode_batch_fast(flat, add_special_tokens=template is None)
    lengths = iter(len(encoding.ids) for encoding in encodings)
    longest = [max(next(lengths) for _ in renders) for renders in trained]
    end_of_sequence = 0 if template else 1
    extra = [max(0, length + end_of_sequence - len(c.ids)) for c, length in zip(counted, longest)]
    return TemplateTokens(mean=sum(extra) / len(extra), max=max(extra))
