"""Peak memory of a training iteration, component by component.

Persistent state (weights, trainable parameters, Adam's two moments, a reference model)
lives for the whole run. On top of it, an iteration's peak is the larger of two phases:
the gradient step (gradients, activations kept for the backward pass, logits) and, for
the GRPO family, sampling (the key/value cache). The breakdown describes the peak phase,
so its components add up to the peak.

Within the gradient step of full fine-tuning, the gradients (as large as the trained weights)
and the activations do not add up: the backward pass frees activations as it makes gradients,
and the optimizer consumes each gradient as it comes. Measured on a 98M-parameter model, the
step's transient memory is the activations alone once they outweigh the gradients, and less
than the gradients when they do not; so the step peaks at the loss (every activation and the
logits) or, for short rows, at the first trained block (every gradient and that block's
activations). An adapter's gradients are small (under 1% of any measured peak) and stay counted
with the activations, as the activation copies were fitted.

Activation terms are "copies" (estimation/backends.py holds them, per backend): how many arrays of a
given size per token MLX keeps alive at the peak of mlx-lm's compiled training step. The CPU's were fitted once against
mx.get_peak_memory() on 34 SFT configurations (widths, depths, vocabularies, dtypes,
LoRA/DoRA/full); bench/estimation.py checks them on other configurations. Full fine-tuning's
own terms were fitted again, for the smallest largest error, on 15 configurations of four
shapes (hidden 96 to 768, every block or the last 2, rows of 64 to 512 tokens, a 98M-parameter
Qwen2 shape among them; each within 9.4 %): fitted on tiny models alone, a single term in the
hidden and MLP widths over-counted wide models by up to 20 %, and the part it missed grows with
the attention's width instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..spec import JobSettings
from .backends import CPU, ActivationCopies, BackendFit
from .model_facts import ModelFacts
from .workload import KV_CACHE_STEP, Pass, Workload

FLOAT32_BYTES = 4  # LoRA/DoRA weights are created in float32 whatever the model's dtype


@dataclass(frozen=True)
class MemoryBreakdown:
    weights: int = 0
    trainable_parameters: int = 0
    optimizer_state: int = 0
    gradients: int = 0
    activations: int = 0
    logits: int = 0
    kv_cache: int = 0
    reference_model: int = 0
    overhead: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class Trainable:
    parameters: int
    bytes_per_parameter: int
    blocks: int  # blocks the gradient flows through (the last `blocks` of the model)

    @property
    def bytes(self) -> int:
        return self.parameters * self.bytes_per_parameter


def optimizer_state_copies(settings: JobSettings) -> int:
    """Copies of the trainable weights the optimizer keeps, in their dtype: Adam's and AdamW's two moments,
    the momentum of SGD (when it has one) and Muon; Adafactor's factored moments are rows plus columns (~0)."""
    kind = settings.optimizer.kind
    if kind in ("adam", "adamw"):
        return 2
    if kind == "sgd":
        return 1 if settings.optimizer.momentum else 0
    return 1 if kind == "muon" else 0


def trainable(settings: JobSettings, model: ModelFacts) -> Trainable:
    """What the adapter trains: LoRA/DoRA on every linear layer of the last num_layers blocks
    (mlx-lm's default keys: for llama q, k, v, o, gate, up, down), or those whole blocks."""
    adapter = settings.adapter
    blocks = min(adapter.num_layers or model.num_layers, model.num_layers)
    if adapter.fine_tune_type == "full":
        return Trainable(model.block_parameters * blocks, model.dtype_bytes, blocks)
    per_block = sum(adapter.rank * (p.in_features + p.out_features) for p in model.projections)
    if adapter.fine_tune_type == "dora":
        per_block += sum(p.out_features for p in model.projections)  # the magnitude vector
    return Trainable(per_block * blocks, FLOAT32_BYTES, blocks)


def _per_block_token_bytes(settings: JobSettings, model: ModelFacts, width: int, copies: ActivationCopies) -> float:
    dtype = model.dtype_bytes
    bytes_ = copies.intermediate * model.intermediate_size * dtype
    bytes_ += copies.attention_probabilities * model.num_heads * width * dtype
    kind = settings.adapter.fine_tune_type
    if kind == "full":
        bytes_ += copies.full_attention * model.num_heads * width * dtype
        return bytes_ + copies.full_block * (model.hidden_size + model.intermediate_size) * dtype
    outputs = sum(p.out_features for p in model.projections)
    bytes_ += copies.lora_rank * settings.adapter.rank * len(model.projections) * FLOAT32_BYTES
    bytes_ += copies.lora_output * outputs * FLOAT32_BYTES
    if kind == "dora":
        bytes_ += copies.dora_output * outputs * FLOAT32_BYTES
    return bytes_


@dataclass(frozen=True)
class StepMemory:
    activations: int
    logits: int
    overhead: int
    first_block: int  # kept when the backward pass reaches the first trained block: its activations and the stream's


def step_memory(
    settings: JobSettings, model: ModelFacts, batch: Pass, blocks: int, copies: ActivationCopies = CPU.copies
) -> StepMemory:
    """Transient memory of one gradient evaluation over `batch`."""
    tokens = batch.tokens
    dtype = model.dtype_bytes
    grad_checkpoint = bool(settings.sft and settings.sft.grad_checkpoint)
    per_block = _per_block_token_bytes(settings, model, batch.width, copies)
    if grad_checkpoint:
        # Each block keeps only its input; one block's activations are recomputed at a time.
        kept = blocks * model.hidden_size * dtype + per_block
    else:
        kept = blocks * per_block
    stream = copies.hidden * model.hidden_size * dtype
    kept += stream
    first_block = math.ceil((per_block + stream) * tokens)
    logits = copies.logits * model.vocab_size * dtype
    attention_backward = copies.attention_backward * model.num_heads * batch.width * dtype
    # The peak is at the loss (logits and their gradient) or, for long rows, in the top block's attention backward.
    if logits >= attention_backward:
        return StepMemory(
            activations=math.ceil(kept * tokens),
            logits=math.ceil(logits * tokens),
            overhead=math.ceil(copies.framework_bytes * tokens),
            first_block=first_block,
        )
    return StepMemory(
        activations=math.ceil((kept + attention_backward) * tokens),
        logits=0,
        overhead=math.ceil(copies.framework_bytes * tokens),
        first_block=first_block,
    )


def kv_cache_bytes(model: ModelFacts, work: Workload) -> int:
    """Keys and values of every block for the rows decoded at once, plus each prompt's shared prefix cache."""
    generation = work.generation
    if generation is None:
        return 0
    per_position = 2 * model.num_layers * model.kv_dim * model.dtype_bytes

    def allocated(positions: int) -> int:
        return KV_CACHE_STEP * math.ceil(positions / KV_CACHE_STEP)

    live = generation.concurrent_rows * allocated(generation.longest_prompt_tokens + generation.completion_tokens)
    shared_prompts = generation.concurrent_rows * allocated(generation.longest_prompt_tokens)
    return per_position * (live + shared_prompts)


def copies_for(settings: JobSettings, fit: BackendFit = CPU) -> ActivationCopies:
    return fit.policy_copies if settings.policy is not None else fit.copies


def memory_breakdown(
    settings: JobSettings, model: ModelFacts, work: Workload, judge_bytes: int = 0, fit: BackendFit = CPU
) -> MemoryBreakdown:
    """The components of the predicted peak (they add up to it); judge_bytes: the weights of an online method's
    judge or reward model, frozen like the reference model and counted with it; fit: the device backend's constants."""
    train = trainable(settings, model)
    # Full fine-tuning trains the model's own weights: the trained blocks are counted once, as trainable.
    in_weights = train.bytes if settings.adapter.fine_tune_type == "full" else 0
    persistent = dict(
        weights=max(0, model.weights_bytes - in_weights),
        trainable_parameters=train.bytes,
        optimizer_state=optimizer_state_copies(settings) * train.bytes,
        reference_model=(model.weights_bytes if work.reference_model else 0) + judge_bytes,
    )
    running_sum = train.bytes if settings.grad_accumulation_steps > 1 else 0  # lives across micro-batches
    step = step_memory(settings, model, work.peak_pass, train.blocks, copies_for(settings, fit))
    alive_at_loss = running_sum + (0 if in_weights else train.bytes)
    at_loss = dict(gradients=alive_at_loss, activations=step.activations, logits=step.logits, overhead=step.overhead)
    at_first_block = dict(
        gradients=running_sum + train.bytes, activations=step.first_block, logits=0, overhead=step.overhead
    )
    gradient_phase = max(at_loss, at_first_block, key=lambda phase: sum(phase.values()))
    sampling_phase = dict(kv_cache=kv_cache_bytes(model, work))
    phase = gradient_phase if sum(gradient_phase.values()) >= sum(sampling_phase.values()) else sampling_phase
    return MemoryBreakdown(**persistent, **phase)
