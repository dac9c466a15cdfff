"""Operator reward plugins: named in server configuration, listed, selectable, and scored in the worker."""

import sys
import textwrap

import grpc
import pytest

from droidft.v1 import job_pb2, service_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig
from droidft_server.domain import datasets, states

PLUGIN = """
from droidft_server.domain.rewards import register_reward


@register_reward("always_one_test", "Scores every completion 1 (a plugin used by the tests).")
def always_one(completion, example, options):
    return 1.0
"""


@pytest.fixture()
def server(tmp_path, calibration_dir, monkeypatch, roots):
    (tmp_path / "plugin_rewards_for_tests.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers inherit sys.path
    started = DroidftServer(
        ServerConfig(
            state_dir=tmp_path / "state",
            listen="127.0.0.1:0",
            **roots,
            calibration_dir=calibration_dir,
            reward_plugins=["plugin_rewards_for_tests"],
        )
    )
    yield started
    started.stop(grace=0)
    sys.modules.pop("plugin_rewards_for_tests", None)


def grpo_spec(tiny_model, data, reward):
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model),
        train_data_path=str(data),
        iterations=2,
        batch_size=1,
        max_seq_length=512,
        report_every=1,
        learning_rate=1e-5,
    )
    spec.grpo.rollout.group_size = 2
    spec.grpo.rollout.max_completion_length = 4
    spec.grpo.rollout.rewards.add(name=reward, weight=1.0)
    return spec


def test_plugin_reward_is_listed_validated_and_scored_by_the_worker(server, tiny_model, tmp_path):
    data = tmp_path / "grpo.jsonl"
    datasets.write_jsonl(str(data), datasets.generate("grpo", 8, 0))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = service_pb2_grpc.TrainingServiceStub(channel)
        grpo = stub.ListTrainingMethods(service_pb2.ListTrainingMethodsRequest()).methods[1]
        assert "always_one_test" in [r.name for r in grpo.rewards]

        with pytest.raises(grpc.RpcError) as caught:
            stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=grpo_spec(tiny_model, data, "no_such")))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "spec.grpo.rollout.rewards[0].name" in caught.value.details()

        job = stub.CreateTrainingJob(
            service_pb2.CreateTrainingJobRequest(spec=grpo_spec(tiny_model, data, "always_one_test"))
        )
        events = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)))
    assert events[-1].state_change.state == states.SUCCEEDED, events[-1]
    reports = [e.train_report for e in events if e.HasField("train_report")]
    assert reports and all(r.metrics["reward/always_one_test_mean"] == 1.0 for r in reports)
