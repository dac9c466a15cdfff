"""The judge and reward models of online methods: where a spec names them, and whether they can serve.

Their paths go through the model roots as model_path does (file_roots.confine_spec), their weights count in
the estimate (job_estimate), and create refuses a directory the worker could not use (online_models_ready).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from droidft.v1 import job_pb2

from .datasets.tokenizer_settings import chat_templates, read_tokenizer_settings
from .datasets.tokens import TokenizerMissing, load_tokenizer
from .errors import DroidftError, ErrorKind, Reason
from .estimation import ModelFactsError
from .estimation.model_facts import safetensors_files
from .estimation.safetensors_header import HeaderError, read_header
from .judges import JUDGE_ANSWERS
from .method_families import ONLINE_METHODS, PAIRWISE_ONLINE_METHODS
from .model_check import BuildCheck, ModelUnloadable, check_loadable, unloadable
from .spec import JobSettings

if TYPE_CHECKING:
    from .preflight import Candidate, Check

# Paths inside a method's config message that name a model directory.
MODEL_FIELDS = ("judge.judge_model_path", "judge.reward_model_path", "reward_model_path")
REWARD_HEAD = "score.weight"  # transformers' *ForSequenceClassification head
REWARD_MODEL_FIELD = "reward_model_path"  # how every field naming a reward model ends
SEQUENCE_CLASSIFIER = "ForSequenceClassification"


def _field(message, dotted: str):
    """(message holding the last part, its name), or None when a part of the path is absent or unset."""
    *parents, name = dotted.split(".")
    for part in parents:
        if part not in message.DESCRIPTOR.fields_by_name or not message.HasField(part):
            return None
        message = getattr(message, part)
    if name not in message.DESCRIPTOR.fields_by_name or not message.HasField(name):
        return None
    return message, name


def spec_model_fields(spec: job_pb2.TrainingJobSpec) -> list[tuple[str, object, str]]:
    """(field path "spec.xpo.judge.judge_model_path", message, attribute) of every judge or reward model set."""
    method = spec.WhichOneof("method")
    if method not in ONLINE_METHODS:
        return []
    found = []
    for dotted in MODEL_FIELDS:
        located = _field(getattr(spec, method), dotted)
        if located is not None:
            found.append((f"spec.{method}.{dotted}", *located))
    return found


def online_model_paths(settings: JobSettings) -> list[tuple[str, str]]:
    """(field path, directory) of the judge or reward model the job loads."""
    online = settings.online
    if online is None:
        return []
    judge_prefix = f"spec.{settings.method}.judge." if settings.method in PAIRWISE_ONLINE_METHODS else None
    found = []
    if online.judge_model_path:
        found.append((f"{judge_prefix}judge_model_path", online.judge_model_path))
    if online.reward_model_path:
        field = f"{judge_prefix}reward_model_path" if judge_prefix else f"spec.{settings.method}.reward_model_path"
        found.append((field, online.reward_model_path))
    return found


def _unsupported_reward_model(field: str, path: str, why: str) -> DroidftError:
    return DroidftError(
        ErrorKind.FAILED_PRECONDITION,
        Reason.REWARD_MODEL_UNSUPPORTED,
        f"{field}: {path!r} is not a reward model droidft can score with: {why}",
        {"field": field, "path": path},
    )


def check_reward_model(field: str, directory: Path) -> None:
    """A single-label *ForSequenceClassification with its score head (online.proto, RlhfConfig.reward_model_path)."""
    path = str(directory)
    config = json.loads((directory / "config.json").read_text())
    architectures = config.get("architectures") or []
    if not any(str(name).endswith(SEQUENCE_CLASSIFIER) for name in architectures):
        raise _unsupported_reward_model(
            field, path, f"config.json architectures {architectures} name no *{SEQUENCE_CLASSIFIER}"
        )
    if not has_chat_template(directory):
        raise _unsupported_reward_model(field, path, NO_CHAT_TEMPLATE)
    labels = config.get("num_labels", len(config.get("id2label") or {}) or None)
    if labels != 1:
        raise _unsupported_reward_model(field, path, f"it has {labels} labels; a reward model has one (num_labels 1)")
    try:
        heads = [t for f in safetensors_files(directory) for t in read_header(f) if t.name == REWARD_HEAD]
    except HeaderError as error:
        raise _unsupported_reward_model(field, path, str(error)) from None
    expected = (1, config.get("hidden_size"))
    if not heads or tuple(heads[0].shape) != expected:
        found = tuple(heads[0].shape) if heads else "none"
        raise _unsupported_reward_model(field, path, f"its {REWARD_HEAD} has shape {found}, not {expected}")


NO_CHAT_TEMPLATE = "it has no chat template (tokenizer_config.json chat_template or chat_template.jinja)"


def has_chat_template(directory: Path) -> bool:
    """Judge and reward models read the prompt and completion through their own chat template."""
    return bool(chat_templates(directory, read_tokenizer_settings(directory)))  # read as check_loadable did


def check_judge_model(field: str, directory: Path) -> None:
    """The judge answers through its chat template with "1" or "2", read as two distinct first tokens."""
    path = str(directory)

    def unsupported(why: str) -> DroidftError:
        return DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.JUDGE_MODEL_UNSUPPORTED,
            f"{field}: {path!r} cannot serve as a judge: {why}",
            {"field": field, "path": path},
        )

    if not has_chat_template(directory):
        raise unsupported(NO_CHAT_TEMPLATE)
    try:
        tokenizer = load_tokenizer(directory)
    except TokenizerMissing as error:
        raise unsupported(str(error)) from None
    answers = [tokenizer.encode(digit, add_special_tokens=False).ids[:1] for digit in JUDGE_ANSWERS]
    if not all(answers) or answers[0] == answers[1]:
        raise unsupported(f"its tokenizer does not give {' and '.join(JUDGE_ANSWERS)} distinct first tokens")


def is_reward_model(field: str) -> bool:
    """Whether `field` (as online_model_paths names it) names a reward model."""
    return field.endswith(REWARD_MODEL_FIELD)


def online_models_ready(builds: BuildCheck) -> Check:
    """A check: each judge or reward model directory exists and mlx-lm loads it (builds: see model_check); a
    reward model has its score head."""

    def check(job: Candidate) -> list[str]:
        for field, path in online_model_paths(job.settings):
            directory = Path(path)
            if not (directory / "config.json").is_file():
                raise DroidftError(
                    ErrorKind.FAILED_PRECONDITION,
                    Reason.MODEL_NOT_FOUND,
                    f"{field}: model directory (with config.json) {path!r} not found on the server",
                    {"field": field, "path": path},
                )
            try:
                check_loadable(directory, builds, reward_model=is_reward_model(field))
            except (ModelUnloadable, ModelFactsError) as error:
                raise unloadable(field, path, error) from None
            if is_reward_model(field):
                check_reward_model(field, directory)
            else:
                check_judge_model(field, directory)
        return []

    return check
