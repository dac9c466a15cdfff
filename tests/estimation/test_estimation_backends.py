"""Each MLX backend gets its own fitted constants, and CUDA's hold on the rows they were fitted to."""

import dataclasses

import pytest
from estimation_helpers import DEVICE, settings, write_llama

from bench.estimation import DEVICE_ROWS, MEMORY_GOAL, device_rows
from droidft_server.domain.estimation import TokenLengths, estimate, read_model_facts
from droidft_server.domain.estimation.backends import CPU, CUDA, fit_for
from droidft_server.domain.estimation.device import backend_of
from droidft_server.supervisor.calibration import profile_from


@pytest.mark.parametrize(
    ("kind", "name", "backend"),
    [("cpu", "cpu (AMD EPYC)", "cpu"), ("gpu", "gpu (NVIDIA H200)", "cuda"), ("gpu", "gpu (Apple M2 Max)", "metal")],
)
def test_a_calibration_names_its_backend(kind, name, backend):
    assert backend_of(kind, name) == backend
    measured = {
        "name": name,
        "kind": kind,
        "device_memory_bytes": 2**34,
        "matmul_flops_per_second": 1e12,
        "half_matmul_flops_per_second": 1e12,
        "quantized_matmul_flops_per_second": 1e11,
        "quantized_backward_flops_per_second": 1e11,
        "memory_bytes_per_second": 1e12,
        "seconds_per_op": 7e-6,
        "mlx_version": "test",
    }
    assert profile_from(measured).backend == backend


def test_metal_has_no_fit_of_its_own_and_uses_the_cpus():
    assert fit_for(DEVICE) is CPU
    assert fit_for(dataclasses.replace(DEVICE, backend="metal")) is CPU
    assert fit_for(dataclasses.replace(DEVICE, backend="cuda")) is CUDA


def test_the_same_job_is_predicted_with_its_devices_constants(tmp_path):
    model = read_model_facts(write_llama(tmp_path))
    job, lengths = settings("sft", batch_size=4), TokenLengths(mean=128, p95=128, max=128)
    on_cpu = estimate(job, model, token_lengths=lengths, device=DEVICE)
    on_cuda = estimate(job, model, token_lengths=lengths, device=dataclasses.replace(DEVICE, backend="cuda"))
    # CUDA's compiled step keeps more activations alive (measured on an H200): the same job needs more memory there.
    assert on_cuda.peak_memory_bytes > on_cpu.peak_memory_bytes
    assert on_cuda.breakdown.weights == on_cpu.breakdown.weights


def test_cudas_constants_hold_on_the_h200_rows():
    rows, devices, _ = device_rows(DEVICE_ROWS)
    assert devices and all(d.backend == "cuda" for d in devices)
    fitted = [r for r in rows if r.config.method == "sft"]
    assert len(fitted) >= 13
    assert all(abs(r.memory_error) <= MEMORY_GOAL for r in fitted), [(r.config.name, r.memory_error) for r in fitted]
    # The GRPO rows were held out of the memory fit; the largest miss is a tiny model's (see bench/README.md).
    assert all(abs(r.memory_error) <= 0.25 for r in rows)
