"""Distributed jobs: two ranks on 127.0.0.1 over MLX's ring, started and watched by the ProcessRunner (a killed
rank, pause and resume: tests/e2e/test_distributed_jobs.py)."""

import fcntl
import multiprocessing
import re

import mlx.core as mx
import numpy as np
import pytest
from execution_helpers import CHATS, RecordingListener, sft_spec, write_jsonl

from droidft.v1 import distributed_pb2, job_pb2, methods_pb2
from droidft_server.domain.errors import Reason
from droidft_server.supervisor.runner import ProcessRunner

# Records of different lengths, so that the two ranks' halves of a batch hold different token counts.
RECORDS = [
    {
        "messages": [
            {"role": "user", "content": f"What is {a} + 2?" + " Think." * (a % 3)},
            {"role": "assistant", "content": f"<answer>{a + 2}</answer>"},
        ]
    }
    for a in range(8)
]


@pytest.fixture()
def runner():
    runner = ProcessRunner(grace_period_s=60)
    yield runner
    runner.shutdown()


def two_ranks(**fields) -> distributed_pb2.DistributedConfig:
    return distributed_pb2.DistributedConfig(ranks=2, **fields)


def rank_processes(job_id: str) -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name.startswith(f"droidft-worker-{job_id}-")]


def run(runner, job_id, spec, output_dir) -> tuple[job_pb2.JobState, RecordingListener]:
    listener = RecordingListener()
    runner.start(job_id, spec, output_dir, listener)
    return listener.outcome(timeout=240), listener


def train_losses(listener: RecordingListener) -> list[float]:
    return [e.train_report.loss for e in listener.events if e.HasField("train_report")]


def test_two_ranks_train_as_one_process_with_the_same_global_batch(runner, tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "data" / "train.jsonl", RECORDS)
    write_jsonl(tmp_path / "data" / "valid.jsonl", RECORDS[:4])
    fields = dict(batch_size=4, iterations=4, report_every=1, eval_every=4, eval_batches=1, seed=7)
    one, one_events = run(runner, "one", sft_spec(tiny_model, data.parent, **fields), tmp_path / "one")
    two, two_events = run(
        runner, "two", sft_spec(tiny_model, data.parent, distributed=two_ranks(), **fields), tmp_path / "two"
    )

    assert one.state == two.state == job_pb2.JOB_STATE_SUCCEEDED, (one, two)
    assert len(train_losses(two_events)) == 4
    np.testing.assert_allclose(train_losses(two_events), train_losses(one_events), rtol=1e-4)
    one_evals = [e.eval_report.val_loss for e in one_events.events if e.HasField("eval_report")]
    two_evals = [e.eval_report.val_loss for e in two_events.events if e.HasField("eval_report")]
    assert len(two_evals) == 2  # before training and after the last iteration
    np.testing.assert_allclose(two_evals, one_evals, rtol=1e-4)
    one_adapter, two_adapter = mx.load(one.adapter_path), mx.load(two.adapter_path)
    assert one_adapter.keys() == two_adapter.keys()
    for name in one_adapter:
        np.testing.assert_allclose(np.array(two_adapter[name]), np.array(one_adapter[name]), rtol=1e-3, atol=1e-5)
    # Rank liveness: each rank started, joined the ring and exited; only rank 0 wrote the job's files.
    statuses = [(e.rank_status.rank, e.rank_status.state) for e in two_events.events if e.HasField("rank_status")]
    for rank in (0, 1):
        assert [state for r, state in statuses if r == rank] == [
            distributed_pb2.RANK_STATE_STARTED,
            distributed_pb2.RANK_STATE_CONNECTED,
            distributed_pb2.RANK_STATE_EXITED,
        ]
    assert two_events.started[0].endswith("2 ranks")
    assert (tmp_path / "two" / "ranks" / "1" / "worker.log").is_file()
    assert not list((tmp_path / "two" / "ranks" / "1").glob("*.safetensors"))
    assert rank_processes("two") == []


def test_a_rank_that_never_joins_the_ring_times_out(runner, tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
    spec = sft_spec(tiny_model, data.parent, distributed=two_ranks(start_timeout_seconds=5))
    # Rank 1 cannot start while its lock is held (as by a leftover worker of the job; it waits 30 s for it).
    lock = tmp_path / "out" / "ranks" / "1" / "worker.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        outcome, _ = run(runner, "late", spec, tmp_path / "out")

    assert outcome.state == job_pb2.JOB_STATE_FAILED
    assert outcome.error_reason == Reason.RANKS_DID_NOT_START
    assert re.search(r"rank\(s\) (0, )?1 did not start", outcome.message), outcome.message
    assert rank_processes("late") == []


def test_grpo_with_two_ranks_completes_and_reports_rewards(runner, tiny_model, tmp_path):
    data = write_jsonl(
        tmp_path / "data" / "train.jsonl",
        [{"prompt": f"What is {a} + 2?", "answer": str(a + 2)} for a in range(4)],
    )
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model),
        train_data_path=str(data),
        batch_size=2,
        iterations=2,
        report_every=1,
        learning_rate=1e-4,
        max_seq_length=256,
        grpo=methods_pb2.GrpoConfig(rollout=methods_pb2.RolloutConfig(group_size=2, max_completion_length=8)),
        distributed=two_ranks(),
    )
    outcome, listener = run(runner, "grpo", spec, tmp_path / "out")

    assert outcome.state == job_pb2.JOB_STATE_SUCCEEDED, outcome
    reports = [e.train_report for e in listener.events if e.HasField("train_report")]
    assert [r.iteration for r in reports] == [1, 2]
    assert all("reward_mean" in r.metrics and "reward_std" in r.metrics for r in reports)
    assert all(r.trained_tokens > 0 for r in reports)
    assert (tmp_path / "out" / "adapters.safetensors").is_file()
    assert rank_processes("grpo") == []
