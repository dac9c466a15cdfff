"""Reward functions of the GRPO family: a registry of pure functions, and how a job combines them.

A reward scores one completion against its example with a number in [0, 1]. The completion
format they read is the one the prompts ask for (domain/prompts.py): optional lines
"Step k: ...", then the final answer, after "Answer:" or inside <answer>...</answer>; a
completion with neither marker is taken as a bare answer.

Operators add rewards with `register_reward` in a module named in the server configuration
(`load_reward_plugins`); requests can only select registered names.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RewardExample:
    """What a completion is scored against."""

    answer: str
    reference_steps: tuple[str, ...] = ()
    step_weights: tuple[float, ...] = ()  # one per reference step (the data's sparse_indicators); empty: equal


@dataclass(frozen=True)
class RewardOptions:
    reasoning_steps: int = 3  # steps step_format expects
    numeric_tolerance: float = 1e-4  # relative, for numeric_answer


RewardFn = Callable[[str, RewardExample, RewardOptions], float]


@dataclass(frozen=True)
class RewardFunction:
    name: str
    description: str
    default_weight: float
    score: RewardFn
    correctness: bool = False  # scores the final answer (GSPO's efficiency gate removes these)
    reads_reasoning_steps: bool = False  # reads RewardOptions.reasoning_steps (grpo.reasoning_steps)
    needs_reference_steps: bool = False  # scores against RewardExample.reference_steps: 0 on records without


REWARDS: dict[str, RewardFunction] = {}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register_reward(
    name: str,
    description: str,
    *,
    default_weight: float = 1.0,
    correctness: bool = False,
    reads_reasoning_steps: bool = False,
    needs_reference_steps: bool = False,
) -> Callable[[RewardFn], RewardFn]:
    """Decorator adding a reward function to the registry under `name`.

    The flags say what the reward depends on, so that a job is refused when a setting it reads would have no
    effect (grpo.reasoning_steps without a reward reading it; a reward of reference steps on data without any).
    """
    if not _NAME.match(name) or len(name) > 64:
        raise ValueError(f"reward name {name!r} must match {_NAME.pattern} (at most 64 characters)")

    def add(score: RewardFn) -> RewardFn:
        if name in REWARDS:
            raise ValueError(f"reward {name!r} is already registered")
        REWARDS[name] = RewardFunction(
            name, description, default_weight, score, correctness, reads_reasoning_steps, needs_reference_steps
        )
        return score

    return add


def load_reward_plugins(module_names: list[str]) -> list[str]:
    """Import operator modules that register rewards; returns the names they added.

    Only for server configuration: a request never names a module.
    """
    before = set(REWARDS)
    for module_name in module_names:
        importlib.import_module(module_name)
    return sorted(set(REWARDS) - before)


# --- reading a completion -------------------------------------------------------------------

_STEP_LINE = re.compile(r"^\s*step\s*(\d+)\s*[:.)]\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_ANSWER_LINE = re.compile(r"answer\s*:\s*(.*)", re.IGNORECASE)
# Commas only as thousands separators: "1,200" is 1200, "1,2" reads as 1.
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def normalize_text(text: str) -> str:
    """Lower case, single spaces, no surrounding space or trailing full stop."""
    return " ".join(text.lower().split()).rstrip(".").strip()


def has_answer_marker(completion: str) -> bool:
    return bool(_ANSWER_TAG.search(completion) or _ANSWER_LINE.search(completion))


def final_answer(completion: str) -> str:
    """The answer part of a completion (see the module docstring)."""
    tags = _ANSWER_TAG.findall(completion)
    if tags:
        return tags[-1].strip()
    lines = _ANSWER_LINE.findall(completion)
    if lines:
        return lines[-1].strip()
    return completion.strip()


def completion_steps(completion: str) -> list[str]:
    """The text of each "Step k:" line, in order."""
    return [text.strip() for _, text in _STEP_LINE.findall(completion)]


def parse_number(text: str) -> float | None:
    match = _NUMBER.search(text)
    if not match:
        return None
    try:
        return float(match.group().replace(",", ""))
    except ValueError:
        return None


def reference_length(example: RewardExample) -> int:
    """Words in the reference solution: its steps and its answer."""
    return len(" ".join((*example.reference_steps, example.answer)).split())


def length_efficiency(completion: str, example: RewardExample) -> float:
    """min(1, reference length / completion length), in words; 0 for an empty completion."""
    words = len(completion.split())
    return min(1.0, reference_length(example) / words) if words else 0.0


# --- the built-in rewards ---------------------------------------------------------------------


@register_reward(
    "exact_answer",
    "1 when the final answer equals the reference answer (case, spacing and a trailing full stop ignored), else 0.",
    correctness=True,
)
def exact_answer(completion: str, example: RewardExample, options: RewardOptions) -> float:
    return float(normalize_text(final_answer(completion)) == normalize_text(example.answer))


@register_reward(
    "numeric_answer",
    "1 when the first number of the final answer is within a relative tolerance (1e-4) of the reference "
    "answer's, else 0.",
    correctness=True,
)
def numeric_answer(completion: str, example: RewardExample, options: RewardOptions) -> float:
    got, want = parse_number(final_answer(completion)), parse_number(example.answer)
    if got is None or want is None:
        return 0.0
    return float(math.isclose(got, want, rel_tol=options.numeric_tolerance, abs_tol=options.numeric_tolerance))


@register_reward(
    "step_format",
    "Format of the reasoning: min(k, n) / n for k 'Step i:' lines when n are expected (grpo.reasoning_steps), "
    "n / k when there are more; halved without an 'Answer:' line. 0 to 1.",
    default_weight=0.2,
    reads_reasoning_steps=True,
)
def step_format(completion: str, example: RewardExample, options: RewardOptions) -> float:
    found, expected = len(completion_steps(completion)), options.reasoning_steps
    if not found:
        return 0.0
    score = found / expected if found <= expected else expected / found
    return score if has_answer_marker(completion) else score / 2


@register_reward(
    "step_overlap",
    "Partial credit per reference step: the weighted fraction of reference steps (weights: the data's "
    "sparse_indicators) whose text appears in one of the completion's steps. 0 to 1; 0 without reference steps.",
    needs_reference_steps=True,
)
def step_overlap(completion: str, example: RewardExample, options: RewardOptions) -> float:
    if not example.reference_steps:
        return 0.0
    written = [normalize_text(step) for step in completion_steps(completion)]
    weights = list(example.step_weights) if any(example.step_weights) else [1.0] * len(example.reference_steps)
    matched = sum(
        weight
        for reference, weight in zip(example.reference_steps, weights)
        if any(normalize_text(reference) in step for step in written)
    )
    return matched / sum(weights)


@register_reward(
    "length_efficiency",
    "min(1, reference solution length / completion length), in words: 1 for completions no longer than the reference.",
    default_weight=0.2,
)
def length_efficiency_reward(completion: str, example: RewardExample, options: RewardOptions) -> float:
    return length_efficiency(completion, example)


# --- combining rewards for a job ---------------------------------------------------------------

METHOD_DEFAULT_REWARDS: dict[str, tuple[str, ...]] = {
    "grpo": ("exact_answer", "step_format"),
    "gspo": ("exact_answer", "length_efficiency"),
    "dr_grpo": ("exact_answer",),
    "online_dpo": ("exact_answer",),
    "xpo": ("exact_answer",),
    "rlhf": ("exact_answer",),
    "ppo": ("exact_answer",),
}

MULTI_STEP_REWARD = "step_overlap"


@dataclass(frozen=True)
class WeightedReward:
    reward: RewardFunction
    weight: float


def select_rewards(
    method: str, requested: Sequence[tuple[str, float]], *, multi_step_training: bool = False
) -> list[WeightedReward]:
    """The rewards a job uses: those requested (name, weight), else the method's defaults.

    GRPO's multi_step_training adds step_overlap (partial credit per matched reference step)
    when it is not already selected.
    """
    if requested:
        unknown = [name for name, _ in requested if name not in REWARDS]
        if unknown:
            raise ValueError(f"unknown reward functions {unknown}; registered: {sorted(REWARDS)}")
        chosen = [WeightedReward(REWARDS[name], weight) for name, weight in requested]
    else:
        chosen = [
            WeightedReward(REWARDS[name], REWARDS[name].default_weight) for name in METHOD_DEFAULT_REWARDS[method]
        ]
    if multi_step_training and all(item.reward.name != MULTI_STEP_REWARD for item in chosen):
        step_reward = REWARDS[MULTI_STEP_REWARD]
        chosen.append(WeightedReward(step_reward, step_reward.default_weight))
    return chosen


@dataclass(frozen=True)
class RewardScores:
    total: list[float]  # weighted sum per completion
    by_name: dict[str, list[float]]  # each reward's unweighted score per completion (after gating)


def score_completions(
    completions: Sequence[str],
    examples: Sequence[RewardExample],
    rewards: Sequence[WeightedReward],
    options: RewardOptions,
    efficiency_threshold: float | None = None,
) -> RewardScores:
    """Score every completion with every reward.

    With efficiency_threshold (GSPO), a completion whose length_efficiency is below it gets 0
    from every correctness reward: a right answer buried in a long completion earns nothing.
    """
    by_name: dict[str, list[float]] = {item.reward.name: [] for item in rewards}
    total = []
    for completion, example in zip(completions, examples, strict=True):
        gated = efficiency_threshold is not None and length_efficiency(completion, example) < efficiency_threshold
        value = 0.0
        for item in rewards:
            score = 0.0 if gated and item.reward.correctness else float(item.reward.score(completion, example, options))
            by_name[item.reward.name].append(score)
            value += item.weight * score
        total.append(value)
    return RewardScores(total=total, by_name=by_name)
