"""Whether the installed mlx-lm can load a model directory, decided without reading weight data: config.json, the
tokenizer files and the safetensors headers here, then the model built from them by mlx-lm itself, through an
injected BuildCheck (the server's imports MLX in a process of its own, supervisor/build_checker.py)."""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from .datasets.tokenizer_settings import tokenizer_files_error
from .errors import DroidftError, ErrorKind, Reason
from .estimation import ModelFacts, ModelFactsError, read_model_facts

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")

# Builds a model directory as the training worker's mlx-lm load does: the architecture from config.json, and every
# stored weight's name and shape checked against it, without reading a weight's data. Answers None when it builds,
# else mlx-lm's reason. The flag says the model is a reward model, whose backbone the worker loads without its
# score head: every backbone weight stored, the head left to check_reward_model.
BuildCheck = Callable[[Path, bool], "str | None"]


class ModelUnloadable(ValueError):
    """mlx-lm would fail to load the model; the message says why and what to do."""


def unloadable(field: str, path: str, error: Exception) -> DroidftError:
    """The refusal of a model (the job's, or its judge or reward model) that mlx-lm would fail to load."""
    return DroidftError(
        ErrorKind.FAILED_PRECONDITION,
        Reason.MODEL_UNLOADABLE,
        f"{field}: the model at {path!r} cannot be loaded: {error}",
        {"field": field, "path": path},
    )


@lru_cache(maxsize=1)
def _mlx_lm_models() -> tuple[Path, dict, dict]:
    """mlx-lm's models folder and its model-type remappings, read from its source (importing it loads MLX)."""
    spec = importlib.util.find_spec("mlx_lm")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnloadable("mlx-lm is not installed on the server")
    package = Path(next(iter(spec.submodule_search_locations)))
    remappings = {"MODEL_REMAPPING": {}, "MODEL_ARCHITECTURE_REMAPPING": {}}
    for node in ast.parse((package / "utils.py").read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", "") in remappings:
            with contextlib.suppress(ValueError):  # not a literal in this version: the model type is taken as is
                remappings[node.targets[0].id] = ast.literal_eval(node.value)
    return package / "models", remappings["MODEL_REMAPPING"], remappings["MODEL_ARCHITECTURE_REMAPPING"]


def architecture_module(config: dict) -> str:
    """The mlx_lm.models module mlx-lm builds this config with (as its _get_classes chooses it)."""
    model_type = str(config.get("model_type", ""))
    _, remapping, by_architecture = _mlx_lm_models()
    architectures = config.get("architectures") or ()
    if isinstance(architectures, str):
        architectures = (architectures,)
    for architecture in architectures:
        if (model_type, architecture) in by_architecture:
            return by_architecture[(model_type, architecture)]
    return remapping.get(model_type, model_type)


def check_loadable(model_dir: Path, builds: BuildCheck, *, reward_model: bool = False) -> ModelFacts:
    """The model's facts when mlx-lm can load it; ModelUnloadable otherwise."""
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise ModelUnloadable(f"config.json cannot be read: {error}") from None
    if not isinstance(config, dict) or not config.get("model_type"):
        raise ModelUnloadable("config.json names no model_type: mlx-lm picks the architecture by it")
    models, _, _ = _mlx_lm_models()
    module = architecture_module(config)
    if not module.isidentifier() or not (models / f"{module}.py").is_file():
        known = sorted(path.stem for path in models.glob("*.py") if not path.stem.startswith("_"))
        raise ModelUnloadable(
            f"model_type {config['model_type']!r} is not an architecture the installed mlx-lm knows "
            f"({len(known)} known, e.g. {', '.join(known[:8])}): convert the model or upgrade mlx-lm"
        )
    if not any((model_dir / name).is_file() for name in TOKENIZER_FILES):
        raise ModelUnloadable(
            f"no tokenizer: the directory needs {' or '.join(TOKENIZER_FILES)} "
            "(copy them from the model's original repository)"
        )
    check_tokenizer_settings(model_dir)
    try:
        facts = read_model_facts(model_dir)
    except (ModelFactsError, OSError) as error:
        raise ModelUnloadable(str(error)) from None
    _check_weights_match(config, facts)
    _check_heads_share_out(config)
    check_builds(model_dir, builds, reward_model=reward_model)
    return facts


def check_builds(model_dir: Path, builds: BuildCheck, *, reward_model: bool = False) -> None:
    if (reason := builds(model_dir, reward_model)) is not None:
        raise ModelUnloadable(f"mlx-lm cannot build it: {reason}")


def refuse_unbuildable(field: str, path: str, builds: BuildCheck, *, reward_model: bool = False) -> None:
    """The refusal (MODEL_UNLOADABLE on `field`) of a model mlx-lm cannot build, for a call that checks no more of
    it; a directory without config.json is left to the caller's own answer (MODEL_UNREADABLE)."""
    model_dir = Path(path)
    if not (model_dir / "config.json").is_file():
        return
    try:
        check_builds(model_dir, builds, reward_model=reward_model)
    except ModelUnloadable as error:
        raise unloadable(field, path, error) from None


def _check_heads_share_out(config: dict) -> None:
    """Attention's query heads must share the key/value heads evenly: a model that breaks this builds and loads,
    and fails at its first forward pass."""
    heads, kv_heads = config.get("num_attention_heads"), config.get("num_key_value_heads")
    if isinstance(heads, int) and isinstance(kv_heads, int) and kv_heads > 0 and heads % kv_heads:
        raise ModelUnloadable(
            f"config.json has num_attention_heads {heads}, which num_key_value_heads {kv_heads} does not divide: "
            "attention fails at the first step"
        )


def check_tokenizer_settings(model_dir: Path) -> None:
    """The tokenizer files, checked before a job starts (tokenizer_settings.tokenizer_files_error)."""
    if (error := tokenizer_files_error(model_dir)) is not None:
        raise ModelUnloadable(error)


def _check_weights_match(config: dict, facts: ModelFacts) -> None:
    declared = config.get("num_hidden_layers")
    if declared is not None and facts.weight_blocks and facts.weight_blocks != int(declared):
        raise ModelUnloadable(
            f"config.json has num_hidden_layers {declared} but the weights hold "
            f"{facts.weight_blocks} blocks: the weights are not this config's"
        )
    if facts.embedding_shape is not None and facts.quantization is None:
        expected = (facts.vocab_size, facts.hidden_size)
        if tuple(facts.embedding_shape) != expected:
            raise ModelUnloadable(
                f"embed_tokens.weight has shape {tuple(facts.embedding_shape)} but config.json "
                f"gives vocab_size x hidden_size = {expected}: the weights are not this config's"
            )
