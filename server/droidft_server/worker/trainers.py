"""The trainer of each training method, keyed by the spec's method field name.

Trainers run in the worker process. Each is imported on first call, so a job
loads only its own method's libraries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .contract import TrainingContext, TrainingResult

Trainer = Callable[[TrainingContext], TrainingResult]


def _lazy(module: str, function: str) -> Trainer:
    """The trainer `function` of the sibling module `module`, imported when called."""

    def run(ctx: TrainingContext) -> TrainingResult:
        return getattr(importlib.import_module(f"{__package__}.{module}"), function)(ctx)

    return run


TRAINERS: dict[str, Trainer] = {
    "sft": _lazy("sft", "train_sft"),
    "grpo": _lazy("rl.trainer", "train_policy"),
    "gspo": _lazy("rl.trainer", "train_policy"),
    "dr_grpo": _lazy("rl.trainer", "train_policy"),
    "dpo": _lazy("preference", "train_preference"),
    "orpo": _lazy("preference", "train_preference"),
    "cpo": _lazy("preference", "train_preference"),
    "online_dpo": _lazy("online.trainer", "train_online"),
    "xpo": _lazy("online.trainer", "train_online"),
    "rlhf": _lazy("online.trainer", "train_online"),
    "ppo": _lazy("online.trainer", "train_online"),
}


def trainer_for(method: str) -> Trainer:
    if method not in TRAINERS:
        raise ValueError(f"no trainer for method {method!r}; this server trains: {', '.join(sorted(TRAINERS))}")
    return TRAINERS[method]
