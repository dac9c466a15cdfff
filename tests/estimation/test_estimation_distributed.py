"""The estimate of a distributed job: per-rank memory, the ranks' sum, and the expected speed-up."""

import dataclasses

import pytest
from estimation_helpers import DEVICE, settings, write_llama

from droidft_server.domain.estimation import estimate, read_model_facts
from droidft_server.transport.resources import estimate_to_proto


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return read_model_facts(write_llama(tmp_path_factory.mktemp("llama")))


@pytest.mark.parametrize("method", ["sft", "grpo"])
def test_each_rank_holds_the_model_and_its_share_of_the_batch(model, method):
    alone = estimate(settings(method, batch_size=2, max_seq_length=256), model, token_lengths=None, device=DEVICE)
    two = estimate(
        settings(method, batch_size=4, max_seq_length=256, distributed__ranks=2),
        model,
        token_lengths=None,
        device=DEVICE,
    )
    # A rank of a 4-row job over 2 ranks is a 2-row process; the machine holds both.
    assert two.ranks == 2
    assert two.per_rank_peak_memory_bytes == alone.peak_memory_bytes
    assert two.peak_memory_bytes == 2 * two.per_rank_peak_memory_bytes
    assert two.breakdown.weights == 2 * alone.breakdown.weights
    assert alone.ranks == 1 and alone.per_rank_peak_memory_bytes == alone.peak_memory_bytes
    assert alone.expected_speedup == 1.0
    # The ranks share this machine's cores and add the ring's collectives: no faster than one process.
    assert 0 < two.expected_speedup < 1.0
    message = estimate_to_proto(two)
    assert (message.ranks, message.per_rank_peak_memory_bytes) == (2, two.per_rank_peak_memory_bytes)
    assert message.expected_speedup == pytest.approx(two.expected_speedup)


def test_ranks_on_other_machines_take_none_of_this_machine_s_memory_and_cores(model):
    both_here = settings("sft", batch_size=4, max_seq_length=256, distributed__ranks=2)
    one_away = dataclasses.replace(both_here, distributed=dataclasses.replace(both_here.distributed, local_ranks=1))
    here = estimate(both_here, model, token_lengths=None, device=DEVICE)
    away = estimate(one_away, model, token_lengths=None, device=DEVICE)
    assert away.peak_memory_bytes == away.per_rank_peak_memory_bytes == here.per_rank_peak_memory_bytes
    assert away.expected_speedup > here.expected_speedup
