"""Jobs survive: paused and resumed, or resumed after their worker was killed (-9), an SFT, GRPO or DPO job
trains exactly as the same job left alone: the same loss at every iteration and the same final adapter, bit
for bit (a kill -9 of the server: tests/hygiene/test_crash_loop.py)."""

import json
import multiprocessing
import os
import signal

import pytest

from droidft import Client
from droidft.errors import FailedPreconditionError
from droidft.v1 import job_pb2
from droidft_server.app import DroidftServer, ServerConfig

ITERATIONS = 10


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


RECORDS = {
    "sft": [
        {"messages": [{"role": "user", "content": f"What is {a} + {b}?"}, {"role": "assistant", "content": f"{a + b}"}]}
        for a in range(1, 7)
        for b in range(1, 4)
    ],
    "grpo": [{"prompt": f"{a} + {b} =", "answer": str(a + b)} for a in range(3) for b in range(3)],
    "dpo": [{"prompt": f"{a} {b}", "chosen": str(b), "rejected": str(a)} for a in range(3) for b in range(3) if a != b],
}
# Each method's settings: GRPO with two updates per rollout, so a checkpoint falls between rollouts that matter.
METHODS = {
    "sft": {"sft": {}},
    "grpo": {
        "grpo": {
            "rollout": {
                "groupSize": 4,
                "maxCompletionLength": 4,
                "numIterations": 2,
                "rewards": [{"name": "exact_answer", "weight": 1.0}],
            }
        }
    },
    "dpo": {"dpo": {"beta": 0.1}},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("data")
    paths = {}
    for method, records in RECORDS.items():
        paths[method] = root / f"{method}.jsonl"
        paths[method].write_text("".join(json.dumps(record) + "\n" for record in records))
    return paths


def spec(tiny_model, data, method="sft", **overrides):
    return {
        "modelPath": str(tiny_model),
        "trainDataPath": str(data[method]),
        "iterations": ITERATIONS,
        "batchSize": 2,
        "learningRate": 1e-4,
        "maxSeqLength": 512,
        "reportEvery": 1,
        "seed": 7,
        "adapter": {"dropout": 0.1},  # dropout draws from MLX's generator: resume must restore it
        **METHODS[method],
        **overrides,
    }


def losses(events) -> dict[int, float]:
    """Loss by iteration; a resumed run reports each iteration once, after its checkpoint."""
    return {e.train_report.iteration: e.train_report.loss for e in events if e.HasField("train_report")}


def adapter_bytes(job: job_pb2.TrainingJob) -> bytes:
    with open(job.adapter_path, "rb") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def uninterrupted(client, tiny_model, data):
    """The losses and final adapter of each method's job left alone, trained once per module."""
    done = {}

    def of(method: str):
        if method not in done:
            job = client.start_training_job(spec(tiny_model, data, method))
            final = job.wait(timeout=240)
            assert final.state == job_pb2.JOB_STATE_SUCCEEDED
            done[method] = (losses(job.progress()), adapter_bytes(final))
        return done[method]

    return of


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_paused_job_resumes_exactly_where_it_stopped(client, tiny_model, data, uninterrupted, method):
    job = client.start_training_job(spec(tiny_model, data, method))
    events = []
    for event in job.progress():
        events.append(event)
        if event.HasField("train_report") and event.train_report.iteration == 3:
            assert job.pause().state == job_pb2.JOB_STATE_PAUSING
    paused = job.get()
    assert paused.state == job_pb2.JOB_STATE_PAUSED and 3 <= paused.resume_iteration < ITERATIONS
    (checkpoint,) = [c for c in job.checkpoints() if c.resumable]
    assert checkpoint.iteration == paused.resume_iteration
    with pytest.raises(FailedPreconditionError) as refused:
        job.pause()
    assert refused.value.reason == "JOB_STATE_CONFLICT" and "PAUSED" in str(refused.value)

    resumed = job.resume()
    assert resumed.state in (job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_RUNNING) and resumed.job_id == paused.job_id
    final = job.wait(timeout=240)
    assert final.state == job_pb2.JOB_STATE_SUCCEEDED
    events += list(job.progress(after_sequence=events[-1].sequence))
    assert [e.sequence for e in events] == list(range(1, final.last_sequence + 1))  # no gap, no repeat
    assert (losses(events), adapter_bytes(final)) == uninterrupted(method)
    # Followed from the start, the log runs on past the pause to the end.
    assert [e.sequence for e in job.progress()] == list(range(1, final.last_sequence + 1))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_killed_worker_fails_the_job_and_the_job_resumes(client, tiny_model, data, uninterrupted, method):
    job = client.start_training_job(spec(tiny_model, data, method, checkpointEvery=2))
    events = []
    for event in job.progress():
        events.append(event)
        if event.HasField("checkpoint_saved") and event.checkpoint_saved.iteration == 4:
            (worker,) = [p for p in multiprocessing.active_children() if p.name == f"droidft-worker-{job.id}"]
            os.kill(worker.pid, signal.SIGKILL)
    failed = job.get()
    assert failed.state == job_pb2.JOB_STATE_FAILED and failed.error.reason == "WORKER_CRASHED"
    assert "killed by SIGKILL" in failed.error.message
    assert "its last lines" in failed.error.message and "checkpoint_saved" in failed.error.message

    assert job.resume().resume_iteration >= 4
    final = job.wait(timeout=240)
    assert final.state == job_pb2.JOB_STATE_SUCCEEDED
    events += list(job.progress(after_sequence=events[-1].sequence))
    assert (losses(events), adapter_bytes(final)) == uninterrupted(method)


def test_resume_needs_a_resumable_checkpoint_and_a_finished_job_is_continued_from_its_weights(client, tiny_model, data):
    done = client.start_training_job(spec(tiny_model, data, iterations=2))
    assert done.wait(timeout=240).state == job_pb2.JOB_STATE_SUCCEEDED
    with pytest.raises(FailedPreconditionError) as refused:
        done.resume()
    assert refused.value.reason == "JOB_STATE_CONFLICT"

    follow_on = client.start_training_job(spec(tiny_model, data, iterations=2, fromCheckpoint={"jobId": done.id}))
    assert follow_on.wait(timeout=240).state == job_pb2.JOB_STATE_SUCCEEDED
    with pytest.raises(FailedPreconditionError) as unusable:
        client.create_training_job(
            spec(tiny_model, data, adapter={"rank": 4}, fromCheckpoint={"jobId": done.id, "iteration": 1})
        )
    assert unusable.value.reason == "CHECKPOINT_UNUSABLE"
