"""Learning, shown, for the online methods: on the GRPO family's verifiable toy task ("a b" -> "b", see
tests/rl/test_learning.py), from the same warm-up, each method trains a LoRA adapter within the API's ranges with
exact_answer as its judge, and the exact held-out probability of the answer (its digit, then the end token,
computed from the logits, free of sampling noise) must rise by the margin. Online DPO learns from the pairs whose
two completions score differently, XPO from policy/reference pairs, RLHF and PPO from each completion's score."""

from __future__ import annotations

import time

import mlx.core as mx
import mlx.nn as nn
import mlx_lm
import numpy as np
import pytest
from rl.conftest import RecordingContext, write_jsonl
from rl.test_learning import HELD_OUT, coin_flip_reward, digit_pairs, problem, warm_up

from droidft.v1 import job_pb2
from droidft_server.worker.trainers import trainer_for

pytestmark = pytest.mark.slow

__all__ = ["coin_flip_reward"]  # the GRPO family's control reward, a fixture here too

# Measured here (seed 0, 2 shared CPU cores), exact held-out probability of the answer: online_dpo 0.604 -> 0.676,
# xpo 0.604 -> 0.666, rlhf 0.604 -> 0.720, ppo 0.604 -> 0.733.
# XPO's pairs put one policy completion against one of the unchanging reference model: fewer of them differ in
# reward than Online DPO's two policy completions, and its iterations are cheaper; it takes more of them.
ITERATIONS = {"online_dpo": 100, "xpo": 300, "rlhf": 100, "ppo": 100}
MARGIN = {"online_dpo": 0.05, "xpo": 0.05, "rlhf": 0.05, "ppo": 0.05}


@pytest.fixture(scope="module")
def task(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("online-learning")
    train_pairs, held_out = digit_pairs()
    write_jsonl(root / "train.jsonl", [problem(p) for p in train_pairs])
    write_jsonl(root / "valid.jsonl", [problem(p) for p in held_out])
    return root, warm_up(tiny_model, root / "warm", train_pairs), held_out


def answer_probability(model_path, pairs, adapter_dir=None) -> float:
    """Mean probability, at temperature 1, of "<b><end>" after the prompt "a b" (no system prompt: none is sent)."""
    model, tokenizer = mlx_lm.load(str(model_path), adapter_path=str(adapter_dir) if adapter_dir else None)
    model.eval()
    probabilities = []
    for a, b in pairs:
        messages = [{"role": "user", "content": f"{a} {b}"}]
        prompt = list(tokenizer.apply_chat_template(messages, add_generation_prompt=True))
        answer = [*tokenizer.encode(str(b)), tokenizer.eos_token_id]
        tokens = mx.array([prompt + answer])
        log_probs = nn.log_softmax(model(tokens[:, :-1]).astype(mx.float32), axis=-1)[0]
        picked = [log_probs[len(prompt) - 1 + i, token] for i, token in enumerate(answer)]
        probabilities.append(float(mx.exp(sum(picked)).item()))
    return float(np.mean(probabilities))


def online_learning_spec(method: str, task) -> job_pb2.TrainingJobSpec:
    root, warm, _ = task
    iterations = ITERATIONS[method]
    spec = job_pb2.TrainingJobSpec(
        model_path=str(warm),
        train_data_path=str(root / "train.jsonl"),
        val_data_path=str(root / "valid.jsonl"),
        iterations=iterations,
        learning_rate=1e-4,
        batch_size=4,
        report_every=20,
        eval_every=iterations,
        eval_batches=HELD_OUT // 4,
        checkpoint_every=iterations,
        seed=0,
    )
    spec.adapter.scale = 100.0
    config = getattr(spec, method)
    config.rollout.max_completion_length = 2
    config.rollout.temperature = 1.0
    config.rollout.rewards.add(name="exact_answer", weight=1.0)
    if method in ("rlhf", "ppo"):
        config.rollout.group_size = 8
    if method == "ppo":
        config.rollout.num_iterations = 2  # the second update of each rollout is off-policy: clipping acts
    return spec


@pytest.mark.parametrize("method", sorted(ITERATIONS))
def test_online_method_raises_held_out_probability(method, task, tmp_path):
    _, warm, held_out = task
    spec = online_learning_spec(method, task)
    ctx = RecordingContext(spec, tmp_path / method)
    tic = time.perf_counter()
    trainer_for(method)(ctx)
    seconds = time.perf_counter() - tic
    reports = ctx.of("train_report")
    before, after = answer_probability(warm, held_out), answer_probability(warm, held_out, tmp_path / method)
    print(
        f"\n{method}: held-out probability of the answer {before:.4f} -> {after:.4f}; train reward "
        f"{reports[0].metrics['reward_mean']:.3f} -> {reports[-1].metrics['reward_mean']:.3f}; "
        f"{seconds / ITERATIONS[method]:.2f}s per iteration ({seconds:.0f}s)"
    )
    assert after >= before + MARGIN[method]


def test_a_random_judge_does_not_raise_held_out_probability(task, tmp_path, coin_flip_reward):
    """The control: Online DPO with pairs ranked by a coin instead of the answer gains less than the margin, so the
    gain above comes from the judge and not from the updates themselves."""
    _, warm, held_out = task
    spec = online_learning_spec("online_dpo", task)
    spec.online_dpo.rollout.rewards[0].name = coin_flip_reward
    trainer_for("online_dpo")(RecordingContext(spec, tmp_path / "control"))
    before, after = answer_probability(warm, held_out), answer_probability(warm, held_out, tmp_path / "control")
    print(f"\nonline_dpo ({coin_flip_reward}): held-out probability of the answer {before:.4f} -> {after:.4f}")
    assert after < before + MARGIN["online_dpo"]
