"""The optimizer a job trains with: MLX's, on the job's learning-rate schedule, clipping the gradient by its
global norm when asked. Every trainer builds it here, so the options mean the same for every method.

The schedule is a function of the optimizer's step, which is part of the optimizer's state: a checkpoint
holds it, and a resumed run goes on along the same schedule.
"""

from __future__ import annotations

from collections.abc import Callable

import mlx.core as mx
import mlx.optimizers as optim

from ..domain.spec import JobSettings, optimizer_steps


def learning_rate_schedule(settings: JobSettings) -> float | Callable[[mx.array], mx.array]:
    """learning_rate, or the schedule over the run's optimizer updates: a linear warm-up from 0 over
    warmup_steps, then constant, or a linear or cosine decay reaching min_learning_rate after the last update."""
    peak, schedule = settings.learning_rate, settings.lr_schedule
    warmup = schedule.warmup_steps
    decay_steps = max(1, optimizer_steps(settings) - warmup)
    if schedule.kind == "linear":
        main = optim.linear_schedule(peak, schedule.min_learning_rate, decay_steps)
    elif schedule.kind == "cosine":
        main = optim.cosine_decay(peak, decay_steps, schedule.min_learning_rate)
    elif warmup:
        main = lambda step: mx.array(peak, mx.float32)  # noqa: E731 (a schedule: a function of the step)
    else:
        return peak
    if not warmup:
        return main
    return optim.join_schedules([optim.linear_schedule(0.0, peak, warmup), main], [warmup])


class _ClippedByGlobalNorm:
    """Mixed in before an MLX optimizer: scales the gradient down to max_grad_norm (global L2 norm) first."""

    max_grad_norm: float

    def apply_gradients(self, gradients: dict, parameters: dict):
        gradients, _ = optim.clip_grad_norm(gradients, self.max_grad_norm)
        return super().apply_gradients(gradients, parameters)


def _mlx_optimizer(settings: JobSettings, learning_rate) -> optim.Optimizer:
    options = settings.optimizer
    if options.kind == "adam":
        return optim.Adam(learning_rate=learning_rate)
    if options.kind == "adamw":
        return optim.AdamW(learning_rate=learning_rate, weight_decay=options.weight_decay)
    if options.kind == "sgd":
        return optim.SGD(learning_rate=learning_rate, momentum=options.momentum, weight_decay=options.weight_decay)
    if options.kind == "adafactor":
        # Steps of learning_rate, as the other optimizers take them: no relative step, no scaling by the
        # weights' RMS (which is 0 for a fresh LoRA B matrix).
        return optim.Adafactor(
            learning_rate=learning_rate,
            weight_decay=options.weight_decay,
            relative_step=False,
            scale_parameter=False,
        )
    return optim.Muon(learning_rate=learning_rate, momentum=options.momentum, weight_decay=options.weight_decay)


def build_optimizer(settings: JobSettings) -> optim.Optimizer:
    optimizer = _mlx_optimizer(settings, learning_rate_schedule(settings))
    max_norm = settings.optimizer.max_grad_norm
    if max_norm is not None:
        optimizer.__class__ = type(f"Clipped{type(optimizer).__name__}", (_ClippedByGlobalNorm, type(optimizer)), {})
        optimizer.max_grad_norm = max_norm
    return optimizer
