"""A two-rank job through the service: it trains as one process with the same global batch, pauses and resumes,
and a job that lost a rank fails cleanly and goes on from its last checkpoint."""

import json
import multiprocessing
import os
import signal

import mlx.core as mx
import numpy as np
import pytest

from droidft import Client
from droidft.v1 import job_pb2
from droidft.v1.distributed_pb2 import RANK_STATE_FAILED
from droidft_server.app import DroidftServer, ServerConfig

pytestmark = pytest.mark.slow  # several two-rank jobs through a server: about a minute each under load
ITERATIONS = 6


@pytest.fixture(scope="module")
def client(tmp_path_factory, calibration_dir, roots):
    server = DroidftServer(
        ServerConfig(
            state_dir=tmp_path_factory.mktemp("state"), listen="127.0.0.1:0", calibration_dir=calibration_dir, **roots
        )
    )
    with Client(f"127.0.0.1:{server.port}") as connected:
        yield connected
    server.stop(grace=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    records = [
        {"messages": [{"role": "user", "content": f"What is {a} + {b}?"}, {"role": "assistant", "content": f"{a + b}"}]}
        for a in range(1, 7)
        for b in range(1, 4)
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def spec(tiny_model, data, ranks: int, **overrides):
    return {
        "modelPath": str(tiny_model),
        "trainDataPath": str(data),
        "iterations": ITERATIONS,
        "batchSize": 4,
        "learningRate": 1e-4,
        "maxSeqLength": 512,
        "reportEvery": 1,
        "checkpointEvery": 2,
        "seed": 7,
        "sft": {},
        **({"distributed": {"ranks": ranks}} if ranks > 1 else {}),
        **overrides,
    }


def losses(events) -> dict[int, float]:
    return {e.train_report.iteration: e.train_report.loss for e in events if e.HasField("train_report")}


def assert_same_training(events, final, alone):
    alone_losses, alone_adapter = alone
    got = losses(events)
    assert sorted(got) == sorted(alone_losses)
    np.testing.assert_allclose([got[i] for i in sorted(got)], [alone_losses[i] for i in sorted(got)], rtol=1e-4)
    adapter = mx.load(final.adapter_path)
    for name, value in alone_adapter.items():
        np.testing.assert_allclose(np.array(adapter[name]), value, rtol=1e-3, atol=1e-5)


def ranks_of(job_id: str) -> dict[int, multiprocessing.Process]:
    prefix = f"droidft-worker-{job_id}-"
    return {int(p.name.removeprefix(prefix)): p for p in multiprocessing.active_children() if p.name.startswith(prefix)}


@pytest.fixture(scope="module")
def alone(client, tiny_model, data):
    job = client.start_training_job(spec(tiny_model, data, ranks=1))
    final = job.wait(timeout=240)
    assert final.state == job_pb2.JOB_STATE_SUCCEEDED
    return losses(job.progress()), {name: np.array(value) for name, value in mx.load(final.adapter_path).items()}


def test_a_paused_two_rank_job_resumes_and_ends_as_one_process_would(client, tiny_model, data, alone):
    job = client.start_training_job(spec(tiny_model, data, ranks=2))
    events = []
    for event in job.progress():
        events.append(event)
        if event.HasField("train_report") and event.train_report.iteration == 3:
            job.pause()
    paused = job.get()
    assert paused.state == job_pb2.JOB_STATE_PAUSED and 3 <= paused.resume_iteration < ITERATIONS
    assert ranks_of(job.id) == {}
    assert paused.device.endswith("2 ranks")

    job.resume()
    final = job.wait(timeout=240)
    assert final.state == job_pb2.JOB_STATE_SUCCEEDED
    events += list(job.progress(after_sequence=events[-1].sequence))
    assert_same_training(events, final, alone)
    assert any(e.HasField("rank_status") for e in events)


def test_a_job_that_lost_a_rank_fails_and_resumes(client, tiny_model, data, alone):
    job = client.start_training_job(spec(tiny_model, data, ranks=2))
    events = []
    for event in job.progress():
        events.append(event)
        if event.HasField("checkpoint_saved") and event.checkpoint_saved.iteration == 2:
            ranks = ranks_of(job.id)
            os.kill(ranks[1].pid, signal.SIGKILL)
    failed = job.get()
    assert failed.state == job_pb2.JOB_STATE_FAILED and failed.error.reason == "RANK_FAILED"
    assert failed.error.message.startswith("rank 1 of 2 (127.0.0.1) was killed by SIGKILL"), failed.error.message
    # Every rank is gone (rank 0 stopped by the server or ended by the lost ring), each said how it ended.
    assert ranks_of(job.id) == {} and not any(p.is_alive() for p in ranks.values())
    ended = {e.rank_status.rank: e.rank_status for e in events if e.rank_status.state == RANK_STATE_FAILED}
    assert sorted(ended) == [0, 1] and "killed by SIGKILL" in ended[1].message

    assert job.resume().resume_iteration >= 2
    final = job.wait(timeout=240)
    assert final.state == job_pb2.JOB_STATE_SUCCEEDED
    events += list(job.progress(after_sequence=events[-1].sequence))
    assert_same_training(events, final, alone)


def test_a_paused_two_rank_grpo_job_resumes_as_the_uninterrupted_one(client, tiny_model, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"{a} + 2 =", "answer": str(a + 2)}) + "\n" for a in range(6)))
    grpo = {
        "modelPath": str(tiny_model),
        "trainDataPath": str(prompts),
        "iterations": 4,
        "batchSize": 2,
        "learningRate": 1e-4,
        "maxSeqLength": 512,
        "reportEvery": 1,
        "seed": 5,
        "grpo": {"rollout": {"groupSize": 2, "maxCompletionLength": 6, "rewards": [{"name": "exact_answer"}]}},
        "distributed": {"ranks": 2},
    }

    def figures(events):
        return {
            e.train_report.iteration: (e.train_report.loss, e.train_report.metrics["reward_mean"])
            for e in events
            if e.HasField("train_report")
        }

    uninterrupted = client.start_training_job(grpo)
    assert uninterrupted.wait(timeout=240).state == job_pb2.JOB_STATE_SUCCEEDED
    job = client.start_training_job(grpo)
    events = []
    for event in job.progress():
        events.append(event)
        if event.HasField("train_report") and event.train_report.iteration == 2:
            job.pause()
    assert job.get().state == job_pb2.JOB_STATE_PAUSED
    job.resume()
    final = job.wait(timeout=240)
    assert final.state == job_pb2.JOB_STATE_SUCCEEDED
    events += list(job.progress(after_sequence=events[-1].sequence))
    # Each rank samples its own completions, and rank 0's checkpoint holds every rank's generator.
    assert figures(events) == figures(uninterrupted.progress())
    with open(final.adapter_path, "rb") as resumed, open(uninterrupted.get().adapter_path, "rb") as alone:
        assert resumed.read() == alone.read()
