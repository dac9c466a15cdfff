import pytest

from droidft_server.supervisor.calibration import CACHE_DIR, cache_key, load_or_calibrate


def _must_not_run() -> dict:
    raise AssertionError("the cached calibration should have been used")


def test_calibration_measures_once_then_reuses_the_cache(tmp_path):
    first = load_or_calibrate(tmp_path)  # the real few-second micro-benchmark, in a subprocess
    assert first.matmul_flops_per_second > 0 and first.memory_bytes_per_second > 0 and first.seconds_per_op > 0
    assert first.available_memory_bytes > 0 and first.name.startswith(("cpu", "gpu"))
    cached = tmp_path / CACHE_DIR / f"{cache_key()}.json"
    assert cached.is_file()
    written = cached.stat().st_mtime_ns
    second = load_or_calibrate(tmp_path, run=_must_not_run)
    assert second.matmul_flops_per_second == first.matmul_flops_per_second
    assert second.seconds_per_op == first.seconds_per_op
    assert cached.stat().st_mtime_ns == written


def test_a_torn_cache_file_is_measured_again(tmp_path):
    calls = []

    def fake_measurement(blas_threads: int) -> dict:
        calls.append(1)
        return {
            "name": "cpu (test)",
            "kind": "cpu",
            "device_memory_bytes": 0,
            "matmul_flops_per_second": 1e9,
            "half_matmul_flops_per_second": 2e9,
            "quantized_matmul_flops_per_second": 1e8,
            "quantized_backward_flops_per_second": 1e8,
            "memory_bytes_per_second": 1e9,
            "seconds_per_op": 1e-6,
            "mlx_version": "test",
        }

    path = tmp_path / CACHE_DIR / f"{cache_key()}.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    profile = load_or_calibrate(tmp_path, run=fake_measurement)
    assert (
        calls == [1] and profile.matmul_rate(2) == pytest.approx(2e9) and profile.matmul_rate(4) == pytest.approx(1e9)
    )
    load_or_calibrate(tmp_path, run=fake_measurement)
    assert calls == [1]
