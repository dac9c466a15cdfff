"""The estimate against real MLX training: peak memory of a tiny SFT configuration."""

from estimation_helpers import DEVICE

from bench.estimation import MEMORY_GOAL, Config, measure_in_subprocess, predict


def test_predicted_peak_memory_matches_a_real_sft_run(tiny_model):
    config = Config("sft tiny", batch_size=4, tokens=100, rank=8)
    predicted = predict(config, tiny_model, DEVICE).peak_memory_bytes
    measured = measure_in_subprocess(config, tiny_model)["peak_memory_bytes"]
    assert abs(predicted - measured) / measured <= MEMORY_GOAL, (predicted, measured)
