"""An online method's settings as the GRPO family's PolicyMethod (sampling, rewards, adapter) plus its own."""

from __future__ import annotations

from dataclasses import replace

from ...domain.prompts import SystemPrompts
from ...domain.rewards import RewardOptions, select_rewards
from ...domain.spec import JobSettings
from ..rl.losses import TOKEN_LEVEL, TOKEN_MEAN, PolicyLossConfig
from ..rl.method import PolicyMethod
from ..rl.rollout import SamplingSettings


def online_method(settings: JobSettings) -> PolicyMethod:
    policy, online = settings.policy, settings.online
    rollout = policy.rollout
    uses_rewards = not online.model_paths
    return PolicyMethod(
        name=settings.method,
        loss=PolicyLossConfig(
            level=TOKEN_LEVEL,
            normalizer=TOKEN_MEAN,
            epsilon=policy.epsilon,
            epsilon_high=policy.epsilon_high,
            beta=policy.beta,
            max_completion_length=rollout.max_completion_length,
        ),
        scale_advantages=False,
        sampling=SamplingSettings.of(rollout),
        num_iterations=rollout.num_iterations,
        rewards=select_rewards(settings.method, rollout.rewards) if uses_rewards else [],
        reward_options=RewardOptions(),
        efficiency_threshold=None,
        sparse_ratio=None,
        adapter=settings.adapter,
        system_prompts=SystemPrompts(),  # each record's own
        domain=None,
    )


def online_evaluation_method(settings: JobSettings) -> PolicyMethod:
    """The online method as EvaluateModel scores it: by the job's reward functions, or, when a judge or reward
    model ranked its completions in training, by the method's default ones (a measure on the data's answers)."""
    return replace(online_method(settings), rewards=select_rewards(settings.method, settings.policy.rollout.rewards))
