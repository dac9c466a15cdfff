"""What ranks or scores an online method's completions: reward functions, a reward model, or a judge model.

A scorer gives each completion a number (the registry's reward functions, or a sequence-classification
reward model); a pairwise judge model only says which of two completions is better. Pairwise methods take
either; RLHF and PPO need a scorer (the contract offers them no judge model).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import mlx_lm
from mlx.utils import tree_flatten
from mlx_lm.utils import load_model, load_tokenizer

from ...domain.estimation.model_facts import safetensors_files
from ...domain.estimation.safetensors_header import read_header
from ...domain.judges import JUDGE_ANSWERS, pairwise_judge_prompt
from ...domain.rewards import RewardOptions, RewardScores, WeightedReward, score_completions
from ..rl.data import RlPrompt

REWARD_MODEL_SCORE = "reward_model"
REWARD_HEAD = "score.weight"
BACKBONE = "model."  # transformers' prefix of a *ForSequenceClassification's backbone weights


def unstored_backbone_weights(model: nn.Module, stored: Iterable[str]) -> list[str]:
    """The weights of a reward model's backbone that its files do not store (stored: the tensor names they hold).
    load_model(strict=False) takes the classifier's weights without its head, and would leave any backbone
    weight it does not find at its random initialisation: every backbone weight must be stored."""
    names = set(stored)
    return [name for name, _ in tree_flatten(model.model.parameters()) if f"{BACKBONE}{name}" not in names]


def backbone_lacks(missing: list[str]) -> str:
    return f"the reward model's backbone lacks {len(missing)} weights, e.g. {missing[:3]}"


@dataclass
class RewardFunctions:
    rewards: list[WeightedReward]
    options: RewardOptions

    def score(self, prompts: list[RlPrompt], completions: list[str]) -> RewardScores:
        return score_completions(completions, [p.reward_example for p in prompts], self.rewards, self.options)

    def describe(self) -> str:
        return "rewards " + ", ".join(f"{item.reward.name} x{item.weight:g}" for item in self.rewards)


def _messages(prompt: RlPrompt, completion: str | None = None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    messages.append({"role": "user", "content": prompt.prompt})
    if completion is not None:
        messages.append({"role": "assistant", "content": completion})
    return messages


def _right_padded(rows: list[list[int]]) -> tuple[mx.array, mx.array]:
    """The rows as one right-padded batch, and the position of each row's last token."""
    width = max(len(row) for row in rows)
    batch = mx.array([row + [0] * (width - len(row)) for row in rows], dtype=mx.int32)
    return batch, mx.array([len(row) - 1 for row in rows])


class RewardModel:
    """A *ForSequenceClassification directory (online.proto, RlhfConfig.reward_model_path): the backbone mlx-lm
    loads, plus the linear head score.weight applied to the last token's final hidden state."""

    def __init__(self, path: str):
        directory = Path(path)
        self.model, _ = load_model(directory, strict=False)
        self.model.freeze()
        self.model.eval()
        stored = {tensor.name: file for file in safetensors_files(directory) for tensor in read_header(file)}
        if missing := unstored_backbone_weights(self.model, stored):
            raise ValueError(f"{path}: {backbone_lacks(missing)}")
        self.head = mx.load(str(stored[REWARD_HEAD]))[REWARD_HEAD]
        self.tokenizer = load_tokenizer(directory)
        self.path = path

    def sequence_scores(self, prompts: list[RlPrompt], completions: list[str]) -> list[float]:
        rows = [
            list(self.tokenizer.apply_chat_template(_messages(p, c), tokenize=True))
            for p, c in zip(prompts, completions, strict=True)
        ]
        inputs, last = _right_padded(rows)
        hidden = self.model.model(inputs)  # the backbone: final hidden states, normed
        picked = mx.take_along_axis(hidden, last[:, None, None], axis=1).squeeze(1)
        scores = (picked.astype(mx.float32) @ self.head.astype(mx.float32).T)[:, 0]
        return [float(v) for v in scores.tolist()]

    def score(self, prompts: list[RlPrompt], completions: list[str]) -> RewardScores:
        scores = self.sequence_scores(prompts, completions)
        return RewardScores(total=scores, by_name={REWARD_MODEL_SCORE: scores})

    def describe(self) -> str:
        return f"reward model {self.path}"


class JudgeModel:
    """An LLM asked, with domain.judges' template, which of two completions is better."""

    def __init__(self, path: str):
        self.model, self.tokenizer = mlx_lm.load(path)
        self.model.freeze()
        self.model.eval()
        self.answers = [self._answer_token(digit) for digit in JUDGE_ANSWERS]
        self.path = path

    def _answer_token(self, digit: str) -> int:
        tokens = self.tokenizer.encode(digit, add_special_tokens=False)
        return tokens[0]

    def _first_wins(self, prompts: list[RlPrompt], firsts: list[str], seconds: list[str]) -> mx.array:
        rows = [
            list(
                self.tokenizer.apply_chat_template(
                    [{"role": "user", "content": pairwise_judge_prompt(p.prompt, a, b)}], add_generation_prompt=True
                )
            )
            for p, a, b in zip(prompts, firsts, seconds, strict=True)
        ]
        inputs, last = _right_padded(rows)
        logits = mx.take_along_axis(self.model(inputs), last[:, None, None], axis=1).squeeze(1)
        two = logits[:, self.answers].astype(mx.float32)
        return nn.softmax(two, axis=-1)[:, 0]

    def first_preferred(self, prompts: list[RlPrompt], firsts: list[str], seconds: list[str]) -> list[float]:
        """Probability, per pair, that the first completion is the better, averaged over both orders."""
        forward = self._first_wins(prompts, firsts, seconds)
        backward = self._first_wins(prompts, seconds, firsts)
        return [float(v) for v in ((forward + 1 - backward) / 2).tolist()]

    def describe(self) -> str:
        return f"judge model {self.path}"
