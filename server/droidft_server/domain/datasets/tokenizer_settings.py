"""A model directory's tokenizer settings (tokenizer_config.json) and chat templates, read as transformers reads
them when mlx-lm loads the tokenizer. No jinja2 here: the server imports this at start."""

from __future__ import annotations

import json
from pathlib import Path

from .tokens import TokenizerMissing, load_tokenizer

SETTINGS_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"  # read too, when there is one
TEMPLATE_FILE = "chat_template.jinja"  # transformers prefers it to the settings' chat_template
DEFAULT_TEMPLATE_NAME = "default"  # of named templates, the one mlx-lm applies


class TokenizerSettingsError(ValueError):
    """transformers would fail to read the tokenizer's settings or its chat template; the message says which."""


def read_tokenizer_settings(model_dir: str | Path) -> dict:
    """tokenizer_config.json as a dict; {} when the directory has none."""
    return read_settings_file(model_dir, SETTINGS_FILE)


def read_settings_file(model_dir: str | Path, name: str) -> dict:
    """One of the tokenizer's JSON settings files (transformers reads each as an object); {} when it is absent."""
    path = Path(model_dir) / name
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # not UTF-8 or not JSON: ValueErrors both
        raise TokenizerSettingsError(f"{name} cannot be read: {error}") from None
    if not isinstance(settings, dict):
        raise TokenizerSettingsError(f"{name} holds no JSON object: the tokenizer's settings by name")
    return settings


def chat_templates(model_dir: str | Path, settings: dict) -> dict[str, str]:
    """Each chat template the tokenizer would take, by name ("default" for a single one), with its source."""
    template_file = Path(model_dir) / TEMPLATE_FILE
    if template_file.is_file():
        try:
            return {DEFAULT_TEMPLATE_NAME: template_file.read_text(encoding="utf-8")}
        except (OSError, ValueError) as error:
            raise TokenizerSettingsError(f"{TEMPLATE_FILE} cannot be read: {error}") from None
    templates = settings.get("chat_template")
    if templates is None:
        return {}
    if isinstance(templates, str):
        return {DEFAULT_TEMPLATE_NAME: templates}
    if isinstance(templates, list) and all(
        isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("template"), str) for t in templates
    ):
        return {t["name"]: t["template"] for t in templates}
    raise TokenizerSettingsError(
        f"{SETTINGS_FILE}'s chat_template is neither a template (a string) nor a list of named templates "
        '({"name": ..., "template": ...})'
    )


def tokenizer_files_error(model_dir: Path) -> str | None:
    """Why transformers would fail as mlx-lm loads the model's tokenizer, or as it compiles the chat template when a
    prompt first needs it; None when neither would. It reads tokenizer.json, tokenizer_config.json and
    special_tokens_map.json (those there are) for every method."""
    from .chat_template import syntax_error  # jinja2 loads on the first check, not at server start

    try:
        read_settings_file(model_dir, SPECIAL_TOKENS_FILE)
        templates = chat_templates(model_dir, read_tokenizer_settings(model_dir))
        if (model_dir / "tokenizer.json").is_file():
            load_tokenizer(model_dir)
    except (TokenizerSettingsError, TokenizerMissing) as error:
        return str(error)
    for name, source in templates.items():
        if (error := syntax_error(source)) is not None:
            return f"the chat template {name!r} does not compile ({error}): fix or remove it"
    return None
