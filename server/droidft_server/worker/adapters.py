"""Adapters: which weights a job trains, and the files that hold them.

The output directory is an mlx-lm adapter directory: adapter_config.json plus
adapters.safetensors, so `mlx_lm.load(model_path, adapter_path=output_dir)` applies it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten
from mlx_lm.tuner.utils import linear_to_lora_layers

from droidft.v1 import progress_pb2

from ..domain import events
from ..domain.spec import AdapterSettings, JobSettings
from .contract import ADAPTER_CONFIG_FILE, ADAPTER_FILE, CHECKPOINT_DIR, TrainingContext


def apply_adapter(model: nn.Module, adapter: AdapterSettings) -> int:
    """Freeze the model and make trainable what `adapter` names; returns the number of blocks covered."""
    blocks = len(model.layers)
    num_layers = adapter.num_layers or blocks
    if num_layers > blocks:
        raise ValueError(f"adapter.num_layers is {num_layers} but the model has only {blocks} blocks")
    model.freeze()
    if adapter.fine_tune_type == "full":
        for block in model.layers[-num_layers:]:
            block.unfreeze()
    else:
        linear_to_lora_layers(
            model,
            num_layers,
            {"rank": adapter.rank, "scale": adapter.scale, "dropout": adapter.dropout},
            use_dora=adapter.fine_tune_type == "dora",
        )
    return num_layers


def write_adapter_config(output_dir: Path, settings: JobSettings, num_layers: int) -> None:
    """What mlx_lm.tuner.utils.load_adapters reads to rebuild the adapter layers."""
    adapter = settings.adapter
    config = {
        "model": settings.model_path,
        "method": settings.method,
        "fine_tune_type": adapter.fine_tune_type,
        "num_layers": num_layers,
    }
    if adapter.fine_tune_type != "full":
        config["lora_parameters"] = {"rank": adapter.rank, "scale": adapter.scale, "dropout": adapter.dropout}
    (output_dir / ADAPTER_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(v.size for _, v in tree_flatten(model.trainable_parameters()))
    total = sum(v.size for _, v in tree_flatten(model.parameters()))
    return trainable, total


class AdapterCheckpoints:
    """Saves the trainable weights as periodic checkpoints and as the final adapter, announcing each."""

    def __init__(self, ctx: TrainingContext, model: nn.Module) -> None:
        self._ctx = ctx
        self._model = model
        self.final_path = ctx.output_dir / ADAPTER_FILE
        self._best: dict[str, mx.array] | None = None  # the weights early stopping would return to
        self._periodic: list[tuple[int, Path]] = []  # saved checkpoints still on disk, oldest first

    def _save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        mx.save_safetensors(str(path), dict(tree_flatten(self._model.trainable_parameters())))

    def save(self, iteration: int) -> None:
        path = self._ctx.output_dir / CHECKPOINT_DIR / f"{iteration:07d}_{ADAPTER_FILE}"
        self._save(path)
        self._ctx.emit(events.checkpoint_saved(iteration, str(path), final=False))
        self._periodic.append((iteration, path))
        keep = self._ctx.settings.keep_checkpoints
        while keep and len(self._periodic) > keep:  # only once the new one is safely written
            old_iteration, old = self._periodic.pop(0)
            old.unlink(missing_ok=True)
            self._ctx.emit(
                events.log(
                    progress_pb2.LOG_LEVEL_INFO,
                    f"removed the checkpoint of iteration {old_iteration} (keep_checkpoints={keep})",
                )
            )

    def keep_best(self, iteration: int) -> None:
        """Hold the current weights as the best so far (MLX arrays are immutable: no copy is made)."""
        self._best = dict(tree_flatten(self._model.trainable_parameters()))

    def save_final(self, iteration: int, *, best: bool = False) -> str:
        """Save the final adapter: the current weights, or with `best` those keep_best held (of `iteration`)."""
        if best and self._best is not None:
            self.final_path.parent.mkdir(parents=True, exist_ok=True)
            mx.save_safetensors(str(self.final_path), self._best)
        else:
            self._save(self.final_path)
        self._ctx.emit(events.checkpoint_saved(iteration, str(self.final_path), final=True))
        return str(self.final_path)


def set_up_adapter(
    ctx: TrainingContext, model: nn.Module, adapter: AdapterSettings, trains_on: str
) -> AdapterCheckpoints:
    """Make `adapter` trainable in `model`, write its config to the output directory and log what is trained
    on what (`trains_on`, e.g. "8 training records"); returns where its checkpoints and final weights go."""
    settings = ctx.settings
    num_layers = apply_adapter(model, adapter)
    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    write_adapter_config(ctx.output_dir, replace(settings, adapter=adapter), num_layers)
    trainable, total = parameter_counts(model)
    ctx.emit(
        events.log(
            progress_pb2.LOG_LEVEL_INFO,
            f"{settings.method}: {adapter.fine_tune_type} on the last {num_layers} blocks, {trainable:,} of "
            f"{total:,} parameters trainable; {trains_on}",
        )
    )
    return AdapterCheckpoints(ctx, model)
