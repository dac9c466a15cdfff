"""Sampling G completions per prompt and recording the sampling policy's log-probabilities.

Generation is mlx-lm-lora's batched sampler (exact token ids, stop token included). Right
after it, one forward pass of the same, not yet updated, policy gives log pi_old of every
sampled token: the denominator of the importance ratio for all num_iterations updates. That
pass runs the model as the sampler did, in eval mode: with adapter dropout on it would be a
randomly thinned policy that sampled nothing, and the first, on-policy update would see ratios
away from 1 (at dropout 0.1 a quarter of GSPO's sequences were clipped on it).
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
from mlx_lm_lora.trainer.grpo_trainer import generate_grpo

from .losses import token_log_probs


@dataclass(frozen=True)
class SamplingSettings:
    group_size: int
    max_tokens: int
    temperature: float
    top_p: float

    @classmethod
    def of(cls, rollout) -> SamplingSettings:
        """The sampling part of a method's rollout settings (group, completion length, temperature, top_p)."""
        return cls(
            group_size=rollout.group_size,
            max_tokens=rollout.max_completion_length,
            temperature=rollout.temperature,
            top_p=rollout.top_p,
        )


@dataclass
class Rollout:
    """B = prompts * group_size completions, group by group; (B, W) token layout, right padded."""

    inputs: mx.array  # prompt + completion token ids
    mask: mx.array  # (B, W - 1), 1 where the target token is a completion token
    old_log_probs: mx.array  # (B, W - 1), log pi_old of each target token
    entropy: mx.array  # (B, W - 1), entropy of pi_old at each position
    ref_log_probs: mx.array | None  # (B, W - 1), the reference model's, when a KL term is used
    completion_texts: list[str]
    completion_lengths: list[int]
    prompt_indices: list[int]  # which prompt of the batch each completion answers

    @property
    def completion_tokens(self) -> int:
        return sum(self.completion_lengths)


def policy_log_probs(model: nn.Module, inputs: mx.array, temperature: float) -> tuple[mx.array, mx.array]:
    """Log-probability of each next token under the (temperature-scaled) policy, and its entropy."""
    return token_log_probs(model(inputs[:, :-1]), inputs[:, 1:], temperature)


def log_probs_as_sampled(model: nn.Module, inputs: mx.array, temperature: float) -> tuple[mx.array, mx.array]:
    """policy_log_probs of the model as it samples: in eval mode (no dropout), its training mode restored after."""
    was_training = model.training
    model.eval()
    try:
        return policy_log_probs(model, inputs, temperature)
    finally:
        model.train(was_training)


def _layout(prompts: list[list[int]], completions: list[mx.array], indices: list[int]) -> tuple[mx.array, mx.array]:
    sequences = [list(prompts[i]) + completion.tolist() for i, completion in zip(indices, completions)]
    width = max(2, max(len(seq) for seq in sequences))
    inputs = mx.array([seq + [0] * (width - len(seq)) for seq in sequences], dtype=mx.int32)
    # Target position t predicts token t + 1: a completion of length c after a prompt of length p
    # occupies targets p - 1 ... p + c - 2.
    starts = mx.array([len(prompts[i]) - 1 for i in indices])[:, None]
    lengths = mx.array([completion.size for completion in completions])[:, None]
    positions = mx.arange(width - 1)[None, :]
    mask = ((positions >= starts) & (positions < starts + lengths)).astype(mx.float32)
    return inputs, mask


def generate_completions(
    model: nn.Module, tokenizer, prompts: list[list[int]], sampling: SamplingSettings
) -> tuple[list[mx.array], list[str], list[int]]:
    """group_size completions of each prompt: their token ids (stop token included), texts and prompt indices."""
    return generate_grpo(
        model=model,
        tokenizer=tokenizer,
        prompt_tokens=prompts,
        max_tokens=sampling.max_tokens,
        group_size=sampling.group_size,
        # Decode every completion of the batch at once (their batch_size caps concurrent sequences).
        batch_size=len(prompts) * sampling.group_size,
        end_token="",
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=0,
        min_p=0.0,
    )


def sample_rollout(
    model: nn.Module,
    tokenizer,
    prompts: list[list[int]],
    sampling: SamplingSettings,
    ref_model: nn.Module | None = None,
) -> Rollout:
    completions, texts, indices = generate_completions(model, tokenizer, prompts, sampling)
    return scored_rollout(model, ref_model, prompts, completions, texts, indices, sampling.temperature)


def scored_rollout(
    model: nn.Module,
    ref_model: nn.Module | None,
    prompts: list[list[int]],
    completions: list[mx.array],
    texts: list[str],
    indices: list[int],
    temperature: float,
) -> Rollout:
    """Sampled completions laid out for training, with log pi_old (and the reference's, given a ref_model)."""
    inputs, mask = _layout(prompts, completions, indices)
    old_log_probs, entropy = log_probs_as_sampled(model, inputs, temperature)
    ref_log_probs = None
    if ref_model is not None:
        ref_log_probs, _ = log_probs_as_sampled(ref_model, inputs, temperature)
    mx.eval(old_log_probs, entropy, *([ref_log_probs] if ref_log_probs is not None else []))
    return Rollout(
        inputs=inputs,
        mask=mask,
        old_log_probs=mx.stop_gradient(old_log_probs),
        entropy=entropy,
        ref_log_probs=ref_log_probs,
        completion_texts=texts,
        completion_lengths=[completion.size for completion in completions],
        prompt_indices=indices,
    )
