"""The sampler's bounded cache of loaded models, and the server's view of what it holds."""

from droidft_server.domain.sampling import ModelKey
from droidft_server.supervisor.sampler import SamplerProcess
from droidft_server.worker.sampler import ModelCache


def test_the_least_recently_used_model_is_let_go_past_the_capacity(tiny_model, tmp_path):
    base, same = ModelKey(str(tiny_model)), ModelKey(str(tiny_model))
    other = ModelKey(str(tiny_model), adapter_version="another")  # another key of the same files
    loaded = []
    cache = ModelCache(2, lambda key, cached: loaded.append((key, cached)))
    assert cache.get(base)[2] is False
    assert cache.get(same)[2] is True  # an equal key: cached
    cache.get(other)
    assert cache.get(base)[2] is True  # base was used last before `other` came: both fit
    third = ModelKey(str(tiny_model), adapter_version="third")
    cache.get(third)  # `other` is now the least recently used: let go
    assert cache.get(other)[2] is False
    assert [key for key, _ in loaded] == [base, other, third, other]
    assert loaded[-1][1] == (third, other)


def test_the_server_counts_the_models_the_worker_keeps_beside_new_ones(tmp_path):
    sampler = SamplerProcess(tmp_path, blas_threads=1, cached_models=3)
    a, b, c, d, e = (ModelKey(name) for name in "abcde")
    sampler._cached = (a, b, c)  # as the worker last told, most recently used last
    assert sampler.kept_beside([e]) == [b, c]
    assert sampler.kept_beside([a]) == [b, c]
    assert sampler.kept_beside([d, e]) == [c]
    assert sampler.kept_beside([a, b, c]) == []
