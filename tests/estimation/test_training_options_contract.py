"""The training options in the contract and the domain (no MLX): limits and recommended ranges, epochs,
refusals of options that would do nothing, and estimator advice the contract accepts."""

from __future__ import annotations

import dataclasses

import protovalidate
import pytest
from estimation_helpers import DEVICE, settings, write_llama

from droidft.v1 import errors_pb2, job_pb2, options_pb2
from droidft_server.domain.errors import DroidftError
from droidft_server.domain.estimation import estimate, read_model_facts
from droidft_server.domain.methods import catalogue
from droidft_server.domain.spec import RECOMMENDED, resolve
from droidft_server.domain.training_options import logger_installed, option_violations, recommended_range_warnings


def spec_of(method: str = "sft", **fields) -> job_pb2.TrainingJobSpec:
    spec = job_pb2.TrainingJobSpec(model_path="m", train_data_path="d", **fields)
    getattr(spec, method).SetInParent()
    return spec


def rule_ids(spec: job_pb2.TrainingJobSpec) -> set[str]:
    try:
        protovalidate.validate(spec)
    except protovalidate.ValidationError as error:
        return {v.proto.rule_id for v in error.violations}
    return set()


def test_the_usual_lora_settings_are_accepted_and_the_limits_are_mlx_s():
    assert rule_ids(spec_of(learning_rate=2e-4, batch_size=16, max_seq_length=16)) == set()
    assert rule_ids(spec_of(learning_rate=1e-2, batch_size=1024, max_seq_length=131072)) == set()
    assert rule_ids(spec_of(learning_rate=2e-2)) == {"double.gt_lte"}
    assert rule_ids(spec_of(batch_size=1025)) == {"uint32.gte_lte"}
    assert rule_ids(spec_of(max_seq_length=15)) == {"uint32.gte_lte"}


def test_epochs_and_iterations_are_exclusive_and_epochs_count_the_data():
    assert rule_ids(spec_of(epochs=2, iterations=10)) == {"spec.epochs_or_iterations"}
    spec = spec_of(epochs=3, batch_size=4, grad_accumulation_steps=2)
    assert resolve(spec, train_records=10).iterations == 4  # ceil(3 x 10 / 8)
    assert resolve(spec, train_records=8).iterations == 3


def test_accumulation_is_given_once():
    spec = spec_of(grad_accumulation_steps=2)
    spec.sft.grad_accumulation_steps = 2
    assert rule_ids(spec) == {"spec.one_grad_accumulation_steps"}
    only_sft = spec_of()
    only_sft.sft.grad_accumulation_steps = 3
    assert resolve(only_sft).grad_accumulation_steps == 3
    assert resolve(spec_of("dpo", grad_accumulation_steps=5)).grad_accumulation_steps == 5


@pytest.mark.parametrize(
    "fields, field, fix",
    [
        ({"optimizer": options_pb2.OptimizerConfig(weight_decay=0.1)}, "spec.optimizer.weight_decay", "adamw or sgd"),
        (
            {"optimizer": options_pb2.OptimizerConfig(kind=options_pb2.OPTIMIZER_KIND_ADAMW, momentum=0.9)},
            "spec.optimizer.momentum",
            "sgd or muon",
        ),
        (
            {"lr_schedule": options_pb2.LrSchedule(min_learning_rate=1e-6)},
            "spec.lr_schedule.min_learning_rate",
            "LINEAR",
        ),
        (
            {"lr_schedule": options_pb2.LrSchedule(kind=options_pb2.LR_SCHEDULE_KIND_COSINE, min_learning_rate=1e-3)},
            "spec.lr_schedule.min_learning_rate",
            "at most learning_rate",
        ),
        (
            {"iterations": 5, "lr_schedule": options_pb2.LrSchedule(warmup_steps=5)},
            "spec.lr_schedule.warmup_steps",
            "fewer than 5",
        ),
    ],
)
def test_options_that_would_do_nothing_are_refused_with_the_fix(fields, field, fix):
    spec = spec_of(**fields)
    assert rule_ids(spec) == set()
    violations = option_violations(spec, resolve(spec))
    assert [v.field for v in violations] == [field]
    assert fix in violations[0].description


def test_warmup_counts_the_grpo_family_s_updates():
    spec = spec_of("grpo", iterations=5, lr_schedule=options_pb2.LrSchedule(warmup_steps=5))
    spec.grpo.rollout.num_iterations = 2
    assert option_violations(spec, resolve(spec)) == []  # 10 updates


def test_values_outside_the_recommended_range_run_with_a_warning():
    spec = spec_of(learning_rate=2e-4, batch_size=16, max_seq_length=256)
    warnings = recommended_range_warnings(spec, resolve(spec))
    assert (
        len(warnings) == 3 and "learning_rate is 0.0002, outside the recommended range 1e-06 to 0.0001" in warnings[0]
    )
    assert recommended_range_warnings(spec_of(), resolve(spec_of())) == []


def test_the_catalogue_lists_the_recommended_range_beside_the_limits():
    parameters = {p.path: p for p in catalogue(["sft"])[0].parameters}
    learning_rate = parameters["learning_rate"]
    assert (learning_rate.maximum, learning_rate.recommended_minimum, learning_rate.recommended_maximum) == (
        0.01,
        *RECOMMENDED["learning_rate"],
    )
    assert parameters["optimizer.kind"].default_value == "OPTIMIZER_KIND_ADAM"
    assert "OPTIMIZER_KIND_MUON" in parameters["optimizer.kind"].allowed_values
    assert parameters["lr_schedule.warmup_steps"].default_value == "0"
    assert not parameters["epochs"].HasField("recommended_minimum")


def test_a_logger_whose_package_is_missing_is_refused(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    spec = spec_of(metrics_logging=options_pb2.MetricsLogging(kind=options_pb2.METRICS_LOGGER_KIND_TENSORBOARD))
    with pytest.raises(DroidftError) as refused:
        logger_installed(resolve(spec))
    assert refused.value.reason == errors_pb2.LOGGER_NOT_INSTALLED
    assert "tensorboardX" in str(refused.value)


def _set(spec: job_pb2.TrainingJobSpec, method: str, path: str, value: str) -> None:
    """Set an advice's 'path=value' on the spec (rollout settings live in the method's config)."""
    *parents, leaf = (f"{method}.{path}" if path.startswith("rollout.") else path).split(".")
    target = spec
    for part in parents:
        target = getattr(target, part)
    setattr(target, leaf, value == "true" if value in ("true", "false") else int(value))


@pytest.mark.parametrize("method", ["sft", "grpo", "dpo"])
@pytest.mark.parametrize("batch_size, max_seq_length", [(1024, 131072), (8, 16), (1, 32)])
def test_the_estimator_never_advises_a_value_the_contract_refuses(tmp_path, method, batch_size, max_seq_length):
    model = read_model_facts(write_llama(tmp_path / "llama"))
    job = settings(method, batch_size=batch_size, max_seq_length=max_seq_length)
    needed = estimate(job, model, token_lengths=None, device=DEVICE).peak_memory_bytes
    tight = dataclasses.replace(DEVICE, available_memory_bytes=needed // 50)
    advice = estimate(job, model, token_lengths=None, device=tight).advice
    for item in advice:
        path, _, value = item.change.partition("=")
        if path == "model_path":
            continue
        spec = spec_of(method, batch_size=batch_size, max_seq_length=max_seq_length)
        _set(spec, method, path, value)
        assert rule_ids(spec) == set(), item.change
