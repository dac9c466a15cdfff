"""What one training iteration processes: rows, tokens per row, generated tokens.

The shapes mirror the trainers droidft runs: mlx-lm's SFT batches (rows padded to a
multiple of 32 tokens, cut at max_seq_length), preference methods (chosen and rejected
rows in one graph), and the GRPO family (batch_size prompts x group_size completions,
sampled by mlx-lm-lora's batched generator, then one gradient over every completion).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..method_families import PAIRWISE_ONLINE_METHODS, PREFERENCE_METHODS
from ..spec import JobSettings

SFT_PAD_MULTIPLE = 32  # mlx-lm pads each SFT batch to one more than a multiple of 32 tokens (preference: none)
KV_CACHE_STEP = 256  # mlx-lm grows key/value caches in blocks of 256 positions


@dataclass(frozen=True)
class TokenLengths:
    """Token counts of the training records: whole examples as trained (SFT: with the chat template's
    tokens), the longer of chosen and rejected (preference methods), or prompts (GRPO family). The peak
    uses max, time uses mean."""

    mean: float
    p95: int
    max: int

    @classmethod
    def from_counts(cls, counts: Sequence[int]) -> TokenLengths:
        if not counts:
            raise ValueError("no records to measure")
        ordered = sorted(counts)
        p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
        return cls(mean=sum(ordered) / len(ordered), p95=p95, max=ordered[-1])

    def plus(self, mean: float, most: int) -> TokenLengths:
        """These lengths with tokens added to every record: `mean` on average, at most `most`."""
        return TokenLengths(mean=self.mean + mean, p95=self.p95 + most, max=self.max + most)


@dataclass(frozen=True)
class Pass:
    """One differentiated graph: rows x width tokens."""

    rows: int
    width: int

    @property
    def tokens(self) -> int:
        return self.rows * self.width


@dataclass(frozen=True)
class Generation:
    """Sampling completions (GRPO family) before the gradient step."""

    sequences: int  # completions sampled per iteration (batch_size x group_size)
    concurrent_rows: int  # rows the batched generator decodes at once
    longest_prompt_tokens: int  # sets the key/value cache size
    mean_prompt_tokens: float  # sets the time of prompt processing
    completion_tokens: int


@dataclass(frozen=True)
class Workload:
    peak_pass: Pass  # the largest batch: sets peak memory
    typical_pass: Pass  # a batch of average length: sets time per iteration
    passes_per_iteration: int  # gradient evaluations per optimizer step
    generation: Generation | None
    reference_model: bool  # a second, frozen copy of the model scores every row


def sft_width(tokens: float, max_seq_length: int) -> int:
    """Input width of an SFT batch whose longest record has `tokens` tokens (targets drop one)."""
    padded = 1 + SFT_PAD_MULTIPLE * math.ceil(tokens / SFT_PAD_MULTIPLE)
    return max(1, min(padded, max_seq_length) - 1)


def uses_reference_model(settings: JobSettings) -> bool:
    """GRPO family, RLHF, PPO: only when a KL term (beta > 0) needs it; DPO, Online DPO and XPO always score
    against it; ORPO/CPO never."""
    if settings.method in PAIRWISE_ONLINE_METHODS:
        return True
    if settings.policy is not None:
        return settings.policy.beta > 0
    return settings.method == "dpo"


def workload(settings: JobSettings, lengths: TokenLengths | None) -> Workload:
    cap = settings.max_seq_length
    longest = min(lengths.max, cap) if lengths else cap
    typical = min(lengths.mean, cap) if lengths else cap
    if settings.policy is not None:
        rollout = settings.policy.rollout
        completions = settings.batch_size * rollout.group_size
        completion = rollout.max_completion_length

        def policy_pass(prompt: float) -> Pass:
            return Pass(rows=completions, width=max(1, math.ceil(prompt) + completion - 1))

        return Workload(
            peak_pass=policy_pass(longest),
            typical_pass=policy_pass(typical),
            # grad_accumulation_steps rollouts per iteration, each updated on num_iterations times
            passes_per_iteration=rollout.num_iterations * settings.grad_accumulation_steps,
            generation=Generation(
                sequences=completions * settings.grad_accumulation_steps,
                concurrent_rows=settings.batch_size,
                longest_prompt_tokens=math.ceil(longest),
                mean_prompt_tokens=typical,
                completion_tokens=completion,
            ),
            reference_model=uses_reference_model(settings),
        )
    if settings.method in PREFERENCE_METHODS:
        # Chosen and rejected rows, padded to the longer of the two only, both differentiated at once.
        rows = 2 * settings.batch_size
        peak_width, typical_width = max(1, math.ceil(longest) - 1), max(1, math.ceil(typical) - 1)
    else:
        rows = settings.batch_size
        peak_width, typical_width = sft_width(longest, cap), sft_width(typical, cap)
    return Workload(
        peak_pass=Pass(rows=rows, width=peak_width),
        typical_pass=Pass(rows=rows, width=typical_width),
        passes_per_iteration=settings.grad_accumulation_steps,
        generation=None,
        reference_model=uses_reference_model(settings),
    )
