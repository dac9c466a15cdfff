"""A model's chat template rendered as transformers renders it for mlx-lm: a sandboxed jinja2 environment with the
same extensions, filters and special-token variables (trained_tokens.py counts what it adds to a record)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class _GenerationBlocks(Extension):
    """transformers' {% generation %} ... {% endgeneration %} tag (it marks assistant tokens): renders its body."""

    tags: ClassVar[set[str]] = {"generation"}

    def parse(self, parser):
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _raise_exception(message: str):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _environment() -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationBlocks, loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return environment


def syntax_error(source: str) -> str | None:
    """Why the template does not compile, as transformers would compile it; None when it does."""
    try:
        _environment().from_string(source)
    except jinja2.TemplateSyntaxError as error:
        return f"line {error.lineno}: {error.message}"
    return None


class ChatTemplate:
    def __init__(self, source: str, special_tokens: dict[str, str]):
        self._template = _environment().from_string(source)
        self._special_tokens = special_tokens  # bos_token, eos_token, ...: variables the template may use

    def render(self, messages: list[dict], tools: list | None = None, add_generation_prompt: bool = False) -> str:
        variables = dict(messages=messages, tools=tools, add_generation_prompt=add_generation_prompt)
        return self._template.render(**variables, **self._special_tokens)

    def failure(
        self, conversations: Iterable[tuple[list[dict], list | None]], add_generation_prompt: bool = False
    ) -> str | None:
        """Why the template fails on the first of the (messages, tools) conversations it cannot render; None when it
        renders them all."""
        try:
            for messages, tools in conversations:
                self.render(messages, tools, add_generation_prompt)
        except jinja2.TemplateError as error:
            return str(error)
        return None
