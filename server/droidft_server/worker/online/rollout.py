"""XPO's pairs: per prompt one completion from the policy and one from the reference model, as rows 2i and 2i + 1."""

from __future__ import annotations

import mlx.nn as nn
from mlx_lm_lora.trainer.grpo_trainer import generate_grpo

from ..rl.rollout import Rollout, SamplingSettings, scored_rollout


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
    return scored_rollout(model, ref_model, prompts, completions, texts, indices, sampling.temperature)
