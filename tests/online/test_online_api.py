"""The online methods through the API: listed with their knobs and judge template, each trained a few iterations
to SUCCEEDED by real workers (with reward functions, a judge model or a reward model), bad combinations
refused at create with the field and the fix, and the judge's weights counted by the estimate."""

from __future__ import annotations

import json
import shutil

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from droidft.v1 import job_pb2, methods_pb2, service_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig
from droidft_server.devtools.tiny_reward_model import build_tiny_reward_model
from droidft_server.domain import datasets, states
from droidft_server.domain.judges import PAIRWISE_JUDGE_TEMPLATE

ONLINE = {
    "online_dpo": methods_pb2.TRAINING_METHOD_ONLINE_DPO,
    "xpo": methods_pb2.TRAINING_METHOD_XPO,
    "rlhf": methods_pb2.TRAINING_METHOD_RLHF,
    "ppo": methods_pb2.TRAINING_METHOD_PPO,
}


@pytest.fixture(scope="module")
def stub(tmp_path_factory, calibration_dir, roots):
    server = DroidftServer(
        ServerConfig(
            state_dir=tmp_path_factory.mktemp("online-state"),
            listen="127.0.0.1:0",
            **roots,
            calibration_dir=calibration_dir,
        )
    )
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield service_pb2_grpc.TrainingServiceStub(channel)
    server.stop(grace=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("online-data") / "prompts.jsonl"
    datasets.write_jsonl(str(path), datasets.generate("prompt_answer", 8, 0))
    return path


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory, tiny_model):
    return build_tiny_reward_model(tiny_model, tmp_path_factory.mktemp("online-rm") / "rm")


def spec_of(method: str, tiny_model, data, **config) -> job_pb2.TrainingJobSpec:
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model),
        train_data_path=str(data),
        iterations=2,
        batch_size=2,
        max_seq_length=512,
        report_every=1,
        learning_rate=1e-5,
    )
    settings = getattr(spec, method)
    settings.rollout.max_completion_length = 4
    for path, value in config.items():
        target = settings
        *parents, name = path.split("__")
        for part in parents:
            target = getattr(target, part)
        setattr(target, name, value)
    return spec


def test_the_online_methods_are_listed_with_their_knobs_and_judge_template(stub):
    listed = {m.config_field: m for m in stub.ListTrainingMethods(service_pb2.ListTrainingMethodsRequest()).methods}
    for name, value in ONLINE.items():
        method = listed[name]
        assert method.method == value and method.available and method.description
        assert "prompt_answer" in method.data_formats
        assert "exact_answer" in [r.name for r in method.rewards]
    parameters = {p.path: p for p in listed["xpo"].parameters}
    assert parameters["xpo.alpha"].default_value == "1e-05" and parameters["xpo.alpha"].maximum == 1
    assert parameters["xpo.rollout.group_size"].default_value == "2"
    assert {p.path: p for p in listed["ppo"].parameters}["ppo.rollout.num_iterations"].default_value == "2"
    assert parameters["xpo.judge.judge_model_path"].description
    ppo = {p.path for p in listed["ppo"].parameters}
    assert {"ppo.gamma", "ppo.lam", "ppo.epsilon", "ppo.reward_model_path"} <= ppo
    assert listed["online_dpo"].prompt_templates["pairwise_judge"] == PAIRWISE_JUDGE_TEMPLATE
    assert not listed["rlhf"].prompt_templates


def train(stub, spec) -> list:
    job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    return list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)))


@pytest.mark.parametrize("method", sorted(ONLINE))
def test_each_online_method_trains_to_succeeded(stub, tiny_model, data, method):
    events = train(stub, spec_of(method, tiny_model, data))
    assert events[-1].state_change.state == states.SUCCEEDED, events[-1]
    reports = [e.train_report for e in events if e.HasField("train_report")]
    assert [r.iteration for r in reports] == [1, 2]
    assert all("reward_mean" in r.metrics for r in reports)


def test_xpo_trains_with_a_judge_model_and_ppo_with_a_reward_model(stub, tiny_model, data, reward_model):
    xpo = spec_of("xpo", tiny_model, data, judge__judge_model_path=str(tiny_model))
    events = train(stub, xpo)
    assert events[-1].state_change.state == states.SUCCEEDED, events[-1]
    ppo = spec_of("ppo", tiny_model, data, reward_model_path=str(reward_model), rollout__num_iterations=2)
    events = train(stub, ppo)
    assert events[-1].state_change.state == states.SUCCEEDED, events[-1]
    assert all("reward/reward_model_mean" in e.train_report.metrics for e in events if e.HasField("train_report"))


def refusal(stub, spec) -> tuple[grpc.StatusCode, str, list[str]]:
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    status = status_pb2.Status.FromString(dict(caught.value.trailing_metadata())["grpc-status-details-bin"])
    reason, fields = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return caught.value.code(), reason, fields


def test_combinations_that_cannot_train_are_refused_with_the_field(stub, tiny_model, data, reward_model, tmp_path):
    code, reason, fields = refusal(stub, spec_of("xpo", tiny_model, data, rollout__group_size=3))
    assert (code, reason, fields) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST", ["spec.xpo"])
    code, _, fields = refusal(stub, spec_of("rlhf", tiny_model, data, rollout__num_iterations=2))
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["spec.rlhf"])
    both = spec_of("online_dpo", tiny_model, data, judge__judge_model_path=str(tiny_model))
    both.online_dpo.rollout.rewards.add(name="exact_answer")
    assert refusal(stub, both)[2] == ["spec.online_dpo"]
    unclipped = spec_of("ppo", tiny_model, data, epsilon=0.1, rollout__num_iterations=1)
    assert refusal(stub, unclipped)[2] == ["spec.ppo"]
    distributed = spec_of("rlhf", tiny_model, data)
    distributed.distributed.ranks = 2
    code, reason, _ = refusal(stub, distributed)
    assert (code, reason) == (grpc.StatusCode.UNIMPLEMENTED, "DISTRIBUTED_UNSUPPORTED")
    two_judges = spec_of("xpo", tiny_model, data, judge__judge_model_path=str(tiny_model))
    two_judges.xpo.judge.reward_model_path = str(reward_model)
    assert refusal(stub, two_judges)[2] == ["spec.xpo.judge"]
    # A causal LM is no reward model: it has no score head.
    code, reason, _ = refusal(stub, spec_of("rlhf", tiny_model, data, reward_model_path=str(tiny_model)))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "REWARD_MODEL_UNSUPPORTED")
    code, reason, _ = refusal(stub, spec_of("ppo", tiny_model, data, reward_model_path=str(tiny_model.parent / "none")))
    assert reason == "MODEL_NOT_FOUND"
    code, reason, _ = refusal(stub, spec_of("xpo", tiny_model, data, judge__judge_model_path="/"))
    assert reason == "PATH_OUTSIDE_ROOTS"
    no_template = tmp_path / "no-template-judge"
    shutil.copytree(tiny_model, no_template)
    config = json.loads((no_template / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (no_template / "tokenizer_config.json").write_text(json.dumps(config))
    code, reason, _ = refusal(stub, spec_of("online_dpo", tiny_model, data, judge__judge_model_path=str(no_template)))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "JUDGE_MODEL_UNSUPPORTED")
    # Tokenizer settings that are not JSON: the judge or reward model would not load.
    (no_template / "tokenizer_config.json").write_bytes(b'\xff{"chat_template": ')
    for spec in (
        spec_of("online_dpo", tiny_model, data, judge__judge_model_path=str(no_template)),
        spec_of("rlhf", tiny_model, data, reward_model_path=str(no_template)),
    ):
        code, reason, fields = refusal(stub, spec)
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "MODEL_UNLOADABLE"), fields


def test_the_estimate_counts_the_judge_model(stub, tiny_model, data, reward_model):
    def estimate(spec):
        return stub.EstimateResources(service_pb2.EstimateResourcesRequest(spec=spec)).estimate

    def frozen_bytes(spec) -> int:
        return estimate(spec).breakdown.reference_model_bytes

    plain = frozen_bytes(spec_of("rlhf", tiny_model, data, beta=0.0))
    with_reference = frozen_bytes(spec_of("rlhf", tiny_model, data))
    with_reward_model = frozen_bytes(spec_of("rlhf", tiny_model, data, reward_model_path=str(reward_model)))
    assert plain == 0 and with_reference > 0
    assert with_reward_model > with_reference
    judged = spec_of("xpo", tiny_model, data, judge__judge_model_path=str(tiny_model))
    unjudged = spec_of("xpo", tiny_model, data)
    assert frozen_bytes(judged) == 2 * frozen_bytes(unjudged)
    # The judge reads every completion: its forward pass takes time too.
    assert estimate(judged).seconds_per_iteration > estimate(unjudged).seconds_per_iteration


def test_a_reward_model_whose_template_refuses_the_datas_system_turns_is_refused(stub, tiny_model, tmp_path):
    # As Gemma's template does; the reward model reads each prompt, with its system turn, and completion.
    refusing = tmp_path / "refusing"
    shutil.copytree(tiny_model, refusing)
    settings = json.loads((refusing / "tokenizer_config.json").read_text())
    settings["chat_template"] = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        + settings["chat_template"]
    )
    (refusing / "tokenizer_config.json").write_text(json.dumps(settings))
    reward_model = build_tiny_reward_model(refusing, tmp_path / "rm")
    with_system = tmp_path / "with-system.jsonl"
    records = [{**record, "system": "Be brief."} for record in datasets.generate("prompt_answer", 8, 0)]
    datasets.write_jsonl(str(with_system), records)
    spec = spec_of("rlhf", tiny_model, with_system, reward_model_path=str(reward_model))
    code, reason, fields = refusal(stub, spec)
    assert (code, reason, fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_REQUEST",
        ["spec.rlhf.reward_model_path"],
    )
    without_system = tmp_path / "without-system.jsonl"
    datasets.write_jsonl(str(without_system), datasets.generate("prompt_answer", 8, 0))
    spec = spec_of("rlhf", tiny_model, without_system, reward_model_path=str(reward_model))
    stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True))
