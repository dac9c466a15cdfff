"""A policy method's prompts, from the examples Format.to_example made of grpo, gspo, dr_grpo or
prompt_answer records."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.rewards import RewardExample


@dataclass(frozen=True)
class RlPrompt:
    prompt: str
    system: str | None
    reward_example: RewardExample
    domain: str | None = None  # the record's domain, when it names one


def rl_prompt(example: dict) -> RlPrompt:
    return RlPrompt(
        prompt=example["prompt"],
        system=example.get("system"),
        reward_example=RewardExample(
            answer=example["answer"],
            reference_steps=tuple(example.get("reference_steps", ())),
            step_weights=tuple(example.get("step_weights", ())),
        ),
        domain=example.get("domain"),
    )
