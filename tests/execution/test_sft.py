"""Real SFT on the tiny model, in this process (see test_runner.py for worker processes)."""

import itertools
import json

import mlx.core as mx
import mlx.nn as nn
import mlx_lm
import pytest
from execution_helpers import CHATS, sft_spec, train_in_process, write_jsonl

from droidft.v1 import data_pb2, job_pb2, methods_pb2, progress_pb2
from droidft_server.domain.datasets.training_data import DataChanged

LORA, DORA, FULL = methods_pb2.FINE_TUNE_TYPE_LORA, methods_pb2.FINE_TUNE_TYPE_DORA, methods_pb2.FINE_TUNE_TYPE_FULL


def adapter_tensors(output_dir) -> dict[str, mx.array]:
    return mx.load(str(output_dir / "adapters.safetensors"))


def chat_loss(model, tokenizer, chat: dict) -> float:
    tokens = mx.array([tokenizer.apply_chat_template(chat["messages"], return_dict=False)])
    logits = model(tokens[:, :-1])
    return nn.losses.cross_entropy(logits, tokens[:, 1:]).mean().item()


def test_training_lowers_the_loss_and_the_adapter_loads(tiny_model, chats, tmp_path):
    run = train_in_process(sft_spec(tiny_model, chats, iterations=30, report_every=5), tmp_path / "out")

    assert run.losses[-1] < run.losses[0] - 0.5
    assert run.result.adapter_path == str(tmp_path / "out" / "adapters.safetensors")
    assert not run.result.stopped_early
    base, tokenizer = mlx_lm.load(str(tiny_model))
    tuned, _ = mlx_lm.load(str(tiny_model), adapter_path=str(tmp_path / "out"))
    assert chat_loss(tuned, tokenizer, CHATS[0]) < chat_loss(base, tokenizer, CHATS[0]) - 0.5


def planned(path, format_name: str, records: int) -> job_pb2.TrainingData:
    return job_pb2.TrainingData(
        train=data_pb2.DatasetFileReport(path=str(path), format=format_name, record_count=records),
        train_records_used=records,
    )


def test_the_worker_reads_the_files_create_checked_in_the_format_it_decided(tiny_model, chats, tmp_path):
    # The spec's path is gone: what trains is the plan's file, in the plan's format, with no detection.
    spec = sft_spec(tiny_model, tmp_path / "moved-away", iterations=2)
    run = train_in_process(spec, tmp_path / "out", data=planned(chats, "chat_messages", len(CHATS)))
    assert run.result.adapter_path and len(run.losses) == 1


def test_a_data_file_that_changed_after_create_fails_saying_so(tiny_model, chats, tmp_path):
    spec = sft_spec(tiny_model, chats, iterations=2)
    with pytest.raises(DataChanged, match=f"holds {len(CHATS)} records, {len(CHATS) - 1} when the job was accepted"):
        train_in_process(spec, tmp_path / "out", data=planned(chats, "chat_messages", len(CHATS) - 1))


def test_events_follow_the_report_eval_and_checkpoint_schedule(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
    write_jsonl(tmp_path / "data" / "valid.jsonl", CHATS[:2])
    spec = sft_spec(
        tiny_model, data.parent, iterations=6, report_every=2, eval_every=3, checkpoint_every=4, eval_batches=1
    )
    run = train_in_process(spec, tmp_path / "out")

    def step(event):
        kind = event.WhichOneof("event")
        body = getattr(event, kind)
        return (kind, getattr(body, "iteration", None), getattr(body, "final", None))

    assert [step(e) for e in run.events] == [
        ("log", None, None),
        ("eval_report", 0, None),
        ("train_report", 2, None),
        ("eval_report", 3, None),
        ("train_report", 4, None),
        ("checkpoint_saved", 4, False),
        ("train_report", 6, None),
        ("eval_report", 6, None),
        ("checkpoint_saved", 6, True),
    ]
    reports = run.of_kind("train_report")
    assert all(r.total_iterations == 6 and r.learning_rate == pytest.approx(1e-4) for r in reports)
    assert all(r.iterations_per_second > 0 and r.tokens_per_second > 0 and r.peak_memory_bytes > 0 for r in reports)
    assert reports[0].trained_tokens < reports[1].trained_tokens < reports[2].trained_tokens
    checkpoint = run.of_kind("checkpoint_saved")[0].path
    assert checkpoint == str(tmp_path / "out" / "checkpoints" / "0000004" / "adapters.safetensors")
    assert mx.load(checkpoint).keys() == adapter_tensors(tmp_path / "out").keys()


def test_rank_sets_the_adapter_shapes(tiny_model, chats, tmp_path):
    train_in_process(
        sft_spec(tiny_model, chats, iterations=1, adapter=methods_pb2.AdapterConfig(rank=3)), tmp_path / "out"
    )
    tensors = adapter_tensors(tmp_path / "out")
    assert tensors["model.layers.0.self_attn.q_proj.lora_a"].shape == (64, 3)
    assert tensors["model.layers.0.mlp.down_proj.lora_b"].shape == (3, 64)
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert config["lora_parameters"]["rank"] == 3 and config["num_layers"] == 2


def test_num_layers_adapts_only_the_last_blocks(tiny_model, chats, tmp_path):
    adapter = methods_pb2.AdapterConfig(num_layers=1)
    train_in_process(sft_spec(tiny_model, chats, iterations=1, adapter=adapter), tmp_path / "out")
    assert {name.split(".")[2] for name in adapter_tensors(tmp_path / "out")} == {"1"}


def test_num_layers_beyond_the_model_fails_clearly(tiny_model, chats, tmp_path):
    with pytest.raises(ValueError, match="only 2 blocks"):
        train_in_process(sft_spec(tiny_model, chats, adapter=methods_pb2.AdapterConfig(num_layers=3)), tmp_path / "out")


@pytest.mark.parametrize("fine_tune_type", [DORA, FULL])
def test_dora_and_full_adapters_train_and_load(tiny_model, chats, tmp_path, fine_tune_type):
    adapter = methods_pb2.AdapterConfig(fine_tune_type=fine_tune_type, num_layers=1)
    run = train_in_process(
        sft_spec(tiny_model, chats, iterations=10, report_every=5, adapter=adapter), tmp_path / "out"
    )
    names = set(adapter_tensors(tmp_path / "out"))
    if fine_tune_type == DORA:
        assert "model.layers.1.self_attn.q_proj.m" in names
    else:
        assert "model.layers.1.mlp.up_proj.weight" in names and not any("lora" in n for n in names)
        assert not any(n.startswith("model.layers.0.") for n in names)
    assert run.losses[-1] < run.losses[0]
    base, tokenizer = mlx_lm.load(str(tiny_model))
    tuned, _ = mlx_lm.load(str(tiny_model), adapter_path=str(tmp_path / "out"))
    assert chat_loss(tuned, tokenizer, CHATS[0]) < chat_loss(base, tokenizer, CHATS[0])


@pytest.mark.parametrize(
    "changed",
    [
        {"adapter": methods_pb2.AdapterConfig(scale=2.0)},
        {"adapter": methods_pb2.AdapterConfig(dropout=0.5)},
        {"learning_rate": 1e-5},
        {"seed": 2**64 - 1},
    ],
    ids=["scale", "dropout", "learning_rate", "seed"],
)
def test_adapter_and_optimizer_knobs_change_training(tiny_model, chats, tmp_path, changed):
    reference = train_in_process(sft_spec(tiny_model, chats), tmp_path / "reference")
    again = train_in_process(sft_spec(tiny_model, chats), tmp_path / "again")
    other = train_in_process(sft_spec(tiny_model, chats, **changed), tmp_path / "other")
    assert again.losses == reference.losses
    assert other.losses != reference.losses
    if "learning_rate" in changed:
        assert other.of_kind("train_report")[0].learning_rate == pytest.approx(1e-5)


def test_mask_prompt_trains_on_the_response_tokens_only(tiny_model, chats, tmp_path):
    whole = train_in_process(sft_spec(tiny_model, chats), tmp_path / "whole")
    masked = train_in_process(
        sft_spec(tiny_model, chats, sft=methods_pb2.SftConfig(mask_prompt=True)), tmp_path / "masked"
    )
    whole_tokens = whole.of_kind("train_report")[-1].trained_tokens
    masked_tokens = masked.of_kind("train_report")[-1].trained_tokens
    assert 0 < masked_tokens < whole_tokens / 2
    assert masked.losses != whole.losses


def test_batch_size_and_grad_accumulation_set_the_tokens_per_iteration(tiny_model, tmp_path):
    same_length = write_jsonl(tmp_path / "train.jsonl", [CHATS[0]] * 4)

    def tokens(**fields):
        run = train_in_process(sft_spec(tiny_model, same_length, **fields), tmp_path / str(fields))
        last = run.of_kind("train_report")[-1]
        assert (last.iteration, last.total_iterations) == (4, 4)
        return last.trained_tokens

    one = tokens(batch_size=1)
    assert tokens(batch_size=2) == 2 * one
    assert tokens(batch_size=1, sft=methods_pb2.SftConfig(grad_accumulation_steps=3)) == 3 * one


def test_max_seq_length_truncates_long_records_with_a_warning(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", [{"text": "the cat sat on the mat. " * 120}])
    run = train_in_process(sft_spec(tiny_model, data, batch_size=1, iterations=1, report_every=1), tmp_path / "out")
    assert run.of_kind("train_report")[0].trained_tokens == 511  # 512 tokens predict 511 next tokens
    warnings = [log for log in run.of_kind("log") if log.level == progress_pb2.LOG_LEVEL_WARNING]
    assert len(warnings) == 1 and "max_seq_length=512" in warnings[0].message


def test_eval_batches_sets_how_much_validation_data_is_read(tiny_model, chats, tmp_path):
    def first_val_loss(eval_batches):
        spec = sft_spec(tiny_model, chats, val_data_path=str(chats), iterations=1, eval_batches=eval_batches)
        return train_in_process(spec, tmp_path / str(eval_batches)).of_kind("eval_report")[0].val_loss

    assert first_val_loss(1) != first_val_loss(3)


def test_early_stop_ends_training_when_validation_stops_improving(tiny_model, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "the cat sat on the mat. the cat sat on the mat."}] * 4)
    valid = write_jsonl(tmp_path / "valid.jsonl", [{"text": "7 * 8 = 56; 9 - 3 = 6; 12 + 7 = 19"}] * 4)
    spec = sft_spec(
        tiny_model,
        train,
        val_data_path=str(valid),
        iterations=40,
        eval_every=2,
        eval_batches=1,
        early_stop=True,
        patience=2,
    )
    run = train_in_process(spec, tmp_path / "out")

    assert run.result.stopped_early and "early stop" in run.result.message
    final = run.of_kind("checkpoint_saved")[-1]
    assert final.final and final.iteration < 40
    val_losses = [r.val_loss for r in run.of_kind("eval_report")]
    assert min(val_losses[-2:]) >= min(val_losses[:-2])


def test_should_stop_ends_training_after_the_current_iteration(tiny_model, chats, tmp_path):
    checks = itertools.count()  # should_stop is asked once before each iteration
    spec = sft_spec(tiny_model, chats, iterations=1000, report_every=1)
    run = train_in_process(spec, tmp_path / "out", should_stop=lambda: next(checks) >= 3)

    assert run.result.stopped_early and run.result.message == "cancelled after iteration 3"
    assert [r.iteration for r in run.of_kind("train_report")] == [1, 2, 3]
    final = run.of_kind("checkpoint_saved")[-1]
    assert (final.iteration, final.final) == (3, True)
    assert adapter_tensors(tmp_path / "out")


@pytest.mark.parametrize(
    "record",
    [
        {"instruction": "What is 1 + 2?", "response": "3"},
        {"prompt": "What is 1 + 2?", "completion": "3"},
        {"text": "1 + 2 = 3"},
    ],
    ids=["instruction_response", "prompt_completion", "text"],
)
def test_every_record_format_trains(tiny_model, tmp_path, record):
    data = write_jsonl(tmp_path / "train.jsonl", [record] * 2)
    run = train_in_process(sft_spec(tiny_model, data, iterations=2), tmp_path / "out")
    assert run.of_kind("train_report")[-1].trained_tokens > 0


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"question": "?"}] * 2, "no longer holds sft data"),
        ([{"text": "a"}, {"prompt": "b"}], r"train.jsonl:2: no longer text data"),
    ],
    ids=["unknown", "mixed"],
)
def test_data_changed_after_acceptance_fails_naming_the_line(tiny_model, tmp_path, records, message):
    # Preflight refuses such data (tests/e2e/test_accepted_means_it_trains.py); this is data replaced later.
    data = write_jsonl(tmp_path / "train.jsonl", records)
    with pytest.raises(ValueError, match=message):
        train_in_process(sft_spec(tiny_model, data), tmp_path / "out")
