"""Adapters: which weights a job trains, and the files that hold them.

The output directory is an mlx-lm adapter directory: adapter_config.json plus
adapters.safetensors, so `mlx_lm.load(model_path, adapter_path=output_dir)` applies it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten
from mlx_lm.tuner.utils import linear_to_lora_layers

from droidft.v1 import progress_pb2

from ..domain import events
from ..domain.checkpoints import ADAPTER_CONFIG_FILE, ADAPTER_FILE, checkpoint_dir, resumable_checkpoints
from ..domain.spec import AdapterSettings, JobSettings
from .contract import TrainingContext
from .training_state import (
    TrainingState,
    capture_random,
    optimizer_state,
    set_optimizer_state,
    trainable_weights,
    write_checkpoint,
)


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


def load_start_weights(model: nn.Module, path: Path) -> None:
    """Start from another job's adapter (spec.from_checkpoint): it must hold exactly the trainable weights."""
    weights = mx.load(str(path))
    expected = {name: value.shape for name, value in trainable_weights(model).items()}
    found = {name: value.shape for name, value in weights.items()}
    if found != expected:
        raise ValueError(f"{path} does not hold this job's trainable weights (another adapter type, rank or blocks)")
    model.load_weights(list(weights.items()), strict=False)


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
    """Saves full-state checkpoints and the final adapter, announcing each; restores a resumed run.

    The trainer says what its state is (`track`) once its optimizer exists; the schedule adds its own
    (early stopping's figures). A checkpoint is written whole or not at all (training_state.py).
    """

    def __init__(self, ctx: TrainingContext, model: nn.Module) -> None:
        self._ctx = ctx
        self._model = model
        self.final_path = ctx.output_dir / ADAPTER_FILE
        self._best: dict[str, mx.array] | None = None  # the weights early stopping would return to
        self._periodic: list[int] = []  # iterations of saved checkpoints still on disk, oldest first
        self._optimizer: optim.Optimizer | None = None
        self._trainer_state: Callable[[], dict] = dict
        self.schedule_state: Callable[[], dict] = dict  # set by the Schedule

    def track(self, optimizer: optim.Optimizer, trainer_state: Callable[[], dict] = dict) -> None:
        """What a checkpoint holds besides the weights: the optimizer, and the trainer's own state as JSON."""
        self._optimizer, self._trainer_state = optimizer, trainer_state

    def restore(self, state: TrainingState) -> None:
        """Put a checkpoint's weights and optimizer state back (random generators: see restore_random)."""
        self._model.load_weights(list(state.trainable.items()), strict=False)
        if self._optimizer is not None:
            set_optimizer_state(self._optimizer, state.optimizer)
        self._best = state.best
        on_disk = resumable_checkpoints(self._ctx.output_dir)
        self._periodic = [c.iteration for c in on_disk if c.iteration <= state.iteration]

    def save(self, iteration: int, **schedule_notes) -> None:
        """A full-state checkpoint after `iteration`; `schedule_notes` go with the schedule's state."""
        if not self._ctx.writes:
            return  # rank 0 writes it for every rank: their states are the same
        directory = checkpoint_dir(self._ctx.output_dir, iteration)
        state = TrainingState(
            iteration=iteration,
            trainable=trainable_weights(self._model),
            optimizer=optimizer_state(self._optimizer) if self._optimizer is not None else {},
            trainer=self._trainer_state(),
            schedule={**self.schedule_state(), **schedule_notes},
            best=self._best,
            random=capture_random(),
        )
        write_checkpoint(directory, state, self._ctx.output_dir / ADAPTER_CONFIG_FILE)
        self._ctx.emit(events.checkpoint_saved(iteration, str(directory / ADAPTER_FILE), final=False, resumable=True))
        if iteration not in self._periodic:
            self._periodic.append(iteration)
        keep = self._ctx.settings.keep_checkpoints
        while keep and len(self._periodic) > keep:  # only once the new one is safely written
            old_iteration = self._periodic.pop(0)
            shutil.rmtree(checkpoint_dir(self._ctx.output_dir, old_iteration), ignore_errors=True)
            self._ctx.emit(
                events.log(
                    progress_pb2.LOG_LEVEL_INFO,
                    f"removed the checkpoint of iteration {old_iteration} (keep_checkpoints={keep})",
                )
            )

    def keep_best(self, iteration: int) -> None:
        """Hold the current weights as the best so far (MLX arrays are immutable: no copy is made)."""
        self._best = trainable_weights(self._model)

    def save_final(self, iteration: int, *, best: bool = False) -> str:
        """Save the final adapter: the current weights, or with `best` those keep_best held (of `iteration`)."""
        if not self._ctx.writes:
            return str(self.final_path)
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        weights = self._best if best and self._best is not None else trainable_weights(self._model)
        mx.save_safetensors(str(self.final_path), weights)
        self._ctx.emit(events.checkpoint_saved(iteration, str(self.final_path), final=True))
        return str(self.final_path)


def set_up_adapter(
    ctx: TrainingContext, model: nn.Module, adapter: AdapterSettings, trains_on: str
) -> AdapterCheckpoints:
    """Make `adapter` trainable in `model`, write its config to the output directory and log what is trained
    on what (`trains_on`, e.g. "8 training records"); returns where its checkpoints and final weights go."""
    settings = ctx.settings
    num_layers = apply_adapter(model, adapter)
    if ctx.start_weights is not None:
        load_start_weights(model, ctx.start_weights)
    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    if ctx.writes:
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
