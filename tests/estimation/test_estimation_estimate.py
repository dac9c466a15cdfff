import dataclasses
from dataclasses import fields

import pytest
from estimation_helpers import DEVICE, settings, write_llama

from droidft_server.domain.estimation import TokenLengths, check_fit, estimate, read_model_facts
from droidft_server.domain.estimation.workload import sft_width
from droidft_server.transport.resources import estimate_to_proto

FULL = 2**62  # memory nothing exceeds


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return read_model_facts(write_llama(tmp_path_factory.mktemp("llama")))


def peak(model, method="sft", lengths=None, **fields_):
    return estimate(settings(method, **fields_), model, token_lengths=lengths, device=DEVICE).peak_memory_bytes


@pytest.mark.parametrize(
    "method, extra",
    [
        ("sft", {}),
        ("grpo", {"grpo__beta": 0.1}),
        ("dpo", {}),
        ("orpo", {}),
        ("gspo", {}),
        ("sft", {"sft__grad_checkpoint": True}),
    ],
)
def test_breakdown_adds_up_to_the_peak(model, method, extra):
    result = estimate(settings(method, max_seq_length=256, **extra), model, token_lengths=None, device=DEVICE)
    parts = [getattr(result.breakdown, f.name) for f in fields(result.breakdown)]
    assert all(p >= 0 for p in parts)
    assert sum(parts) == result.peak_memory_bytes
    message = estimate_to_proto(result)
    b = message.breakdown
    assert message.peak_memory_bytes == sum(
        (
            b.weights_bytes,
            b.trainable_parameters_bytes,
            b.optimizer_state_bytes,
            b.gradients_bytes,
            b.activations_bytes,
            b.logits_bytes,
            b.kv_cache_bytes,
            b.reference_model_bytes,
            b.overhead_bytes,
        )
    )


def test_lora_trains_every_projection_of_the_chosen_blocks(model):
    in_plus_out = 2 * 128 + 2 * 96 + 3 * 192  # q, o; k, v; gate, up, down
    lora = estimate(settings("sft", adapter__rank=8), model, token_lengths=None, device=DEVICE)
    assert lora.trainable_parameters == 2 * 8 * in_plus_out
    last = estimate(settings("sft", adapter__rank=8, adapter__num_layers=1), model, token_lengths=None, device=DEVICE)
    assert last.trainable_parameters == 8 * in_plus_out
    dora = estimate(
        settings("sft", adapter__rank=8, adapter__fine_tune_type=2), model, token_lengths=None, device=DEVICE
    )
    assert dora.trainable_parameters == lora.trainable_parameters + 2 * (64 + 32 + 32 + 64 + 128 + 128 + 64)
    full = estimate(settings("sft", adapter__fine_tune_type=3), model, token_lengths=None, device=DEVICE)
    assert full.trainable_parameters == 2 * model.block_parameters
    assert full.breakdown.optimizer_state == 2 * full.breakdown.trainable_parameters  # Adam: two moments


def test_full_fine_tuning_counts_the_trained_weights_once(model):
    full = estimate(settings("sft", adapter__fine_tune_type=3), model, token_lengths=None, device=DEVICE)
    lora = estimate(settings("sft"), model, token_lengths=None, device=DEVICE)
    # The trained blocks are the model's own weights: frozen part plus trainable part is the model.
    assert full.breakdown.weights + full.breakdown.trainable_parameters == model.weights_bytes
    assert lora.breakdown.weights == model.weights_bytes  # an adapter's weights come on top


def test_full_fine_tuning_gradients_do_not_add_to_the_activations(model):
    # Blocks wide enough for their gradients to outweigh a short row's activations (as in a 100M model).
    wide = dataclasses.replace(
        model, block_parameters=model.block_parameters * 100, weights_bytes=model.weights_bytes * 100
    )
    trained = 2 * wide.block_parameters * wide.dtype_bytes

    def breakdown(tokens, **fields_):
        lengths = TokenLengths(mean=tokens, p95=tokens, max=tokens)
        job = settings("sft", adapter__fine_tune_type=3, batch_size=1, **fields_)
        return estimate(job, wide, token_lengths=lengths, device=DEVICE).breakdown

    long_rows, short_rows = breakdown(1024), breakdown(4)
    # Long rows peak at the top of the backward pass, before any gradient exists; short ones once every
    # gradient is made, with the first trained block's activations only.
    assert long_rows.gradients == 0 and long_rows.activations > trained
    assert short_rows.gradients == trained and short_rows.logits == 0
    # Accumulating, the running sum lives through the next micro-batch's whole backward pass.
    assert breakdown(1024, grad_accumulation_steps=2).gradients == trained


@pytest.mark.parametrize(
    "method, small, large",
    [
        ("sft", {"batch_size": 2}, {"batch_size": 4}),
        ("sft", {"max_seq_length": 256}, {"max_seq_length": 512}),
        ("sft", {"adapter__rank": 8}, {"adapter__rank": 64}),
        ("sft", {"adapter__num_layers": 1}, {"adapter__num_layers": 2}),
        ("grpo", {"grpo__rollout__group_size": 2}, {"grpo__rollout__group_size": 8}),
        ("grpo", {"grpo__rollout__max_completion_length": 32}, {"grpo__rollout__max_completion_length": 256}),
        ("dpo", {"batch_size": 1}, {"batch_size": 2}),
    ],
)
def test_more_work_needs_more_memory(model, method, small, large):
    assert peak(model, method, **small) < peak(model, method, **large)


def test_token_lengths_from_counts():
    lengths = TokenLengths.from_counts(list(range(1, 101)))
    assert (lengths.mean, lengths.p95, lengths.max) == (50.5, 95, 100)
    with pytest.raises(ValueError):
        TokenLengths.from_counts([])


def test_preference_rows_are_chosen_plus_rejected_unpadded(model):
    from droidft_server.domain.estimation.workload import workload

    work = workload(settings("dpo", batch_size=3), TokenLengths(mean=50, p95=90, max=100))
    assert (work.peak_pass.rows, work.peak_pass.width, work.typical_pass.width) == (6, 99, 49)


def test_data_lengths_set_the_rows_width(model):
    short = TokenLengths(mean=40, p95=90, max=100)
    assert peak(model, lengths=short) < peak(model)  # without data: rows of max_seq_length
    assert sft_width(100, 2048) == 128  # mlx-lm pads to one more than a multiple of 32, targets drop one
    assert sft_width(5000, 2048) == 2047
    capped = TokenLengths(mean=5000, p95=6000, max=7000)
    assert peak(model, lengths=capped) == peak(model)


def test_reference_model_only_when_used(model):
    def reference(method, **fields_):
        return estimate(settings(method, **fields_), model, token_lengths=None, device=DEVICE).breakdown.reference_model

    assert reference("grpo") == 0  # beta defaults to 0
    assert reference("grpo", grpo__beta=0.04) == model.weights_bytes
    assert reference("dr_grpo", dr_grpo__beta=0.1) == model.weights_bytes
    assert reference("gspo") == 0
    assert reference("dpo") == model.weights_bytes  # DPO scores every pair against the frozen model
    assert reference("orpo") == 0 and reference("cpo") == 0 and reference("sft") == 0


def test_grpo_generation_keeps_a_key_value_cache(model):
    long_rollout = settings("grpo", batch_size=1, max_seq_length=4096, grpo__rollout__max_completion_length=4000)
    result = estimate(long_rollout, model, token_lengths=TokenLengths(10, 10, 10), device=DEVICE)
    # The gradient step dominates this small model; the sampling phase is still predicted.
    assert result.breakdown.kv_cache == 0 and result.breakdown.activations > 0


def test_time_grows_with_work_and_totals_over_iterations(model):
    small = estimate(settings("sft", batch_size=1, iterations=10), model, token_lengths=None, device=DEVICE)
    large = estimate(settings("sft", batch_size=8, iterations=10), model, token_lengths=None, device=DEVICE)
    assert 0 < small.seconds_per_iteration < large.seconds_per_iteration
    assert large.total_seconds == pytest.approx(10 * large.seconds_per_iteration)
    rollout = estimate(settings("grpo", iterations=10), model, token_lengths=None, device=DEVICE)
    assert rollout.seconds_per_iteration > 0


@pytest.mark.parametrize("method", ["sft", "grpo"])
def test_advice_when_it_does_not_fit(model, method):
    job = settings(method, batch_size=8, max_seq_length=1024)
    needed = estimate(job, model, token_lengths=None, device=DEVICE).peak_memory_bytes
    device = dataclasses.replace(DEVICE, available_memory_bytes=needed // 3)
    result = estimate(job, model, token_lengths=None, device=device)
    assert not result.fits and result.advice
    changes = {a.change.split("=")[0] for a in result.advice}
    assert {"batch_size", "max_seq_length", "adapter.num_layers", "model_path"} <= changes
    assert ("rollout.group_size" in changes) == (method == "grpo")
    assert ("sft.grad_checkpoint" in changes) == (method == "sft")
    for advice in result.advice:
        assert advice.peak_memory_bytes < result.peak_memory_bytes
        assert advice.fits == (advice.peak_memory_bytes <= device.available_memory_bytes)
        assert advice.seconds_per_iteration > 0
    assert any(a.fits for a in result.advice)
    fits, message = check_fit(result)
    assert not fits and "does not fit" in message and "batch_size=" in message


def test_no_advice_when_it_fits(model):
    result = estimate(settings("sft"), model, token_lengths=None, device=DEVICE)
    assert result.fits and result.advice == ()
    assert result.available_memory_bytes == DEVICE.available_memory_bytes and result.device == DEVICE.name
    fits, message = check_fit(result)
    assert fits and message.endswith("fits")
