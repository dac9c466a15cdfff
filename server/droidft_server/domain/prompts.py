"""System prompts the GRPO family builds: Dr. GRPO's per domain and expertise level, GRPO's step format.

Exported as SYSTEM_PROMPT_TEMPLATES so that ListTrainingMethods shows exactly what a job sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rewards import WeightedReward
    from .spec import PolicySettings

# Kept short: the system prompt is part of every sampled sequence, so its length costs every rollout.
DOMAIN_ROLES = {
    "general": "a careful assistant",
    "medical": "a clinician; put safety and evidence first",
    "scientific": "a scientist; be precise with quantities and units",
    "legal": "a lawyer; state the rule, then apply it",
    "technical": "an engineer; give exact specifications and methods",
}

LEVEL_AUDIENCES = {
    "beginner": "a beginner: explain every term and step",
    "intermediate": "an intermediate reader: explain the key steps",
    "advanced": "an advanced reader: be concise",
    "expert": "an expert: only the essential steps",
}


def _domain_prompt(domain: str, level: str) -> str:
    return f"You are {DOMAIN_ROLES[domain]}. Write for {LEVEL_AUDIENCES[level]}."


SYSTEM_PROMPT_TEMPLATES: dict[str, str] = {
    f"{domain}/{level}": _domain_prompt(domain, level) for domain in DOMAIN_ROLES for level in LEVEL_AUDIENCES
}


def domain_system_prompt(domain: str, expertise_level: str) -> str:
    """Dr. GRPO's system prompt for a domain and expertise level (names as in spec.DOMAINS / EXPERTISE_LEVELS)."""
    return SYSTEM_PROMPT_TEMPLATES[f"{domain}/{expertise_level}"]


def step_format_prompt(reasoning_steps: int) -> str:
    """GRPO's system prompt: ask for exactly the number of steps the step-format reward expects."""
    return (
        f"Solve the problem in exactly {reasoning_steps} numbered steps, one per line as 'Step 1: ...', "
        "then give the final answer on its own line as 'Answer: ...'."
    )


@dataclass(frozen=True)
class SystemPrompts:
    """The system prompt a policy method sends with each record's prompt: the worker's rollouts and create's check
    that the model's chat template renders them take it from here."""

    forced: str | None = None  # replaces every record's own (Dr. GRPO)
    default: str | None = None  # for records without their own (GRPO, when a reward reads the steps)

    def messages(self, prompt: str, system: str | None) -> list[dict[str, str]]:
        """The conversation a record's prompt is sampled from, rendered with add_generation_prompt."""
        chosen = self.forced or system or self.default
        return [*([{"role": "system", "content": chosen}] if chosen else []), {"role": "user", "content": prompt}]


def policy_system_prompts(method: str, policy: PolicySettings, rewards: Sequence[WeightedReward]) -> SystemPrompts:
    """The GRPO family's (the online methods send each record's own: SystemPrompts())."""
    if method == "dr_grpo":
        return SystemPrompts(forced=domain_system_prompt(policy.domain, policy.expertise_level))
    if method == "grpo" and any(item.reward.reads_reasoning_steps for item in rewards):
        return SystemPrompts(default=step_format_prompt(policy.reasoning_steps))
    return SystemPrompts()
