"""Exact resume, in this process: a run stopped after iteration k and resumed from its full-state checkpoint
reports the same per-iteration losses and saves the same final adapter, bit for bit, as the same run
left alone (worker processes, kill -9 and the server's part are in tests/service/test_durability.py)."""

import shutil

import mlx.core as mx
import pytest
from execution_helpers import CHATS, sft_spec, train_in_process, write_jsonl

from droidft.v1 import methods_pb2
from droidft_server.domain.checkpoints import (
    CHECKPOINT_DIR,
    MANIFEST_FILE,
    TEMPORARY_PREFIX,
    NotResumable,
    checkpoint_dir,
    read_manifest,
    resumable_checkpoints,
)
from droidft_server.worker.training_state import read_checkpoint

FULL = methods_pb2.FINE_TUNE_TYPE_FULL


def stop_after(iteration: int, verb: str = "paused"):
    """A should_stop that asks for a stop once the run has reported `iteration` (report_every=1)."""
    seen: list = []

    def should_stop(events=seen):
        return verb if any(e.train_report.iteration >= iteration for e in events if e.HasField("train_report")) else ""

    return should_stop, seen


def interrupted(spec, output_dir, at: int):
    """The run stopped after `at`, then resumed from its checkpoint of `at`: (events of both, the result)."""
    from droidft.v1 import progress_pb2
    from droidft_server.worker.entry import run_job
    from droidft_server.worker.protocol import WorkerJob

    should_stop, seen = stop_after(at)
    job = WorkerJob(job_id="job", spec=spec.SerializeToString(), output_dir=str(output_dir))
    first = run_job(job, lambda m: seen.append(progress_pb2.TrainingProgress.FromString(m.progress)), should_stop)
    assert first.stopped_early and first.message == f"paused after iteration {at}"
    second = train_in_process(spec, output_dir, resume_from=checkpoint_dir(output_dir, at))
    return seen, second


def assert_resumed_equals_whole(spec, tmp_path, at: int) -> None:
    """The run stopped after `at` and resumed reports what the whole run reports (losses, metrics, validation)
    and saves the same final adapter, bit for bit: the same float32 operations in the same order."""
    whole = train_in_process(spec, tmp_path / "whole")
    first, second = interrupted(spec, tmp_path / "stopped", at)
    resumed = first + second.events
    reports = {e.train_report.iteration: e.train_report for e in resumed if e.HasField("train_report")}
    expected = {r.iteration: r for r in whole.of_kind("train_report")}
    assert {i: r.loss for i, r in reports.items()} == {i: r.loss for i, r in expected.items()}
    assert {i: dict(r.metrics) for i, r in reports.items()} == {i: dict(r.metrics) for i, r in expected.items()}
    evals = [(e.eval_report.iteration, e.eval_report.val_loss) for e in resumed if e.HasField("eval_report")]
    assert evals == [(e.iteration, e.val_loss) for e in whole.of_kind("eval_report")]
    final = mx.load(str(tmp_path / "stopped" / "adapters.safetensors"))
    expected_weights = mx.load(str(tmp_path / "whole" / "adapters.safetensors"))
    assert final.keys() == expected_weights.keys()
    assert all(mx.array_equal(final[k], expected_weights[k]).item() for k in expected_weights)


@pytest.mark.parametrize(
    "adapter",
    [methods_pb2.AdapterConfig(dropout=0.1), methods_pb2.AdapterConfig(fine_tune_type=FULL, num_layers=1)],
    ids=["lora-with-dropout", "full"],
)
@pytest.mark.parametrize("at", [3, 4])
def test_sft_resumed_run_equals_the_uninterrupted_one(tiny_model, tmp_path, adapter, at):
    data = write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
    write_jsonl(tmp_path / "data" / "valid.jsonl", CHATS[:2])
    # 6 records in batches of 2 draw a new epoch order every 3 iterations; with eval_every=3 the stop after 3 skips a
    # validation that the resumed run must run first, the one after 4 skips none.
    spec = sft_spec(
        tiny_model, data.parent, adapter=adapter, iterations=8, report_every=1, eval_every=3, eval_batches=1
    )
    assert_resumed_equals_whole(spec, tmp_path, at)


def test_a_stop_writes_a_resumable_checkpoint_with_its_manifest(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", CHATS)
    should_stop, seen = stop_after(2, "cancelled")
    from droidft.v1 import progress_pb2
    from droidft_server.worker.entry import run_job
    from droidft_server.worker.protocol import WorkerJob

    spec = sft_spec(tiny_model, data, iterations=6, report_every=1)
    job = WorkerJob(job_id="job", spec=spec.SerializeToString(), output_dir=str(tmp_path / "out"))
    result = run_job(job, lambda m: seen.append(progress_pb2.TrainingProgress.FromString(m.progress)), should_stop)
    assert result.message == "cancelled after iteration 2"
    saved = [e.checkpoint_saved for e in seen if e.HasField("checkpoint_saved")]
    assert [(c.iteration, c.final, c.resumable) for c in saved] == [(2, False, True), (2, True, False)]
    manifest = read_manifest(checkpoint_dir(tmp_path / "out", 2))
    assert manifest["iteration"] == 2
    assert set(manifest["files"]) == {
        "adapters.safetensors", "adapter_config.json", "optimizer.safetensors", "random.safetensors", "state.json"
    }  # fmt: skip


PROMPTS = [{"prompt": f"{a} + {b} =", "answer": str(a + b)} for a in range(3) for b in range(3)]
PAIRS = [{"prompt": f"{a} {b}", "chosen": str(b), "rejected": str(a)} for a in range(3) for b in range(3) if a != b]


def test_grpo_with_several_updates_per_rollout_resumes_exactly(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "data" / "train.jsonl", PROMPTS)
    write_jsonl(tmp_path / "data" / "valid.jsonl", PROMPTS[:4])
    spec = sft_spec(tiny_model, data.parent, iterations=5, report_every=1, eval_every=2, eval_batches=1)
    spec.adapter.dropout = 0.1
    spec.ClearField("sft")
    rollout = spec.grpo.rollout
    rollout.group_size, rollout.max_completion_length, rollout.num_iterations = 4, 4, 2
    rollout.rewards.add(name="exact_answer", weight=1.0)
    assert_resumed_equals_whole(spec, tmp_path, at=2)


def test_dpo_resumes_exactly(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "data" / "train.jsonl", PAIRS)
    write_jsonl(tmp_path / "data" / "valid.jsonl", PAIRS[:2])
    spec = sft_spec(tiny_model, data.parent, iterations=6, report_every=1, eval_every=2, eval_batches=1)
    spec.adapter.dropout = 0.1
    spec.ClearField("sft")
    spec.dpo.beta = 0.1
    assert_resumed_equals_whole(spec, tmp_path, at=3)


def test_a_checkpoint_cut_short_is_never_taken(tiny_model, tmp_path):
    """A worker killed while writing leaves a temporary directory, or (a disk that lost writes) files that do not
    match the manifest: neither is listed as resumable, and reading one refuses instead of resuming wrongly."""
    data = write_jsonl(tmp_path / "train.jsonl", CHATS)
    out = tmp_path / "out"
    train_in_process(sft_spec(tiny_model, data, iterations=6, checkpoint_every=2), out)
    assert [c.iteration for c in resumable_checkpoints(out)] == [2, 4, 6]

    shutil.copytree(checkpoint_dir(out, 6), out / CHECKPOINT_DIR / f"{TEMPORARY_PREFIX}0000008-999")
    (out / CHECKPOINT_DIR / f"{TEMPORARY_PREFIX}0000008-999" / MANIFEST_FILE).unlink()  # killed before the manifest
    with open(checkpoint_dir(out, 6) / "optimizer.safetensors", "r+b") as optimizer:
        optimizer.truncate(100)  # a short file
    with open(checkpoint_dir(out, 4) / "adapters.safetensors", "r+b") as adapter:
        adapter.seek(-1, 2)
        adapter.write(b"\x00")  # the same size, other bytes

    assert [c.iteration for c in resumable_checkpoints(out)] == [2, 4]  # the listing checks sizes only
    for iteration, why in ((6, "not the size"), (4, "SHA-256")):
        with pytest.raises(NotResumable, match=why):
            read_checkpoint(checkpoint_dir(out, iteration))  # resuming checks every byte
    assert read_checkpoint(checkpoint_dir(out, 2)).iteration == 2
