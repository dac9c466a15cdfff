"""The sampler's predicted memory against MLX's measured peak for the tiny model."""

import pytest

from droidft_server.domain.estimation import read_model_facts
from droidft_server.domain.estimation.sampling import sampler_memory_bytes


@pytest.mark.parametrize(("prompt_repeats", "max_tokens"), [(10, 64), (30, 512)])
def test_the_prediction_covers_the_measured_peak_without_doubling_it(tiny_model, prompt_repeats, max_tokens):
    import mlx.core as mx
    import mlx_lm
    from mlx_lm.generate import generate_step

    model, tokenizer = mlx_lm.load(str(tiny_model))
    prompt = tokenizer.encode("What is the answer to this " * prompt_repeats)
    mx.synchronize()
    mx.reset_peak_memory()
    for _ in generate_step(mx.array(prompt), model, max_tokens=max_tokens):
        pass
    measured = mx.get_peak_memory()
    predicted = sampler_memory_bytes(read_model_facts(tiny_model), len(prompt) + max_tokens, len(prompt))
    assert measured <= predicted <= 2 * measured, (measured, predicted)
