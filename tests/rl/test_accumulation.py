"""GRPO-family gradient accumulation: two rollouts averaged into one update move the weights as one rollout of
both batches does (the sequence-mean loss of 2B sequences is the mean of the two B-sequence losses)."""

from __future__ import annotations

import mlx.core as mx
import pytest

from droidft.v1 import options_pb2
from droidft_server.worker.rl import trainer as rl_trainer
from droidft_server.worker.rl.rollout import Rollout
from droidft_server.worker.training_state import trainable_weights

from .conftest import RecordingContext, addition_records, write_jsonl
from .test_policy_trainer import addition_prompts, make_spec, policy_trainer


def _padded(array: mx.array, width: int) -> mx.array:
    return mx.pad(array, [(0, 0), (0, width - array.shape[1])])


def concatenated(first: Rollout, second: Rollout) -> Rollout:
    """One rollout of both, right padded to the wider (padding is masked out and, causally, changes nothing)."""
    width = max(first.inputs.shape[1], second.inputs.shape[1])

    def both(name: str) -> mx.array:
        a, b = getattr(first, name), getattr(second, name)
        offset = 0 if name == "inputs" else 1
        return mx.concatenate([_padded(a, width - offset), _padded(b, width - offset)])

    return Rollout(
        inputs=both("inputs"),
        mask=both("mask"),
        old_log_probs=both("old_log_probs"),
        entropy=both("entropy"),
        ref_log_probs=None,
        completion_texts=first.completion_texts + second.completion_texts,
        completion_lengths=first.completion_lengths + second.completion_lengths,
        prompt_indices=first.prompt_indices + [i + 2 for i in second.prompt_indices],
    )


@pytest.mark.parametrize("method", ["grpo", "gspo"])
def test_two_accumulated_rollouts_update_as_one_double_rollout(tiny_model, tmp_path, method):
    data = write_jsonl(tmp_path / "train.jsonl", addition_records(8, seed=0))
    spec = make_spec(tiny_model, data, method, iterations=1, grad_accumulation_steps=2)
    spec.learning_rate = 1e-2
    spec.optimizer.kind = options_pb2.OPTIMIZER_KIND_SGD  # the update is the gradient times the learning rate
    ctx = RecordingContext(spec, tmp_path / "out")
    accumulated = policy_trainer(ctx)
    prompts = addition_prompts(4)
    first, _ = accumulated.rollout(prompts[:2])
    second, _ = accumulated.rollout(prompts[2:])
    advantages = mx.array([1.0, -1.0, 0.5, -0.5]), mx.array([-1.0, 1.0, 2.0, -2.0])
    accumulated.update([(first, advantages[0]), (second, advantages[1])], 0, rl_trainer.ReportWindow())

    double = policy_trainer(RecordingContext(spec, tmp_path / "double"))  # the same seed: the same start
    start = trainable_weights(double.model)
    double.update([(concatenated(first, second), mx.concatenate(advantages))], 0, rl_trainer.ReportWindow())
    accumulated_weights, double_weights = trainable_weights(accumulated.model), trainable_weights(double.model)
    assert any(not mx.array_equal(double_weights[name], start[name]).item() for name in start)
    for name, weights in double_weights.items():
        assert mx.allclose(accumulated_weights[name], weights, rtol=1e-4, atol=1e-7).item(), name
