"""A model measured on a data set, as its method scores it.

SFT: the mean cross-entropy of the trained tokens (the job's prompt masking), its exponential, and the
share of those tokens predicted as the most likely one. Preference methods: each pair's implicit
rewards (DPO: beta x the answer's log-probability ratio to the base model; ORPO and CPO: beta x its mean
log-probability), the share of pairs ranked right and the mean margin. The GRPO family: k completions
sampled per held-out prompt and scored by the job's reward functions: each function's mean, and pass@k
(the share of prompts with a completion whose correctness rewards are all 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from droidft.v1 import job_pb2

from ..domain.datasets.training_data import DataChanged, decided_format, read_examples
from ..domain.rewards import score_completions
from ..domain.sampling import EvaluationRequest, Sampling
from ..domain.spec import JobSettings, resolve

Progress = Callable[[int, int], None]
PASSING_SCORE = 1.0


@dataclass(frozen=True)
class EvaluationResult:
    records: int
    figures: dict[str, float]
    mean_rewards: dict[str, float] = field(default_factory=dict)


def _answer_log_probs(model: nn.Module, tokens: list[int], start: int) -> tuple[mx.array, mx.array]:
    """Log-probability of each token from `start` on (at least the second) given those before it, and the
    logits that predicted them."""
    inputs = mx.array(tokens)[None]
    logits = model(inputs[:, :-1]).astype(mx.float32)
    log_probs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    picked = mx.take_along_axis(log_probs, inputs[:, 1:, None], axis=-1)[0, :, 0]
    return picked[max(start, 1) - 1 :], logits[0, max(start, 1) - 1 :]


def _sft(model, tokenizer, settings: JobSettings, examples: list[dict], fmt: str, progress: Progress) -> dict:
    from .sft import DATASETS

    mask_prompt = bool(settings.sft and settings.sft.mask_prompt)
    dataset = DATASETS[fmt](examples, tokenizer, mask_prompt)
    loss_sum, correct, counted = 0.0, 0, 0
    for index in range(len(dataset)):
        tokens, offset = dataset.process(dataset[index])
        tokens = tokens[: settings.max_seq_length]
        if len(tokens) > max(offset, 1):
            picked, logits = _answer_log_probs(model, tokens, offset)
            targets = mx.array(tokens[max(offset, 1) :])
            hits = mx.sum(mx.argmax(logits, axis=-1) == targets)
            mx.eval(picked, hits)
            loss_sum -= picked.sum().item()
            correct += hits.item()
            counted += len(tokens) - max(offset, 1)
        progress(index + 1, len(dataset))
    if not counted:
        raise ValueError("no record has a token to score")
    loss = loss_sum / counted
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "token_accuracy": correct / counted}


def _preference(model, base_model: Callable[[], Any], tokenizer, settings, examples, progress: Progress) -> dict:
    from .preference import PreferencePairs

    pairs = PreferencePairs(examples, tokenizer)
    beta = settings.preference.beta if settings.preference else 0.1
    relative = settings.method == "dpo"
    reference = base_model() if relative else None

    def reward(tokens: list[int], start: int) -> float:
        picked, _ = _answer_log_probs(model, tokens, start)
        if not relative:
            return beta * picked.mean().item()
        reference_picked, _ = _answer_log_probs(reference, tokens, start)
        return beta * (picked.sum() - reference_picked.sum()).item()

    right, margins = 0, []
    for index in range(len(pairs)):
        pair = pairs[index]
        margin = reward(pair["chosen"], pair["chosen_prompt_length"]) - reward(
            pair["rejected"], pair["rejected_prompt_length"]
        )
        margins.append(margin)
        right += margin > 0
        progress(index + 1, len(pairs))
    return {"reward_accuracy": right / len(pairs), "reward_margin": sum(margins) / len(pairs)}


def _policy(
    model, tokenizer, settings, examples, call: EvaluationRequest, progress: Progress, should_stop: Callable[[], bool]
) -> tuple[dict, dict]:
    from .online.method import online_evaluation_method
    from .rl.data import rl_prompt
    from .rl.method import chat_messages, policy_method, select_prompts
    from .sampler import generate_pieces

    method = policy_method(settings) if settings.online is None else online_evaluation_method(settings)
    prompts = select_prompts([rl_prompt(example) for example in examples], method)
    if not prompts:
        raise ValueError(f"no prompt of the data set is of the job's domain ({method.domain})")
    k = call.samples_per_prompt
    sampling = call.sampling
    correctness = [item.reward.name for item in method.rewards if item.reward.correctness] or [
        item.reward.name for item in method.rewards
    ]
    sums = {item.reward.name: 0.0 for item in method.rewards}
    passed = 0
    for index, prompt in enumerate(prompts):
        tokens = list(tokenizer.apply_chat_template(chat_messages(prompt, method), add_generation_prompt=True))
        completions = []
        for sample in range(k):
            seeded = Sampling(sampling.temperature, sampling.top_p, sampling.max_tokens, (), sampling.seed + sample)
            text = "".join(piece for piece, _, _ in generate_pieces(model, tokenizer, tokens, seeded, should_stop))
            completions.append(text)
        scores = score_completions(
            completions, [prompt.reward_example] * k, method.rewards, method.reward_options, method.efficiency_threshold
        )
        for name, values in scores.by_name.items():
            sums[name] += sum(values)
        passed += any(all(scores.by_name[name][i] >= PASSING_SCORE for name in correctness) for i in range(k))
        progress(index + 1, len(prompts))
    samples = k * len(prompts)
    return {"pass_at_k": passed / len(prompts), "records": len(prompts)}, {n: s / samples for n, s in sums.items()}


def evaluate(
    call: EvaluationRequest,
    model: nn.Module,
    tokenizer: Any,
    base_model: Callable[[], nn.Module],
    progress: Progress,
    should_stop: Callable[[], bool],
) -> EvaluationResult:
    """`progress` is told of each record scored; `should_stop` is asked between tokens of a generation too."""
    spec = job_pb2.TrainingJobSpec.FromString(call.spec)
    settings = resolve(spec)
    path = Path(call.data_path)
    try:
        fmt = decided_format(path, settings.method)
    except DataChanged:
        raise ValueError(f"{path} holds no {settings.method} data the service reads") from None
    examples = read_examples(path, fmt)
    if call.max_records:
        examples = examples[: call.max_records]
    if not examples:
        raise ValueError(f"{path} holds no records")
    progress(0, len(examples))
    if settings.sft is not None:
        return EvaluationResult(len(examples), _sft(model, tokenizer, settings, examples, fmt, progress))
    if settings.preference is not None:
        figures = _preference(model, base_model, tokenizer, settings, examples, progress)
        return EvaluationResult(len(examples), figures)
    figures, rewards = _policy(model, tokenizer, settings, examples, call, progress, should_stop)
    return EvaluationResult(int(figures.pop("records")), figures, rewards)
