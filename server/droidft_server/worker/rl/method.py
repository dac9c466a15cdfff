"""What distinguishes GRPO, GSPO and Dr. GRPO, resolved from a job's settings in one place.

Each knob of the original design maps to a mechanism here:
- GRPO reasoning_steps: the step count step_format expects (and the system prompt asks for);
  multi_step_training: adds the step_overlap reward (partial credit per matched reference step).
- GSPO sparse_optimization / sparse_ratio: only the top sparse_ratio fraction of completion tokens
  by the current policy's entropy (chosen again at every update) get policy gradient (arXiv
  2506.01939); efficiency_threshold: completions longer than reference length / threshold lose
  their correctness rewards.
- Dr. GRPO domain / expertise_level: the system prompt template, and records of other domains
  are left out; domain_adaptation_strength multiplies the LoRA adapter scale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...domain import prompts as prompt_templates
from ...domain.record_selection import keeps, kept_domain
from ...domain.rewards import RewardOptions, WeightedReward, select_rewards
from ...domain.spec import AdapterSettings, JobSettings
from .data import RlPrompt
from .losses import CONSTANT, SEQUENCE_LEVEL, SEQUENCE_MEAN, TOKEN_LEVEL, PolicyLossConfig
from .rollout import SamplingSettings


@dataclass(frozen=True)
class PolicyMethod:
    name: str
    loss: PolicyLossConfig
    scale_advantages: bool  # divide by the group's reward std (not in Dr. GRPO)
    sampling: SamplingSettings
    num_iterations: int
    rewards: list[WeightedReward]
    reward_options: RewardOptions
    efficiency_threshold: float | None
    sparse_ratio: float | None  # None: every completion token gets policy gradient
    adapter: AdapterSettings
    system_prompts: prompt_templates.SystemPrompts
    domain: str | None  # Dr. GRPO: keep only records of this domain (or without one); None: all


def _loss_config(name: str, settings: JobSettings) -> PolicyLossConfig:
    policy = settings.policy
    level, normalizer = {
        "grpo": (TOKEN_LEVEL, policy.normalizer),
        "gspo": (SEQUENCE_LEVEL, SEQUENCE_MEAN),
        "dr_grpo": (TOKEN_LEVEL, CONSTANT),
    }[name]
    return PolicyLossConfig(
        level=level,
        normalizer=normalizer,
        epsilon=policy.epsilon,
        epsilon_high=policy.epsilon_high,
        beta=policy.beta,
        max_completion_length=policy.rollout.max_completion_length,
    )


def _scaled_adapter(name: str, settings: JobSettings) -> AdapterSettings:
    adapter = settings.adapter
    if name != "dr_grpo" or adapter.fine_tune_type == "full":
        return adapter
    return replace(adapter, scale=adapter.scale * settings.policy.domain_adaptation_strength)


def policy_method(settings: JobSettings) -> PolicyMethod:
    name, policy = settings.method, settings.policy
    rollout = policy.rollout
    rewards = select_rewards(name, rollout.rewards, multi_step_training=policy.multi_step_training)
    return PolicyMethod(
        name=name,
        loss=_loss_config(name, settings),
        scale_advantages=name != "dr_grpo",
        sampling=SamplingSettings.of(rollout),
        num_iterations=rollout.num_iterations,
        rewards=rewards,
        reward_options=RewardOptions(reasoning_steps=policy.reasoning_steps),
        efficiency_threshold=policy.efficiency_threshold if name == "gspo" else None,
        sparse_ratio=policy.sparse_ratio if name == "gspo" and policy.sparse_optimization else None,
        adapter=_scaled_adapter(name, settings),
        system_prompts=prompt_templates.policy_system_prompts(name, policy, rewards),
        domain=kept_domain(settings),
    )


def select_prompts(prompts: list[RlPrompt], method: PolicyMethod) -> list[RlPrompt]:
    """The records a job trains on (record_selection.py: Dr. GRPO keeps its domain's and those naming none)."""
    return [p for p in prompts if keeps(method.domain, p.domain)]


def chat_messages(prompt: RlPrompt, method: PolicyMethod) -> list[dict[str, str]]:
    return method.system_prompts.messages(prompt.prompt, prompt.system)
