"""Seconds per iteration from work counts and the device's measured throughput.

time = FLOPs / matmul FLOP/s + bytes moved / memory bandwidth + kernels x seconds per kernel.
Products with the model's own weights run at the calibrated rate of its storage (dense
float32, 16-bit, or 4-bit quantised, whose forward and backward products differ five-fold
on the CPU); attention and adapters at the dense rate. The first
term dominates large models; the last dominates tiny ones (MLX launches a fixed number of
kernels per block whatever their size).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import JobSettings
from .backends import fit_for
from .device import DeviceProfile
from .memory import Trainable, copies_for, step_memory
from .model_facts import ModelFacts
from .workload import Pass, Workload

ACTIVATION_TRAFFIC = 3  # activations are written forward, read backward, and their gradient written


@dataclass(frozen=True)
class Flops:
    weights: float  # forward products with the model's (possibly quantised) weights
    weights_backward: float  # input gradients through those weights
    other: float  # attention, adapters: dense products of activations

    def __add__(self, other: Flops) -> Flops:
        return Flops(
            self.weights + other.weights, self.weights_backward + other.weights_backward, self.other + other.other
        )

    def scaled(self, factor: float) -> Flops:
        return Flops(self.weights * factor, self.weights_backward * factor, self.other * factor)

    def seconds(self, model: ModelFacts, device: DeviceProfile, efficiency: float | None = None) -> float:
        """Seconds on the device; efficiency: the fraction of the calibrated dense rate reached (the backend's fit)."""
        if efficiency is None:
            efficiency = fit_for(device).matmul_efficiency
        dense = efficiency * device.matmul_rate(model.dtype_bytes)
        if model.quantization is None:
            return (self.weights + self.weights_backward + self.other) / dense
        # Quantised products run at the same rate at every shape: the calibrated rates apply as they are.
        return (
            self.weights / device.quantized_matmul_flops_per_second
            + self.weights_backward / device.quantized_backward_flops_per_second
            + self.other / dense
        )


def _block_matmul_parameters(model: ModelFacts) -> int:
    return sum(p.in_features * p.out_features for p in model.projections)


def _attention_flops(model: ModelFacts, tokens: float, width: float, blocks: int) -> float:
    # Scores and weighted values: two (width x head_dim) products per head per token (MLX computes the full square).
    return blocks * 4.0 * width * model.num_heads * model.head_dim * tokens


def forward_flops(model: ModelFacts, batch: Pass) -> Flops:
    """Multiply-adds x 2 of one forward pass over every block and the output head."""
    linear = model.num_layers * _block_matmul_parameters(model) + model.vocab_size * model.hidden_size
    return Flops(2.0 * batch.tokens * linear, 0.0, _attention_flops(model, batch.tokens, batch.width, model.num_layers))


def step_flops(settings: JobSettings, model: ModelFacts, batch: Pass, train: Trainable) -> Flops:
    """Forward + backward of one gradient evaluation."""
    forward = forward_flops(model, batch)
    block_linear = _block_matmul_parameters(model)
    through = train.blocks * block_linear + model.vocab_size * model.hidden_size
    backward = Flops(
        weights=0.0,
        weights_backward=2.0 * batch.tokens * through,  # input gradients through the trained blocks and the head
        other=2 * _attention_flops(model, batch.tokens, batch.width, train.blocks),
    )
    if settings.adapter.fine_tune_type == "full":
        backward += Flops(0.0, 0.0, 2.0 * batch.tokens * train.blocks * block_linear)  # weight gradients
    else:
        adapter = sum(p.in_features + p.out_features for p in model.projections) * settings.adapter.rank
        backward += Flops(0.0, 0.0, 3 * 2.0 * batch.tokens * train.blocks * adapter)  # forward + both gradients
    total = forward + backward
    if settings.sft is not None and settings.sft.grad_checkpoint:
        total += forward.scaled(train.blocks / model.num_layers)  # checkpointed blocks run forward twice
    return total


def step_seconds(
    settings: JobSettings, model: ModelFacts, batch: Pass, train: Trainable, device: DeviceProfile
) -> float:
    fit = fit_for(device)
    transient = step_memory(settings, model, batch, train.blocks, copies_for(settings, fit))
    moved = ACTIVATION_TRAFFIC * (transient.activations + transient.logits) + 2 * model.weights_bytes
    counts = fit.kernels
    kernels = counts.per_block_step * train.blocks + counts.per_block_forward * (model.num_layers - train.blocks)
    kernels += counts.per_step
    return (
        step_flops(settings, model, batch, train).seconds(model, device)
        + moved / device.memory_bytes_per_second
        + kernels * device.seconds_per_op
    )


def forward_seconds(model: ModelFacts, batch: Pass, device: DeviceProfile) -> float:
    """A forward-only pass (old-policy or reference log-probabilities)."""
    logits_bytes = batch.tokens * model.vocab_size * 4
    counts = fit_for(device).kernels
    kernels = counts.per_block_forward * model.num_layers + counts.per_step
    return (
        forward_flops(model, batch).seconds(model, device)
        + (model.weights_bytes + 2 * logits_bytes) / device.memory_bytes_per_second
        + kernels * device.seconds_per_op
    )


def generation_seconds(model: ModelFacts, work: Workload, device: DeviceProfile) -> float:
    """Prompt processing plus one decoding step per generated token of each wave of concurrent rows."""
    generation = work.generation
    if generation is None:
        return 0.0
    waves = -(-generation.sequences // generation.concurrent_rows)
    prompt = Pass(rows=generation.concurrent_rows, width=max(1, round(generation.mean_prompt_tokens)))
    context = generation.mean_prompt_tokens + generation.completion_tokens / 2
    kv_bytes_per_row = 2 * model.num_layers * model.kv_dim * model.dtype_bytes * context
    decode = Pass(rows=generation.concurrent_rows, width=1)
    decode_flops = forward_flops(model, decode) + Flops(
        0.0, 0.0, _attention_flops(model, decode.rows, context, model.num_layers)
    )
    counts = fit_for(device).kernels
    step = (
        decode_flops.seconds(model, device, efficiency=1.0)
        + (model.weights_bytes + decode.rows * kv_bytes_per_row) / device.memory_bytes_per_second
        + ((counts.per_block_forward + counts.per_block_decode) * model.num_layers + counts.per_decode_step)
        * device.seconds_per_op
    )
    return forward_seconds(model, prompt, device) + waves * generation.completion_tokens * step


def iteration_seconds(
    settings: JobSettings,
    model: ModelFacts,
    work: Workload,
    train: Trainable,
    device: DeviceProfile,
    judge: ModelFacts | None = None,
) -> float:
    seconds = work.passes_per_iteration * step_seconds(settings, model, work.typical_pass, train, device)
    if work.generation is not None:
        # Sampling, then the sampling policy's log-probabilities of every completion.
        seconds += generation_seconds(model, work, device) + forward_seconds(model, work.typical_pass, device)
    if work.reference_model:
        seconds += forward_seconds(model, work.typical_pass, device)
    if judge is not None:  # an online method's judge or reward model reads every completion once
        seconds += forward_seconds(judge, work.typical_pass, device)
    return seconds
