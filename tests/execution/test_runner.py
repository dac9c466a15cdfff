"""ProcessRunner: real worker processes training the tiny model."""

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from execution_helpers import CHATS, RecordingListener, sft_spec, write_jsonl

from droidft.v1 import job_pb2, methods_pb2, progress_pb2
from droidft_server.domain.errors import Reason
from droidft_server.domain.runs import StopKind
from droidft_server.supervisor.runner import ProcessRunner

LONG = 1_000_000  # iterations: runs until stopped


@pytest.fixture()
def runner():
    runner = ProcessRunner(grace_period_s=60)
    yield runner
    runner.shutdown()


def worker_of(job_id: str) -> multiprocessing.Process:
    (process,) = [p for p in multiprocessing.active_children() if p.name == f"droidft-worker-{job_id}"]
    return process


def test_a_run_reports_in_order_and_succeeds(runner, tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
    write_jsonl(tmp_path / "data" / "valid.jsonl", CHATS[:2])
    spec = sft_spec(
        tiny_model, data.parent, iterations=6, report_every=2, eval_every=6, checkpoint_every=3, eval_batches=1
    )
    listener = RecordingListener()
    runner.start("ok", spec, tmp_path / "out", listener)
    outcome = listener.outcome()

    assert outcome.state == job_pb2.JOB_STATE_SUCCEEDED, outcome
    assert outcome.adapter_path == str(tmp_path / "out" / "adapters.safetensors")
    assert Path(outcome.adapter_path).is_file() and (tmp_path / "out" / "worker.log").is_file()
    assert len(listener.started) == 1 and listener.started[0].startswith("Device(")
    assert listener.kinds() == [
        "log",
        "eval_report",
        "train_report",
        "checkpoint_saved",
        "train_report",
        "train_report",
        "eval_report",  # validation first: a checkpoint holds all of its iteration's work
        "checkpoint_saved",
        "checkpoint_saved",
    ]
    assert [r.train_report.iteration for r in listener.events if r.HasField("train_report")] == [2, 4, 6]
    assert listener.events[-1].checkpoint_saved.final
    assert all(e.time.seconds > 0 for e in listener.events)


def test_cancel_stops_after_the_current_iteration_and_saves_the_adapter(runner, tiny_model, chats, tmp_path):
    listener = RecordingListener()
    runner.start("cancel", sft_spec(tiny_model, chats, iterations=LONG, report_every=1), tmp_path / "out", listener)
    listener.wait_for("train_report")
    runner.stop("cancel", StopKind.CANCEL)
    outcome = listener.outcome()

    assert outcome.state == job_pb2.JOB_STATE_CANCELLED, outcome
    assert outcome.message.startswith("cancelled after iteration")
    assert Path(outcome.adapter_path).is_file()
    final = listener.events[-1].checkpoint_saved
    assert final.final and 1 <= final.iteration < LONG


class RaisingListener(RecordingListener):
    def on_event(self, job_id, event):
        super().on_event(job_id, event)
        raise RuntimeError("a listener bug")


def test_a_training_error_fails_the_run_with_its_message_even_if_the_listener_raises(runner, tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", CHATS[:1])
    listener = RaisingListener()
    runner.start("error", sft_spec(tiny_model, data, batch_size=2), tmp_path / "out", listener)
    outcome = listener.outcome()

    assert (outcome.state, Reason.Name(outcome.error_reason)) == (job_pb2.JOB_STATE_FAILED, "TRAINING_ERROR")
    # Preflight refuses such a job; a runner handed one anyway reports mlx-lm's own error.
    assert outcome.message.startswith("ValueError: ") and "batch_size=2" in outcome.message
    log = [e.log for e in listener.events if e.HasField("log")][-1]
    assert log.level == progress_pb2.LOG_LEVEL_ERROR and "batch_size=2" in log.message
    assert "Traceback" in (tmp_path / "out" / "worker.log").read_text()


def test_a_killed_worker_fails_the_run_as_crashed(runner, tiny_model, chats, tmp_path):
    listener = RecordingListener()
    runner.start("killed", sft_spec(tiny_model, chats, iterations=LONG, report_every=1), tmp_path / "out", listener)
    listener.wait_for("train_report")
    os.kill(worker_of("killed").pid, signal.SIGKILL)
    outcome = listener.outcome()

    assert (outcome.state, Reason.Name(outcome.error_reason)) == (job_pb2.JOB_STATE_FAILED, "WORKER_CRASHED")
    assert "killed by SIGKILL" in outcome.message


def test_shutdown_pauses_every_run_with_a_resumable_checkpoint(tiny_model, chats, tmp_path):
    runner = ProcessRunner(grace_period_s=60)
    listener = RecordingListener()
    runner.start("a", sft_spec(tiny_model, chats, iterations=LONG, report_every=1), tmp_path / "a", listener)
    listener.wait_for("train_report")
    runner.shutdown()

    assert listener.finished.is_set()
    outcome = listener.outcome()
    assert outcome.state == job_pb2.JOB_STATE_PAUSED  # the job manager queues it again for the next start
    assert (tmp_path / "a" / "adapters.safetensors").is_file()
    saved_events = [e.checkpoint_saved for e in listener.events if e.HasField("checkpoint_saved")]
    (saved,) = [saved for saved in saved_events if not saved.final]
    assert saved.resumable and outcome.message == f"paused after iteration {saved.iteration}"


def test_grad_checkpoint_gives_the_same_losses_with_less_memory(runner, tiny_model, tmp_path):
    long_text = write_jsonl(tmp_path / "train.jsonl", [{"text": "the cat sat on the mat. " * 80}] * 4)

    def report(grad_checkpoint: bool) -> progress_pb2.TrainReport:
        listener = RecordingListener()
        spec = sft_spec(tiny_model, long_text, iterations=2, sft=methods_pb2.SftConfig(grad_checkpoint=grad_checkpoint))
        runner.start(f"checkpointing-{grad_checkpoint}", spec, tmp_path / str(grad_checkpoint), listener)
        assert listener.outcome().state == job_pb2.JOB_STATE_SUCCEEDED
        return [e.train_report for e in listener.events if e.HasField("train_report")][-1]

    plain, checkpointed = report(False), report(True)
    assert checkpointed.loss == pytest.approx(plain.loss, rel=1e-4)
    assert checkpointed.peak_memory_bytes < plain.peak_memory_bytes


def test_the_runner_does_not_load_mlx_in_the_server_process():
    code = (
        "import sys, droidft_server.supervisor.runner\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('mlx', 'mlx_lm', 'mlx_lm_lora'))\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
