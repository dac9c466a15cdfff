"""`droidft train` and `estimate`: a flag for every spec field (generated from the contract), --config in JSON or
YAML with short enum names, and the closest names for an unknown flag or field."""

import pytest
from google.protobuf import descriptor

from droidft import InvalidSpecError
from droidft.cli import main
from droidft.cli.method_view import format_allowed_and_recommended
from droidft.cli.spec_arguments import spec_flags
from droidft.specs import training_job_spec
from droidft.v1 import job_pb2, methods_pb2, options_pb2


@pytest.fixture
def droidft(fake, capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--server", fake.address, *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def scalar_fields(message, prefix=""):
    """Every settable field of a message (scalars and lists), by path, walked independently of the CLI."""
    for field in message.fields:
        is_message = field.type == descriptor.FieldDescriptor.TYPE_MESSAGE
        if is_message and not field.is_repeated:
            yield from scalar_fields(field.message_type, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}"


def test_every_field_of_the_spec_has_a_flag():
    spec = job_pb2.TrainingJobSpec.DESCRIPTOR
    own_flags = ("from_checkpoint.", "data_keys.")  # --from-checkpoint JOB[:ITERATION], --data-key FIELD=KEY
    expected = {path for path in scalar_fields(spec) if not path.startswith(own_flags)}
    flagged = set()
    for flag in spec_flags():
        path = ".".join(flag.path)
        flagged |= {f"{method}.{path}" for method in flag.methods} if flag.methods else {path}
    assert flagged == expected
    assert len({flag.flag for flag in spec_flags()}) == len(spec_flags())  # no two flags share a name


def test_generated_flags_build_the_spec(droidft, fake):
    code, _, err = droidft(
        "train", "--model", "/m", "--data", "/d", "--method", "dpo", "--fine-tune-type", "dora", "--epochs", "2",
        "--optimizer-kind", "adamw", "--weight-decay", "0.05", "--lr-schedule-kind", "cosine", "--warmup-steps", "10",
        "--max-grad-norm", "1.0", "--grad-accumulation-steps", "4", "--beta", "0.2", "--loss-type", "ipo",
        "--early-stop", "--patience", "2",
    )  # fmt: skip
    assert code == 0, err
    assert fake.service.requests_of("CreateTrainingJob")[0].spec == job_pb2.TrainingJobSpec(
        model_path="/m",
        train_data_path="/d",
        adapter=methods_pb2.AdapterConfig(fine_tune_type=methods_pb2.FINE_TUNE_TYPE_DORA),
        epochs=2,
        optimizer=options_pb2.OptimizerConfig(kind=options_pb2.OPTIMIZER_KIND_ADAMW, weight_decay=0.05),
        lr_schedule=options_pb2.LrSchedule(kind=options_pb2.LR_SCHEDULE_KIND_COSINE, warmup_steps=10),
        max_grad_norm=1.0,
        grad_accumulation_steps=4,
        dpo=methods_pb2.DpoConfig(beta=0.2, loss_type=methods_pb2.DPO_LOSS_TYPE_IPO),
        early_stop=True,
        patience=2,
    )


def test_a_yaml_config_with_short_enum_names_and_flags_over_it(droidft, fake, tmp_path):
    config = tmp_path / "job.yaml"
    config.write_text(
        "model_path: /m\ntrain_data_path: /d\nlearning_rate: 2.0e-4\n"
        "dr_grpo:\n  domain: medical\n  rollout:\n    group_size: 4\n    rewards:\n      - name: exact_answer\n"
    )
    code, _, err = droidft("train", "--config", str(config), "--domain", "legal", "--group-size", "8")
    assert code == 0, err
    spec = fake.service.requests_of("CreateTrainingJob")[0].spec
    assert (spec.learning_rate, spec.dr_grpo.domain, spec.dr_grpo.rollout.group_size) == (
        2e-4,
        methods_pb2.DOMAIN_LEGAL,
        8,
    )
    assert [r.name for r in spec.dr_grpo.rollout.rewards] == ["exact_answer"]
    rewards = ("--rewards", "name=numeric_answer,weight=2", "--rewards", "name=step_format")
    assert droidft("train", "--config", str(config), *rewards)[0] == 0
    spec = fake.service.requests_of("CreateTrainingJob")[1].spec
    assert [(r.name, r.weight, r.HasField("weight")) for r in spec.dr_grpo.rollout.rewards] == [
        ("numeric_answer", 2.0, True),
        ("step_format", 0.0, False),
    ]


def test_a_method_setting_for_another_method_is_refused(droidft, fake):
    code, _, err = droidft("train", "--model", "/m", "--data", "/d", "--method", "sft", "--beta", "0.1")
    assert code == 3
    methods = "grpo, gspo, dr_grpo, dpo, orpo, cpo, online_dpo, xpo, rlhf, ppo"
    assert err == f"error: --beta is a setting of {methods}, and the job's method is sft: give --method\n"
    assert fake.service.requests == []


def test_an_unknown_config_field_gets_the_closest_names(droidft, tmp_path):
    config = tmp_path / "job.json"
    config.write_text('{"model_path": "/m", "adapter": {"fine_tune_typ": "lora"}}')
    code, _, err = droidft("train", "--config", str(config))
    assert code == 3
    assert "spec.adapter.fine_tune_typ: no field 'fine_tune_typ'; did you mean fine_tune_type?" in err


def test_unknown_flag_message_names_the_closest(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--model", "/m", "--learnig-rate", "1e-4"])
    assert "--learnig-rate: did you mean --learning-rate" in capsys.readouterr().err


def test_the_python_client_raises_a_droidft_error_for_a_bad_spec():
    with pytest.raises(InvalidSpecError) as refused:
        training_job_spec({"model_path": "/m", "adapter": {"fine_tune_type": "lorax"}})
    assert refused.value.field_violations[0].field == "spec.adapter.fine_tune_type"
    assert "choose one of lora, dora, full" in refused.value.field_violations[0].description
    assert (
        training_job_spec({"adapter": {"fineTuneType": "full"}}).adapter.fine_tune_type
        == methods_pb2.FINE_TUNE_TYPE_FULL
    )


def test_methods_view_shows_the_recommended_range_beside_the_allowed_one():
    parameter = methods_pb2.ParameterInfo(
        path="learning_rate", minimum=0, minimum_exclusive=True, maximum=0.01, recommended_minimum=1e-6,
        recommended_maximum=1e-4,
    )  # fmt: skip
    assert format_allowed_and_recommended(parameter) == "(0, 0.01], recommended [1e-06, 0.0001]"
    assert format_allowed_and_recommended(methods_pb2.ParameterInfo(minimum=1, maximum=8)) == "[1, 8]"
