"""The GRPO-family trainer on the tiny model: events, checkpoints, cancel, and each method knob's effect."""

from __future__ import annotations

import json
from dataclasses import dataclass

import mlx.core as mx
import mlx_lm
import numpy as np
import pytest
from mlx.utils import tree_flatten
from mlx_lm.tuner.lora import LoRALinear

from droidft.v1 import job_pb2, methods_pb2
from droidft_server.domain import preflight
from droidft_server.domain.errors import DroidftError
from droidft_server.domain.rewards import REWARDS, RewardFunction
from droidft_server.domain.spec import resolve
from droidft_server.worker.adapters import apply_adapter, set_up_adapter
from droidft_server.worker.rl import trainer as rl_trainer
from droidft_server.worker.rl.data import RlPrompt, rl_prompt
from droidft_server.worker.rl.losses import policy_loss, top_entropy_mask
from droidft_server.worker.rl.method import chat_messages, policy_method, select_prompts
from droidft_server.worker.rl.rollout import policy_log_probs
from droidft_server.worker.rl.trainer import PolicyTrainer
from droidft_server.worker.trainers import trainer_for

from .conftest import RecordingContext, addition_records, write_jsonl


def make_spec(tiny_model, data, method: str, **fields) -> job_pb2.TrainingJobSpec:
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model), train_data_path=str(data), learning_rate=1e-4, batch_size=2, seed=3, **fields
    )
    config = getattr(spec, method)
    config.rollout.group_size = 2
    config.rollout.max_completion_length = 4
    config.rollout.num_iterations = 2
    return spec


@pytest.fixture()
def data_dir(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", addition_records(8, seed=0))
    write_jsonl(tmp_path / "valid.jsonl", addition_records(2, seed=1))
    return tmp_path


def test_grpo_run_reports_checkpoints_and_adapter(tiny_model, data_dir, tmp_path):
    spec = make_spec(
        tiny_model, data_dir, "grpo", iterations=3, report_every=2, checkpoint_every=2, eval_every=2, eval_batches=1
    )
    spec.grpo.beta = 0.04  # loads the reference model and reports kl
    ctx = RecordingContext(spec, tmp_path / "out")
    result = trainer_for("grpo")(ctx)

    assert not result.stopped_early and result.adapter_path == str(tmp_path / "out" / "adapters.safetensors")
    reports = ctx.of("train_report")
    assert [r.iteration for r in reports] == [2, 3]
    metrics = reports[0].metrics
    for key in (
        "reward_mean",
        "reward_std",
        "reward/exact_answer_mean",
        "reward/step_format_std",
        "kl",
        "clip_fraction",
        "completion_length",
        "entropy",
    ):
        assert key in metrics, key
    assert 0 < metrics["completion_length"] <= 4 and metrics["kl"] >= 0
    assert 1 <= len(reports[0].samples) <= 3 and reports[0].samples[0].prompt.endswith("=")
    assert reports[-1].trained_tokens > 0 and reports[-1].peak_memory_bytes > 0
    saved = ctx.of("checkpoint_saved")
    assert [(c.iteration, c.final) for c in saved] == [(2, False), (3, True)]
    assert (tmp_path / "out" / "checkpoints" / "0000002" / "adapters.safetensors").is_file()
    assert [e.iteration for e in ctx.of("eval_report")] == [0, 2, 3]
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert config["method"] == "grpo"
    model, _ = mlx_lm.load(str(tiny_model), adapter_path=str(tmp_path / "out"))  # loadable as an mlx-lm adapter
    assert model is not None


def test_cancel_saves_the_adapter_after_the_current_iteration(tiny_model, data_dir, tmp_path):
    spec = make_spec(tiny_model, data_dir, "gspo", iterations=50, report_every=10)
    spec.gspo.sparse_optimization = True
    ctx = RecordingContext(spec, tmp_path / "out", stop_after=2)
    result = trainer_for("gspo")(ctx)
    assert result.stopped_early and "cancelled after iteration 2" in result.message
    assert [r.iteration for r in ctx.of("train_report")] == [2]
    assert ctx.of("checkpoint_saved")[-1].final and (tmp_path / "out" / "adapters.safetensors").is_file()


def test_dr_grpo_scales_adapter_and_filters_domain(tiny_model, tmp_path):
    records = [
        dict(r, domain=d, expertise_level="beginner", domain_context={})
        for r, d in zip(addition_records(4, seed=0), ["medical", "legal", "medical", "legal"])
    ]
    write_jsonl(tmp_path / "train.jsonl", records)
    spec = make_spec(tiny_model, tmp_path / "train.jsonl", "dr_grpo", iterations=1)
    spec.dr_grpo.domain = methods_pb2.DOMAIN_MEDICAL
    spec.dr_grpo.domain_adaptation_strength = 1.5
    spec.adapter.scale = 10.0
    ctx = RecordingContext(spec, tmp_path / "out")
    trainer_for("dr_grpo")(ctx)
    assert "2 training prompts" in ctx.of("log")[0].message
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert config["lora_parameters"]["scale"] == pytest.approx(15.0)


# --- knob mechanisms, unit level ----------------------------------------------------------------


def settings_for(method: str, **config):
    spec = job_pb2.TrainingJobSpec(model_path="m", train_data_path="d")
    for name, value in config.items():
        setattr(getattr(spec, method), name, value)
    getattr(spec, method).SetInParent()
    return resolve(spec)


def test_dr_grpo_system_prompt_follows_domain_and_level():
    prompt = RlPrompt(
        prompt="2 + 2 =", system="ignored", reward_example=rl_prompt({"prompt": "x", "answer": "4"}).reward_example
    )
    medical = policy_method(settings_for("dr_grpo", domain=methods_pb2.DOMAIN_MEDICAL))
    legal = policy_method(settings_for("dr_grpo", domain=methods_pb2.DOMAIN_LEGAL))
    expert = policy_method(
        settings_for("dr_grpo", domain=methods_pb2.DOMAIN_LEGAL, expertise_level=methods_pb2.EXPERTISE_LEVEL_EXPERT)
    )
    systems = [chat_messages(prompt, m)[0]["content"] for m in (medical, legal, expert)]
    assert len(set(systems)) == 3 and "clinician" in systems[0] and "lawyer" in systems[1]
    assert chat_messages(prompt, medical)[1] == {"role": "user", "content": "2 + 2 ="}


def test_dr_grpo_selects_records_of_its_domain():
    prompts = [rl_prompt({"prompt": "p", "answer": "a", "domain": d}) for d in ("medical", "legal")]
    prompts.append(rl_prompt({"prompt": "p", "answer": "a"}))
    medical = policy_method(settings_for("dr_grpo", domain=methods_pb2.DOMAIN_MEDICAL))
    general = policy_method(settings_for("dr_grpo"))
    assert [p.domain for p in select_prompts(prompts, medical)] == ["medical", None]
    assert len(select_prompts(prompts, general)) == 3


def test_domain_adaptation_strength_multiplies_lora_scale(tiny_model):
    method = policy_method(settings_for("dr_grpo", domain_adaptation_strength=0.5))
    assert method.adapter.scale == pytest.approx(10.0)  # default adapter scale 20 x 0.5
    model, _ = mlx_lm.load(str(tiny_model))
    apply_adapter(model, method.adapter)
    lora = [m for _, m in model.named_modules() if isinstance(m, LoRALinear)]
    assert lora and all(m.scale == pytest.approx(10.0) for m in lora)


def test_grpo_reasoning_steps_reach_reward_and_prompt():
    method = policy_method(settings_for("grpo", reasoning_steps=7))
    assert method.reward_options.reasoning_steps == 7
    assert "exactly 7 numbered steps" in method.system_prompts.default
    plain = policy_method(settings_for("grpo"))
    multi = policy_method(settings_for("grpo", multi_step_training=True))
    assert "step_overlap" not in [w.reward.name for w in plain.rewards]
    assert "step_overlap" in [w.reward.name for w in multi.rewards]


def preflight_refusal(spec: job_pb2.TrainingJobSpec) -> dict[str, str]:
    """Field -> description of each violation settings_take_effect finds ({} when it accepts the spec)."""
    job = preflight.Candidate(spec, resolve(spec))
    try:
        preflight.data_valid(job)  # the check reads the data's format from data_valid's one read
        preflight.settings_take_effect(job)
    except DroidftError as error:
        return {v.field: v.description for v in error.field_violations}
    return {}


def test_settings_that_would_do_nothing_are_refused_with_the_fix(tmp_path):
    write_jsonl(tmp_path / "prompt_answer.jsonl", [{"prompt": f"1 + {i} =", "answer": str(1 + i)} for i in range(8)])
    write_jsonl(tmp_path / "grpo.jsonl", addition_records(8, seed=0))

    def spec(method, data="prompt_answer", **config):
        built = job_pb2.TrainingJobSpec(model_path="m", train_data_path=str(tmp_path / f"{data}.jsonl"))
        for name, value in config.items():
            setattr(getattr(built, method), name, value)
        getattr(built, method).SetInParent()
        return built

    full = spec("dr_grpo", domain_adaptation_strength=1.5)
    full.adapter.fine_tune_type = methods_pb2.FINE_TUNE_TYPE_FULL
    assert (
        "set spec.adapter.fine_tune_type to LORA or DORA"
        in preflight_refusal(full)["spec.dr_grpo.domain_adaptation_strength"]
    )
    assert preflight_refusal(spec("dr_grpo", domain_adaptation_strength=1.5)) == {}

    unread = spec("grpo", reasoning_steps=5)
    unread.grpo.rollout.rewards.add(name="exact_answer")
    assert preflight_refusal(unread) == {
        "spec.grpo.reasoning_steps": "acts only on step_format, and the job's rewards are exact_answer: "
        "add step_format to spec.grpo.rollout.rewards, or leave reasoning_steps unset"
    }
    assert preflight_refusal(spec("grpo", reasoning_steps=5)) == {}  # step_format is a default reward

    assert (
        "give grpo or question_answer data, or turn multi_step_training off"
        in preflight_refusal(spec("grpo", multi_step_training=True))["spec.grpo.multi_step_training"]
    )
    assert preflight_refusal(spec("grpo", data="grpo", multi_step_training=True)) == {}
    overlap = spec("dr_grpo")
    overlap.dr_grpo.rollout.rewards.add(name="step_overlap")
    assert "or remove step_overlap" in preflight_refusal(overlap)["spec.dr_grpo.rollout.rewards[0].name"]


def test_a_plugin_reward_that_reads_reasoning_steps_gives_them_their_effect(monkeypatch, tmp_path):
    monkeypatch.setitem(
        REWARDS,
        "steps_counted",
        RewardFunction("steps_counted", "test", 1.0, lambda c, e, o: 0.0, reads_reasoning_steps=True),
    )
    write_jsonl(tmp_path / "train.jsonl", addition_records(8, seed=0))
    spec = job_pb2.TrainingJobSpec(model_path="m", train_data_path=str(tmp_path / "train.jsonl"))
    spec.grpo.reasoning_steps = 6
    spec.grpo.rollout.rewards.add(name="steps_counted")
    assert preflight_refusal(spec) == {}
    assert "exactly 6 numbered steps" in policy_method(resolve(spec)).system_prompts.default


def test_method_losses():
    grpo = policy_method(settings_for("grpo")).loss
    gspo = policy_method(settings_for("gspo", sparse_optimization=True, sparse_ratio=0.3))
    dr = policy_method(settings_for("dr_grpo")).loss
    assert (grpo.level, grpo.normalizer, grpo.epsilon, grpo.epsilon_high) == ("token", "sequence_mean", 0.2, 0.2)
    assert (gspo.loss.level, gspo.loss.epsilon, gspo.loss.epsilon_high) == ("sequence", 3e-4, 4e-4)
    assert gspo.sparse_ratio == 0.3 and policy_method(settings_for("gspo")).sparse_ratio is None
    assert (dr.normalizer, dr.max_completion_length) == ("constant", 64)
    assert not policy_method(settings_for("dr_grpo")).scale_advantages


def test_old_log_probs_are_the_sampling_policy(tiny_model):
    """pi_old recorded at rollout equals the policy before any update: the first ratio is exactly 1."""
    from droidft_server.worker.rl.rollout import SamplingSettings, policy_log_probs, sample_rollout

    model, tokenizer = mlx_lm.load(str(tiny_model))
    prompt = list(tokenizer.apply_chat_template([{"role": "user", "content": "1 + 2 ="}], add_generation_prompt=True))
    rollout = sample_rollout(model, tokenizer, [prompt, prompt[:-1]], SamplingSettings(2, 3, 0.8, 1.0))
    assert rollout.mask.sum(axis=1).tolist() == [float(n) for n in rollout.completion_lengths]
    again, _ = policy_log_probs(model, rollout.inputs, 0.8)
    assert mx.allclose(again * rollout.mask, rollout.old_log_probs * rollout.mask, atol=1e-5).item()


def test_trains_on_the_sample_generator_records(tiny_model, tmp_path):
    from droidft_server.domain.datasets.generate import generate

    write_jsonl(tmp_path / "train.jsonl", list(generate("gspo", 4, seed=0)))
    spec = make_spec(tiny_model, tmp_path / "train.jsonl", "gspo", iterations=1, report_every=1)
    spec.gspo.sparse_optimization = True
    spec.gspo.efficiency_threshold = 0.5
    spec.gspo.rollout.rewards.add(name="step_overlap", weight=1.0)
    ctx = RecordingContext(spec, tmp_path / "out")
    trainer_for("gspo")(ctx)
    assert "reward/step_overlap_mean" in ctx.of("train_report")[0].metrics


def test_early_stop_when_validation_reward_does_not_improve(tiny_model, data_dir, tmp_path):
    # The random model never answers right: validation reward stays 0 and never improves on iteration 0's.
    spec = make_spec(
        tiny_model, data_dir, "dr_grpo", iterations=20, eval_every=1, eval_batches=1, early_stop=True, patience=1
    )
    ctx = RecordingContext(spec, tmp_path / "out")
    result = trainer_for("dr_grpo")(ctx)
    assert result.stopped_early and result.message.startswith("early stop after iteration 1")
    assert [e.iteration for e in ctx.of("eval_report")] == [0, 1]
    assert ctx.of("eval_report")[0].val_loss == -ctx.of("eval_report")[0].metrics["reward_mean"]


# --- each update sees the policy as it samples ------------------------------------------------------------------


@dataclass
class LossCall:
    """What one call of the policy loss was given, and its clip fraction."""

    log_probs: np.ndarray
    old_log_probs: np.ndarray
    mask: np.ndarray
    grad_mask: np.ndarray | None
    clip_fraction: float


@pytest.fixture()
def loss_calls(monkeypatch) -> list[LossCall]:
    """Every call the trainer makes of policy_loss, in order (num_iterations per rollout)."""
    calls: list[LossCall] = []

    def recorded(log_probs, old_log_probs, advantages, mask, config, ref_log_probs=None, grad_mask=None):
        loss, metrics = policy_loss(log_probs, old_log_probs, advantages, mask, config, ref_log_probs, grad_mask)
        calls.append(
            LossCall(
                log_probs=np.array(mx.stop_gradient(log_probs)),
                old_log_probs=np.array(old_log_probs),
                mask=np.array(mask),
                grad_mask=None if grad_mask is None else np.array(grad_mask),
                clip_fraction=float(mx.stop_gradient(metrics["clip_fraction"]).item()),
            )
        )
        return loss, metrics

    monkeypatch.setattr(rl_trainer, "policy_loss", recorded)
    return calls


def trained_start_weights(tiny_model, settings, path):
    """An adapter with nonzero B matrices: a fresh LoRA adapter's B is 0, so dropout on its input changes nothing."""
    mx.random.seed(settings.seed)
    model, _ = mlx_lm.load(str(tiny_model))
    apply_adapter(model, policy_method(settings).adapter)
    weights = dict(tree_flatten(model.trainable_parameters()))
    for index, name in enumerate(sorted(weights)):
        if name.endswith("lora_b"):
            weights[name] = 0.05 * mx.random.normal(weights[name].shape, key=mx.random.key(index))
    mx.save_safetensors(str(path), weights)
    return path


def policy_trainer(ctx) -> PolicyTrainer:
    """The trainer train_policy builds, for driving one rollout and update at a time."""
    method = policy_method(ctx.settings)
    mx.random.seed(ctx.settings.seed)
    model, tokenizer = mlx_lm.load(ctx.settings.model_path)
    checkpoints = set_up_adapter(ctx, model, method.adapter, "a test")
    model.train()
    return PolicyTrainer(ctx, method, model, tokenizer, checkpoints)


def addition_prompts(count: int) -> list[RlPrompt]:
    return [rl_prompt({"prompt": r["problem"], "answer": r["solution"]}) for r in addition_records(count, seed=0)]


def dropout_spec(tiny_model, data_dir, tmp_path, method: str, **fields):
    spec = make_spec(tiny_model, data_dir, method, **fields)
    spec.adapter.dropout = 0.1
    ctx = RecordingContext(spec, tmp_path / "out")
    ctx.start_weights = trained_start_weights(tiny_model, ctx.settings, tmp_path / "start.safetensors")
    return ctx


def test_old_log_probs_are_the_policy_as_it_samples_without_dropout(tiny_model, data_dir, tmp_path):
    trainer = policy_trainer(dropout_spec(tiny_model, data_dir, tmp_path, "grpo"))
    rollout, _ = trainer.rollout(addition_prompts(2))
    assert trainer.model.training  # the trainer's mode is left as it was
    with_dropout, _ = policy_log_probs(trainer.model, rollout.inputs, 0.8)
    trainer.model.eval()
    as_sampled, _ = policy_log_probs(trainer.model, rollout.inputs, 0.8)
    mask = rollout.mask.astype(mx.bool_)
    assert mx.array_equal(mx.where(mask, rollout.old_log_probs, 0), mx.where(mask, as_sampled, 0)).item()
    assert mx.abs(mx.where(mask, rollout.old_log_probs - with_dropout, 0)).max().item() > 1e-2


@pytest.mark.parametrize("method", ["grpo", "gspo"])
def test_first_update_of_each_rollout_is_on_policy_with_adapter_dropout(
    method, tiny_model, data_dir, tmp_path, loss_calls
):
    """The ratio of the first update is pi / pi_old of one and the same policy: 1, whatever the dropout."""
    trainer_for(method)(dropout_spec(tiny_model, data_dir, tmp_path, method, iterations=3))
    assert len(loss_calls) == 6  # 3 rollouts x num_iterations 2
    for first in loss_calls[::2]:
        on = first.mask == 1
        np.testing.assert_allclose(np.exp(first.log_probs - first.old_log_probs)[on], 1.0, rtol=0, atol=1e-6)
        assert first.clip_fraction == 0


def test_updates_keep_adapter_dropout_in_the_gradient_only(tiny_model, data_dir, tmp_path):
    """Two dropout draws give the same loss (its values are the policy's as it samples) and different gradients."""
    trainer = policy_trainer(dropout_spec(tiny_model, data_dir, tmp_path, "grpo"))
    rollout, _ = trainer.rollout(addition_prompts(2))
    advantages = mx.array([1.0, -1.0, -1.0, 1.0])
    log_probs_now, _ = trainer.policy_now(rollout, 0)
    losses, gradients = [], []
    for seed in (1, 2):
        mx.random.seed(seed)
        (loss, _), grads = trainer.loss_and_grad(trainer.model, rollout, advantages, log_probs_now, None)
        losses.append(loss.item())
        gradients.append(dict(tree_flatten(grads)))
    assert losses[0] == losses[1]
    assert any(not mx.allclose(gradients[0][k], gradients[1][k]).item() for k in gradients[0])


def test_sparse_tokens_of_each_update_are_the_current_policys_top_entropy(tiny_model, data_dir, tmp_path, loss_calls):
    """The second update's mask is the top-entropy selection of the policy after the first update, not the sampler's."""
    spec = make_spec(tiny_model, data_dir, "gspo", iterations=1)
    spec.learning_rate = 1e-2  # a step large enough to reorder the entropies
    spec.gspo.sparse_optimization = True
    ctx = RecordingContext(spec, tmp_path / "out")
    ctx.start_weights = trained_start_weights(tiny_model, ctx.settings, tmp_path / "start.safetensors")
    trainer = policy_trainer(ctx)
    rollout, _ = trainer.rollout(addition_prompts(2))
    advantages = mx.array([1.0, -1.0, -1.0, 1.0])

    def selection() -> np.ndarray:
        trainer.model.eval()
        _, entropy = policy_log_probs(trainer.model, rollout.inputs, trainer.method.sampling.temperature)
        trainer.model.train()
        return np.array(top_entropy_mask(entropy, rollout.mask, 0.2))

    sampler_selection = selection()
    np.testing.assert_array_equal(sampler_selection, top_entropy_mask(rollout.entropy, rollout.mask, 0.2))
    window = rl_trainer.ReportWindow()
    trainer.update([(rollout, advantages)], 0, window)
    after_first = selection()
    trainer.update([(rollout, advantages)], 1, window)
    first, second = loss_calls
    np.testing.assert_array_equal(first.grad_mask, sampler_selection)
    np.testing.assert_array_equal(second.grad_mask, after_first)
    assert (after_first != sampler_selection).any()
