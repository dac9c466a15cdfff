"""The online methods train on the tiny model in this process: every method with the registry's rewards,
the pairwise ones with a judge model, RLHF and PPO with a reward model; reports carry their metrics."""

from __future__ import annotations

import mlx.core as mx
import mlx_lm
import numpy as np
import pytest
from rl.conftest import RecordingContext, write_jsonl

from droidft.v1 import job_pb2
from droidft_server.devtools.tiny_reward_model import build_tiny_reward_model
from droidft_server.worker.online.judges import JudgeModel, RewardModel
from droidft_server.worker.rl.data import rl_prompt
from droidft_server.worker.trainers import trainer_for

PROMPTS = [{"prompt": f"{a} {b}", "answer": str(b)} for a in range(3) for b in range(3)]
METHODS = ("online_dpo", "xpo", "rlhf", "ppo")


def online_spec(model, data_dir, method: str, **fields) -> job_pb2.TrainingJobSpec:
    values = dict(iterations=3, batch_size=2, report_every=1, eval_every=3, eval_batches=1, checkpoint_every=3)
    spec = job_pb2.TrainingJobSpec(
        model_path=str(model),
        train_data_path=str(data_dir / "train.jsonl"),
        val_data_path=str(data_dir / "valid.jsonl"),
        learning_rate=1e-4,
        **(values | fields),
    )
    config = getattr(spec, method)
    config.rollout.max_completion_length = 4
    return spec


@pytest.fixture()
def data_dir(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", PROMPTS)
    write_jsonl(tmp_path / "valid.jsonl", PROMPTS[:4])
    return tmp_path


@pytest.fixture(scope="session")
def reward_model(tmp_path_factory, tiny_model):
    return build_tiny_reward_model(tiny_model, tmp_path_factory.mktemp("reward-model") / "rm", seed=1)


@pytest.mark.parametrize("method", METHODS)
def test_trains_with_the_registry_rewards(method, tiny_model, data_dir, tmp_path):
    spec = online_spec(tiny_model, data_dir, method)
    if method == "ppo":
        spec.ppo.rollout.num_iterations = 2
    ctx = RecordingContext(spec, tmp_path / "out")
    trainer_for(method)(ctx)
    reports = ctx.of("train_report")
    assert [r.iteration for r in reports] == [1, 2, 3]
    assert all("reward_mean" in r.metrics for r in reports)
    evals = ctx.of("eval_report")
    assert [e.iteration for e in evals] == [0, 3]
    assert (tmp_path / "out" / "adapters.safetensors").is_file()


@pytest.mark.parametrize("method", ["online_dpo", "xpo"])
def test_pairwise_methods_train_with_a_judge_model(method, tiny_model, data_dir, tmp_path):
    spec = online_spec(tiny_model, data_dir, method)
    getattr(spec, method).judge.judge_model_path = str(tiny_model)
    ctx = RecordingContext(spec, tmp_path / "out")
    trainer_for(method)(ctx)
    assert all(r.metrics["pairs_ranked"] == 1.0 for r in ctx.of("train_report"))
    assert all(0.0 <= e.metrics["win_rate"] <= 1.0 for e in ctx.of("eval_report"))


@pytest.mark.parametrize("method", ["rlhf", "ppo", "online_dpo"])
def test_trains_with_a_reward_model(method, tiny_model, reward_model, data_dir, tmp_path):
    spec = online_spec(tiny_model, data_dir, method)
    config = getattr(spec, method)
    if method == "online_dpo":
        config.judge.reward_model_path = str(reward_model)
    else:
        config.reward_model_path = str(reward_model)
    ctx = RecordingContext(spec, tmp_path / "out")
    trainer_for(method)(ctx)
    reports = ctx.of("train_report")
    assert all("reward/reward_model_mean" in r.metrics for r in reports)
    assert len({r.metrics["reward_mean"] for r in reports}) > 1  # the model scores, not a constant


def test_the_reward_model_scores_its_head_on_the_last_tokens_hidden_state(tiny_model, reward_model):
    """The backbone is the tiny model's own (loaded, not left random) and the score reads the last token."""
    scorer = RewardModel(str(reward_model))
    prompt = rl_prompt({"prompt": "1 2", "answer": "2"})
    completions = ["2", "one two three"]
    scores = scorer.sequence_scores([prompt, prompt], completions)
    causal, tokenizer = mlx_lm.load(str(tiny_model))
    head = np.array(mx.load(str(reward_model / "model.safetensors"))["score.weight"])[0]
    for completion, score in zip(completions, scores):
        messages = [{"role": "user", "content": "1 2"}, {"role": "assistant", "content": completion}]
        hidden = np.array(causal.model(mx.array([tokenizer.apply_chat_template(messages)]))[0, -1])
        assert score == pytest.approx(float(head @ hidden), rel=1e-4, abs=1e-5)
    assert scores[0] != scores[1]


def test_the_judge_models_preference_does_not_depend_on_the_order(tiny_model):
    judge = JudgeModel(str(tiny_model))
    prompt = rl_prompt({"prompt": "1 2", "answer": "2"})
    forward = judge.first_preferred([prompt, prompt], ["2", "seven"], ["seven and more", "2"])
    backward = judge.first_preferred([prompt, prompt], ["seven and more", "2"], ["2", "seven"])
    np.testing.assert_allclose(np.array(forward) + np.array(backward), 1.0, atol=1e-5)
    assert all(0.0 < p < 1.0 for p in forward)


KNOBS = [
    ("xpo", "alpha", 0.0, 0.5),
    ("ppo", "lam", 0.0, 1.0),
    ("ppo", "gamma", 0.5, 1.0),
    ("ppo", "beta", 0.0, 0.5),
    ("rlhf", "beta", 0.0, 0.5),
    ("online_dpo", "beta", 0.1, 5.0),
]


@pytest.mark.parametrize(("method", "knob", "low", "high"), KNOBS, ids=[f"{m}.{k}" for m, k, _, _ in KNOBS])
def test_each_knob_changes_what_is_trained(method, knob, low, high, tiny_model, reward_model, data_dir, tmp_path):
    """The same seed samples the same first rollout: only the knob differs, and the adapter trained in two
    iterations follows it (in the first the policy is the reference: no KL, no DPO margin yet). A judge or reward
    model ranks or scores every completion (exact_answer gives a random model's completions 0 alike)."""

    def trained(value) -> dict:
        spec = online_spec(tiny_model, data_dir, method, iterations=2, seed=3)
        spec.ClearField("val_data_path")
        config = getattr(spec, method)
        config.rollout.max_completion_length = 6
        setattr(config, knob, value)
        if method in ("online_dpo", "xpo"):
            config.judge.judge_model_path = str(tiny_model)
        else:
            config.reward_model_path = str(reward_model)
        trainer_for(method)(RecordingContext(spec, tmp_path / f"{knob}-{value}"))
        return mx.load(str(tmp_path / f"{knob}-{value}" / "adapters.safetensors"))

    with_low, with_high = trained(low), trained(high)
    assert not all(mx.array_equal(with_low[name], with_high[name]).item() for name in with_low)


@pytest.mark.parametrize("method", ["xpo", "ppo"])
def test_gradient_accumulation_averages_the_rollouts_of_one_update(method, tiny_model, data_dir, tmp_path):
    """With grad_accumulation_steps 2 an iteration samples two batches' rollouts and takes each update on both."""
    spec = online_spec(tiny_model, data_dir, method, grad_accumulation_steps=2, iterations=2)
    ctx = RecordingContext(spec, tmp_path / "out")
    trainer_for(method)(ctx)
    reports = ctx.of("train_report")
    assert [r.iteration for r in reports] == [1, 2]
    one = online_spec(tiny_model, data_dir, method, iterations=2)
    single = RecordingContext(one, tmp_path / "one")
    trainer_for(method)(single)
    # Twice the completions are trained on per iteration.
    assert reports[-1].trained_tokens > single.of("train_report")[-1].trained_tokens
