"""DPO, ORPO and CPO through mlx-lm-lora's trainers: losses, reports, checkpoints, cancel."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from mlx_lm_lora.trainer import cpo_trainer

from droidft.v1 import job_pb2
from droidft_server.worker import preference
from droidft_server.worker.trainers import trainer_for

from .conftest import RecordingContext, write_jsonl


def pair_records(count: int) -> list[dict]:
    return [{"prompt": f"{a} + 1 =", "chosen": str(a + 1), "rejected": f"{a + 2} or so"} for a in range(count)]


def test_dpo_accuracy_is_per_pair():
    # Pair 1 prefers chosen by a lot, pairs 2 and 3 prefer rejected a little: batch means favour chosen.
    chosen = mx.array([5.0, -1.0, -1.0])
    rejected = mx.array([0.0, 0.0, 0.0])
    zeros = mx.zeros(3)
    masks = mx.ones((3, 4))
    _, _, _, metrics = preference.dpo_pair_loss(
        policy_chosen_score=chosen,
        policy_rejected_score=rejected,
        reference_chosen_score=zeros,
        reference_rejected_score=zeros,
        chosen_masks=masks,
        rejected_masks=masks,
        beta=0.1,
        delta=50.0,
        loss_type="sigmoid",
    )
    assert metrics["accuracies"].item() == pytest.approx(1 / 3)
    assert metrics["margins"].item() == pytest.approx(0.1 * 3 / 3)


def test_cpo_adds_nll_of_the_chosen_response():
    chosen, rejected = mx.array([-4.0, -6.0]), mx.array([-5.0, -3.0])
    chosen_masks = mx.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=mx.float32)  # 2 and 4 scored tokens
    args = dict(
        policy_chosen_score=chosen,
        policy_rejected_score=rejected,
        chosen_masks=chosen_masks,
        rejected_masks=chosen_masks,
        beta=0.5,
        delta=50.0,
        loss_type="sigmoid",
    )
    theirs = cpo_trainer.cpo_loss(**args)[0].item()
    ours, _, _, metrics = preference.cpo_pair_loss(**args)
    preference_term = np.mean(np.log1p(np.exp(-0.5 * np.array([1.0, -3.0]))))
    assert theirs == pytest.approx(preference_term, rel=1e-5)
    assert ours.item() == pytest.approx(preference_term + (4 / 2 + 6 / 4) / 2, rel=1e-5)
    assert metrics["accuracies"].item() == 0.5


def test_working_set_size_is_supplied_on_the_cpu():
    with preference.cpu_device_info():
        assert preference.WORKING_SET_KEY in mx.device_info()
    assert mx.device_info is not None


@pytest.mark.parametrize("method", ["dpo", "orpo", "cpo"])
def test_preference_run(method, tiny_model, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", pair_records(6))
    write_jsonl(tmp_path / "valid.jsonl", pair_records(2))
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model),
        train_data_path=str(tmp_path / "train.jsonl"),
        val_data_path=str(tmp_path / "valid.jsonl"),
        iterations=4,
        report_every=2,
        checkpoint_every=2,
        eval_every=2,
        eval_batches=1,
        batch_size=2,
        learning_rate=1e-4,
    )
    getattr(spec, method).beta = 0.2
    ctx = RecordingContext(spec, tmp_path / "out")
    result = trainer_for(method)(ctx)
    assert not result.stopped_early
    reports = ctx.of("train_report")
    assert [r.iteration for r in reports] == [2, 4]
    for key in ("reward_accuracy", "reward_margin", "chosen_reward", "rejected_reward"):
        assert key in reports[0].metrics
    assert reports[-1].trained_tokens > 0
    assert [(c.iteration, c.final) for c in ctx.of("checkpoint_saved")] == [(2, False), (4, False), (4, True)]
    assert (tmp_path / "out" / "checkpoints" / "0000002" / "adapters.safetensors").is_file()
    assert [e.iteration for e in ctx.of("eval_report")] == [0, 2, 4]  # after iterations, the last one included
    assert "reward_accuracy" in ctx.of("eval_report")[0].metrics


def test_preference_cancel(tiny_model, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", pair_records(4))
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model),
        train_data_path=str(tmp_path / "train.jsonl"),
        iterations=100,
        batch_size=2,
        report_every=50,
    )
    spec.dpo.SetInParent()
    ctx = RecordingContext(spec, tmp_path / "out", stop_after=3)
    result = trainer_for("dpo")(ctx)
    assert result.stopped_early and "cancelled after iteration 3" in result.message
    assert [r.iteration for r in ctx.of("train_report")] == [3]
    assert ctx.of("checkpoint_saved")[-1].final and (tmp_path / "out" / "adapters.safetensors").is_file()
