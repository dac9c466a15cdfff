"""The training options every method shares, as they act on training: the learning-rate schedule the reports
show, clipping, weight decay, gradient accumulation and exact resume with all of them."""

import math
import sys
import types
from typing import ClassVar

import mlx.core as mx
import mlx.nn as nn
import pytest
from execution_helpers import CHATS, sft_spec, train_in_process, write_jsonl
from test_resume import PAIRS, PROMPTS, assert_resumed_equals_whole

from droidft.v1 import job_pb2, options_pb2
from droidft_server.domain.checkpoints import checkpoint_dir
from droidft_server.domain.job_data import check_job_data
from droidft_server.domain.spec import resolve
from droidft_server.worker.optimizers import build_optimizer
from droidft_server.worker.training_state import read_checkpoint

COSINE = options_pb2.LR_SCHEDULE_KIND_COSINE
LINEAR = options_pb2.LR_SCHEDULE_KIND_LINEAR


def method_spec(method: str, tiny_model, tmp_path, records=None, **fields) -> job_pb2.TrainingJobSpec:
    """A short job of `method` ("sft", "dpo" or "grpo") on `records`, by default data it takes."""
    records = records or (CHATS if method == "sft" else PAIRS if method in ("dpo", "orpo", "cpo") else PROMPTS)
    data = write_jsonl(tmp_path / "data" / "train.jsonl", records)
    spec = sft_spec(tiny_model, data.parent, **fields)
    if method != "sft":
        spec.ClearField("sft")
        getattr(spec, method).SetInParent()
    if method in ("grpo", "gspo", "dr_grpo"):
        rollout = getattr(spec, method).rollout
        rollout.group_size, rollout.max_completion_length = 2, 4
        rollout.rewards.add(name="exact_answer", weight=1.0)
    return spec


def expected_cosine(step: int, peak: float, warmup: int, total: int, end: float) -> float:
    """The learning rate of update `step` (from 0): linear warm-up from 0, then half a cosine down to `end`."""
    if step < warmup:
        return peak * step / warmup
    decay = total - warmup
    return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * min(step - warmup, decay) / decay))


@pytest.mark.parametrize("method", ["sft", "dpo", "grpo"])
def test_reported_learning_rate_follows_the_schedule(tiny_model, tmp_path, method):
    spec = method_spec(method, tiny_model, tmp_path, iterations=6, report_every=1, learning_rate=1e-3)
    spec.lr_schedule.kind, spec.lr_schedule.warmup_steps, spec.lr_schedule.min_learning_rate = COSINE, 2, 1e-4
    run = train_in_process(spec, tmp_path / "out")
    reported = {r.iteration: r.learning_rate for r in run.of_kind("train_report")}
    # The report after iteration k shows the rate of update k (step k - 1).
    expected = {k: expected_cosine(k - 1, 1e-3, 2, 6, 1e-4) for k in range(1, 7)}
    assert reported == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_linear_schedule_counts_every_update_of_the_grpo_family(tiny_model, tmp_path):
    """num_iterations updates per rollout: the schedule spans iterations x num_iterations updates."""
    spec = method_spec("grpo", tiny_model, tmp_path, iterations=3, report_every=1, learning_rate=1e-3)
    spec.grpo.rollout.num_iterations = 2
    spec.lr_schedule.kind = LINEAR
    run = train_in_process(spec, tmp_path / "out")
    # 6 updates from 1e-3 down to 0; the report after iteration k shows update 2k's rate (step 2k - 1).
    assert [r.learning_rate for r in run.of_kind("train_report")] == pytest.approx(
        [1e-3 * (1 - (2 * k - 1) / 6) for k in (1, 2, 3)], rel=1e-5
    )


def _optimizer(**fields):
    spec = job_pb2.TrainingJobSpec(model_path="m", train_data_path="d", iterations=10, **fields)
    spec.sft.SetInParent()
    return build_optimizer(resolve(spec))


def test_clipping_bounds_the_update():
    """SGD's update is learning_rate x gradient: clipped, its norm is learning_rate x max_grad_norm."""
    layer = nn.Linear(8, 8)
    before = {k: v for k, v in layer.parameters().items()}
    huge = {k: mx.full(v.shape, 100.0) for k, v in before.items()}
    clipped = _optimizer(learning_rate=1e-2, max_grad_norm=0.5, optimizer=options_pb2.OptimizerConfig(kind=3))
    clipped.update(layer, huge)
    change = mx.sqrt(sum(((layer.parameters()[k] - before[k]) ** 2).sum() for k in before)).item()
    assert change == pytest.approx(1e-2 * 0.5, rel=1e-4)
    unclipped_layer = nn.Linear(8, 8)
    unclipped_layer.update(before)
    _optimizer(learning_rate=1e-2, optimizer=options_pb2.OptimizerConfig(kind=3)).update(unclipped_layer, huge)
    assert mx.abs(unclipped_layer.weight - before["weight"]).max().item() == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("kind", ["adamw", "sgd", "adafactor", "muon"])
def test_weight_decay_shrinks_weights_without_gradient(kind):
    """A zero gradient leaves the weights to the decay alone (Adam has none: preflight refuses it)."""
    value = options_pb2.OptimizerKind.Value(f"OPTIMIZER_KIND_{kind.upper()}")
    layer = nn.Linear(8, 8, bias=False)
    before = mx.array(layer.weight)
    optimizer = _optimizer(learning_rate=1e-2, optimizer=options_pb2.OptimizerConfig(kind=value, weight_decay=0.5))
    optimizer.update(layer, {"weight": mx.zeros_like(before)})
    assert mx.linalg.norm(layer.weight).item() < mx.linalg.norm(before).item()


def test_two_accumulated_micro_batches_equal_one_double_batch(tiny_model, tmp_path):
    """Four records: a batch of 4, or two micro-batches of 2 (every record once per iteration either way). SGD's
    update is the gradient times the learning rate, so the weights compare the gradients themselves (Adam's
    division by the root of the second moment would magnify float rounding in near-zero gradients)."""
    sgd = options_pb2.OptimizerConfig(kind=options_pb2.OPTIMIZER_KIND_SGD)

    def final_weights(name: str, **fields):
        records = CHATS[1:5]  # of one token length: a batch's token mean is the mean of its micro-batches' means
        spec = method_spec(
            "sft",
            tiny_model,
            tmp_path,
            records,
            iterations=3,
            report_every=1,
            learning_rate=1e-2,
            optimizer=sgd,
            **fields,
        )
        run = train_in_process(spec, tmp_path / name)
        return run, mx.load(str(tmp_path / name / "adapters.safetensors"))

    double, double_weights = final_weights("double", batch_size=4)
    accumulated, accumulated_weights = final_weights("accumulated", batch_size=2, grad_accumulation_steps=2)
    assert [r.iteration for r in accumulated.of_kind("train_report")] == [1, 2, 3]
    assert accumulated.losses == pytest.approx(double.losses, rel=1e-4)
    for name, weights in double_weights.items():
        assert mx.allclose(accumulated_weights[name], weights, rtol=1e-4, atol=1e-7).item(), name


@pytest.mark.parametrize("method", ["sft", "dpo", "orpo", "cpo", "grpo", "gspo", "dr_grpo"])
def test_every_method_takes_every_option(tiny_model, tmp_path, method):
    """The preference trainers draw each micro-batch afresh and the GRPO family samples each rollout, so a double
    batch is not the same draw; what holds for every method: grad_accumulation_steps micro-batches per update,
    one update (the optimizer's step) per iteration, reported per iteration with the scheduled rate."""
    spec = method_spec(method, tiny_model, tmp_path, iterations=3, report_every=1, checkpoint_every=3)
    spec.grad_accumulation_steps = 2
    spec.learning_rate, spec.lr_schedule.kind, spec.lr_schedule.min_learning_rate = 1e-3, LINEAR, 1e-4
    spec.optimizer.kind, spec.max_grad_norm = options_pb2.OPTIMIZER_KIND_ADAFACTOR, 0.5
    run = train_in_process(spec, tmp_path / "out")
    reports = run.of_kind("train_report")
    assert [r.iteration for r in reports] == [1, 2, 3]
    assert [r.learning_rate for r in reports] == pytest.approx([1e-3 - 9e-4 * k / 3 for k in range(3)], rel=1e-5)
    assert read_checkpoint(checkpoint_dir(tmp_path / "out", 3)).optimizer["step"].item() == 3


@pytest.mark.parametrize("method", ["sft", "dpo", "grpo"])
def test_resume_is_exact_with_schedule_adamw_clipping_and_accumulation(tiny_model, tmp_path, method):
    spec = method_spec(method, tiny_model, tmp_path, iterations=5, report_every=1, learning_rate=1e-3)
    spec.optimizer.kind, spec.optimizer.weight_decay = options_pb2.OPTIMIZER_KIND_ADAMW, 0.05
    spec.lr_schedule.kind, spec.lr_schedule.warmup_steps = COSINE, 2
    spec.max_grad_norm = 1.0
    spec.grad_accumulation_steps = 2
    assert_resumed_equals_whole(spec, tmp_path, at=2)


def test_epochs_set_the_iterations_from_the_data(tiny_model, tmp_path):
    """6 records, batch 2, 2 micro-batches per update: 2 epochs are ceil(12 / 4) = 3 iterations."""
    spec = method_spec("sft", tiny_model, tmp_path, report_every=1, epochs=2, grad_accumulation_steps=2)
    spec.ClearField("iterations")
    plan = check_job_data(resolve(spec), max_issues=1).plan()  # what create keeps with the job
    assert plan.train_records_used == len(CHATS)
    run = train_in_process(spec, tmp_path / "out", data=plan)
    assert [(r.iteration, r.total_iterations) for r in run.of_kind("train_report")] == [(1, 3), (2, 3), (3, 3)]


class RecordingWriter:
    """tensorboardX's SummaryWriter, as far as the worker uses it."""

    written: ClassVar[list] = []

    def __init__(self, logdir: str) -> None:
        self.logdir = logdir

    def add_scalar(self, name: str, value: float, step: int) -> None:
        RecordingWriter.written.append((self.logdir, name, value, step))

    def close(self) -> None:
        RecordingWriter.written.append("closed")


def test_tensorboard_logging_gets_every_report(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", types.SimpleNamespace(SummaryWriter=RecordingWriter))
    RecordingWriter.written = []
    spec = method_spec("sft", tiny_model, tmp_path, iterations=3, report_every=1, eval_every=3)
    spec.val_data_path = spec.train_data_path + "/train.jsonl"
    spec.metrics_logging.kind = options_pb2.METRICS_LOGGER_KIND_TENSORBOARD
    run = train_in_process(spec, tmp_path / "out")
    written = RecordingWriter.written
    assert written[-1] == "closed"
    losses = [(step, value) for _, name, value, step in written[:-1] if name == "train/loss"]
    assert losses == [(r.iteration, pytest.approx(r.loss)) for r in run.of_kind("train_report")]
    assert [step for _, name, _, step in written[:-1] if name == "eval/val_loss"] == [0, 3]
    assert {logdir for logdir, *_ in written[:-1]} == {str(tmp_path / "out" / "tensorboard")}


class RecordingRun:
    """A wandb run, as far as the worker uses it; `wandb.init` makes one."""

    made: ClassVar[list] = []

    def __init__(self, **init) -> None:
        self.init, self.logged, self.finished = init, [], False
        RecordingRun.made.append(self)

    def log(self, figures: dict, step: int) -> None:
        self.logged.append((step, figures))

    def finish(self) -> None:
        self.finished = True


def test_wandb_logging_is_one_run_per_job_with_every_report(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=RecordingRun))
    RecordingRun.made = []
    spec = method_spec("dpo", tiny_model, tmp_path, iterations=2, report_every=1)
    spec.metrics_logging.kind = options_pb2.METRICS_LOGGER_KIND_WANDB
    spec.metrics_logging.project = "lora-trials"
    run = train_in_process(spec, tmp_path / "out")
    [made] = RecordingRun.made
    assert (made.init["project"], made.init["id"], made.init["resume"], made.finished) == (
        "lora-trials",
        "job",
        "allow",
        True,
    )
    assert made.init["config"]["metrics_logging"]["project"] == "lora-trials"
    assert [step for step, _ in made.logged] == [r.iteration for r in run.of_kind("train_report")] == [1, 2]
    assert {"train/loss", "train/learning_rate", "train/reward_accuracy"} <= set(made.logged[0][1])
