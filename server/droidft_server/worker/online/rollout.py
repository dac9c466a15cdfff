"""XPO's pairs: per prompt one completion from the policy and one from the reference model, as rows 2i and 2i + 1."""

from __future__ import annotations

from dataclasses import replace

import mlx.nn as nn

from ..rl.rollout import Rollout, SamplingSettings, generate_completions, scored_rollout


def _sample_one_each(model: nn.Module, tokenizer, prompts: list[list[int]], sampling: SamplingSettings):
    completions, texts, _ = generate_completions(model, tokenizer, prompts, replace(sampling, group_size=1))
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
