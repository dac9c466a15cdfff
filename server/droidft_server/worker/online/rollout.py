"""XPO's pairs: per prompt one completion from the policy and one from the reference model, as rows 2i and 2i + 1."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
from mlx_lm_lora.trainer.grpo_trainer import generate_grpo

from ..rl.rollout import Rollout, SamplingSettings, _layout, log_probs_as_sampled


def _sample_one_each(model: nn.Module, tokenizer, prompts: list[list[int]], sampling: SamplingSettings):
    completions, texts, _ = generate_grpo(
        model=model,
        tokenizer=tokenizer,
        prompt_tokens=prompts,
        max_tokens=sampling.max_tokens,
        group_size=1,
        batch_size=len(prompts),
        end_token="",
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=0,
        min_p=0.0,
    )
    return completions, texts


def sample_policy_reference_pairs(
    model: nn.Module, ref_model: nn.Module, tokenizer, prompts: list[list[int]], sampling: SamplingSettings
) -> Rollout:
    policy, policy_texts = _sample_one_each(model, tokenizer, prompts, sampling)
    reference, reference_texts = _sample_one_each(ref_model, tokenizer, prompts, sampling)
    completions = [c for pair in zip(policy, reference, strict=True) for c in pair]
    texts = [t for pair in zip(policy_texts, reference_texts, strict=True) for t in pair]
    indices = [i for i in range(len(prompts)) for _ in range(2)]
    inputs, mask = _layout(prompts, completions, indices)
    old_log_probs, entropy = log_probs_as_sampled(model, inputs, sampling.temperature)
    ref_log_probs, _ = log_probs_as_sampled(ref_model, inputs, sampling.temperature)
    mx.eval(old_log_probs, entropy, ref_log_probs)
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
