"""Messages between the supervisor and the sampler worker, over its two-way pipe.

Each call has an id; the worker answers it with Chunk or EvaluationProgress messages, then one
CallDone, EvaluationDone or CallFailed. A Cancel stops a call (queued or running) at its next token.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.sampling import EvaluationRequest, ModelKey, Sampling


@dataclass(frozen=True)
class GenerateCall:
    call_id: int
    model: ModelKey
    sampling: Sampling
    messages: tuple[tuple[str, str], ...] = ()  # (role, content); empty: `prompt` is the raw prompt
    prompt: str = ""


@dataclass(frozen=True)
class EvaluateCall:
    call_id: int
    request: EvaluationRequest


@dataclass(frozen=True)
class Cancel:
    call_id: int


@dataclass(frozen=True)
class Chunk:
    call_id: int
    text: str
    token_ids: tuple[int, ...]
    finish_reason: str = ""  # "", "length", "end" or "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_cached: bool = False
    first: bool = False


@dataclass(frozen=True)
class EvaluationProgress:
    call_id: int
    done: int
    total: int


@dataclass(frozen=True)
class EvaluationDone:
    call_id: int
    records: int
    figures: dict  # name -> value: loss, perplexity, token_accuracy, reward_accuracy, reward_margin, pass_at_k
    mean_rewards: dict  # reward function -> mean score


@dataclass(frozen=True)
class CallDone:
    call_id: int


@dataclass(frozen=True)
class CallFailed:
    call_id: int
    message: str


@dataclass(frozen=True)
class ModelLoaded:
    """A model was loaded (not found in the cache); the cache holds `cached` now, most recently used last."""

    model: ModelKey
    cached: tuple[ModelKey, ...]
