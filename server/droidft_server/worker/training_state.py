"""Full-state checkpoints: everything a run needs to go on exactly where it stopped.

A checkpoint is a directory `checkpoints/<iteration:07d>/` that is also an mlx-lm adapter directory
(adapter_config.json + adapters.safetensors, so `mlx_lm.load(model, adapter_path=<dir>)` applies it), plus
- optimizer.safetensors: the optimizer's state (moments, step, learning rate);
- random.safetensors and state.json: MLX's key, NumPy's global generator, Python's `random`, and the
  trainer's own state (data position, its generators, counters) and the schedule's (early stopping);
- best.safetensors: the weights early stopping would return to, when it holds any;
- manifest.json, written last: the iteration and every file's size and SHA-256.

It is written into a temporary directory, each file fsynced, the manifest last, then renamed into place
and the parent fsynced: a process killed while writing leaves a temporary directory that is never read,
and a directory whose manifest does not match its files is not resumable (domain/checkpoints.py's
`read_manifest` says why).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten

from ..domain.checkpoints import (
    ADAPTER_CONFIG_FILE,
    ADAPTER_FILE,
    FORMAT_VERSION,
    MANIFEST_FILE,
    TEMPORARY_PREFIX,
    file_digest,
    read_manifest,
)

OPTIMIZER_FILE = "optimizer.safetensors"
RANDOM_FILE = "random.safetensors"
STATE_FILE = "state.json"
BEST_FILE = "best.safetensors"


@dataclass
class TrainingState:
    """What a run is, between two iterations."""

    iteration: int
    trainable: dict[str, mx.array]  # the adapter (or the fine-tuned blocks' weights)
    optimizer: dict[str, mx.array]  # flattened optimizer state
    trainer: dict[str, Any] = field(default_factory=dict)  # JSON: data position, counters, the trainer's generators
    schedule: dict[str, Any] = field(default_factory=dict)  # JSON: early stopping's best figure and where
    best: dict[str, mx.array] | None = None  # the weights early stopping keeps
    random: dict[str, Any] = field(default_factory=dict)  # captured by capture_random()


# -- random generators ---------------------------------------------------------------------------


def capture_random() -> dict[str, Any]:
    """MLX's key, NumPy's global MT19937 and Python's `random`, as they are now."""
    high, low = (int(v) for v in mx.random.state[0].tolist())
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, python_state, gauss = random.getstate()
    return {
        "mlx_key": (high << 32) | low,
        "numpy": {
            "kind": kind,
            "keys": keys,
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "state": list(python_state), "gauss": gauss},
    }


def restore_random(captured: dict[str, Any]) -> None:
    # MLX offers no setter for its key, but seeding with the 64-bit integer of a key sets exactly that key.
    mx.random.seed(captured["mlx_key"])
    numpy = captured["numpy"]
    keys = np.asarray(numpy["keys"], dtype=np.uint32)
    np.random.set_state((numpy["kind"], keys, numpy["position"], numpy["has_gauss"], numpy["cached_gaussian"]))
    python = captured["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))


def generator_state(generator: np.random.Generator) -> dict[str, Any]:
    """A NumPy Generator's bit generator state as JSON."""
    return json.loads(json.dumps(generator.bit_generator.state, default=int))


def set_generator_state(generator: np.random.Generator, state: dict[str, Any]) -> None:
    generator.bit_generator.state = state


# -- optimizer -----------------------------------------------------------------------------------


def optimizer_state(optimizer: optim.Optimizer) -> dict[str, mx.array]:
    return dict(tree_flatten(optimizer.state))


def set_optimizer_state(optimizer: optim.Optimizer, flat: dict[str, mx.array]) -> None:
    """Give the optimizer a saved state; it keeps it (init only fills in what is missing)."""
    optimizer.state = tree_unflatten(list(flat.items()))


def trainable_weights(model: nn.Module) -> dict[str, mx.array]:
    return dict(tree_flatten(model.trainable_parameters()))


# -- files ---------------------------------------------------------------------------------------


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(directory: Path, state: TrainingState, adapter_config: Path) -> None:
    """Write `state` as the checkpoint `directory`, atomically (see the module's docstring); an existing
    checkpoint of that name (from a timeline a resume abandoned) is replaced."""
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    temporary = parent / f"{TEMPORARY_PREFIX}{directory.name}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    mx.save_safetensors(str(temporary / ADAPTER_FILE), state.trainable)
    mx.save_safetensors(str(temporary / OPTIMIZER_FILE), state.optimizer)
    numpy_keys = state.random["numpy"]["keys"]
    mx.save_safetensors(str(temporary / RANDOM_FILE), {"numpy_keys": mx.array(np.asarray(numpy_keys, np.uint32))})
    if state.best is not None:
        mx.save_safetensors(str(temporary / BEST_FILE), state.best)
    random_json = {**state.random, "numpy": {k: v for k, v in state.random["numpy"].items() if k != "keys"}}
    body = {"iteration": state.iteration, "trainer": state.trainer, "schedule": state.schedule, "random": random_json}
    (temporary / STATE_FILE).write_text(json.dumps(body), encoding="utf-8")
    shutil.copyfile(adapter_config, temporary / ADAPTER_CONFIG_FILE)
    files = {}
    for path in sorted(temporary.iterdir()):
        _fsync_file(path)
        files[path.name] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
    manifest = {"format": FORMAT_VERSION, "iteration": state.iteration, "files": files}
    (temporary / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    _fsync_file(temporary / MANIFEST_FILE)
    _fsync_dir(temporary)
    if directory.exists():  # move the old one aside first: a rename does not replace a non-empty directory
        abandoned = parent / f"{TEMPORARY_PREFIX}{directory.name}-replaced-{os.getpid()}"
        os.rename(directory, abandoned)
        os.rename(temporary, directory)
        shutil.rmtree(abandoned, ignore_errors=True)
    else:
        os.rename(temporary, directory)
    _fsync_dir(parent)


def read_checkpoint(directory: Path) -> TrainingState:
    """The state a checkpoint holds, after its manifest checked out."""
    manifest = read_manifest(directory)
    body = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    captured = body["random"]
    captured["numpy"]["keys"] = np.array(mx.load(str(directory / RANDOM_FILE))["numpy_keys"], dtype=np.uint32)
    best_path = directory / BEST_FILE
    return TrainingState(
        iteration=int(manifest["iteration"]),
        trainable=mx.load(str(directory / ADAPTER_FILE)),
        optimizer=mx.load(str(directory / OPTIMIZER_FILE)),
        trainer=body["trainer"],
        schedule=body["schedule"],
        best=mx.load(str(best_path)) if best_path.is_file() else None,
        random=captured,
    )
