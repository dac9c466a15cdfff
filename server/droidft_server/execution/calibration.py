"""Throughput of the device MLX trains on, measured once and cached.

A few-second micro-benchmark (matmul FLOP/s in float32, bfloat16 and 4-bit quantised,
streaming memory bandwidth, and the fixed cost of one small kernel) runs in a
subprocess, so the server process never imports MLX. The result is cached as JSON in
the server's state directory, keyed by platform and MLX version; only the memory
available right now is read afresh on every call.

Run `python -m droidft_server.execution.calibration` to print a measurement.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

from ..domain.estimation.device import DeviceProfile
from . import blas

CACHE_DIR = "calibration"
MEASUREMENT_FORMAT = 4  # bumped whenever measure() reports new figures: older caches are measured again
TIMEOUT_SECONDS = 120
# The Python runtime and MLX's libraries live outside MLX's allocator; keep them out of the budget on the CPU.
CPU_RUNTIME_RESERVE_BYTES = 512 * 1024**2


def _mlx_version() -> str:
    try:
        return metadata.version("mlx")
    except metadata.PackageNotFoundError:
        return "unknown"


def cache_key(blas_threads: int = 1) -> str:
    """Platform, MLX version and BLAS: a new MLX build, BLAS, thread share or machine type measures again."""
    raw = (f"v{MEASUREMENT_FORMAT}-{platform.system()}-{platform.machine()}-mlx{_mlx_version()}-{os.cpu_count()}cpu"
           f"-blas-{blas.locate().name}-{blas_threads}t")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)


def _available_ram_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def device_clock(kind: str, blas_threads: int = 1) -> Callable[[], float]:
    """The clock that times MLX work: on the CPU with a single-threaded BLAS the process's CPU time, which
    other processes sharing the machine do not inflate (an idle machine runs the work in at most that
    long); wall time on a GPU, and on the CPU once the BLAS runs several threads (each adds CPU time)."""
    return time.process_time if kind == "cpu" and blas_threads == 1 else time.perf_counter


def _seconds_per_call(run: Callable[[], None], budget: float, clock: Callable[[], float]) -> float:
    """Median time of a call, repeated for about `budget` seconds of wall time after one warm-up call."""
    run()
    times = []
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline or len(times) < 3:
        tic = clock()
        run()
        times.append(clock() - tic)
    times.sort()
    return times[len(times) // 2]


def measure(blas_threads: int = 1) -> dict:
    """The micro-benchmark itself (imports MLX; runs in the calibration subprocess, with the BLAS and
    thread share of a worker)."""
    linear_algebra = blas.load(blas_threads)
    import mlx.core as mx

    kind = "gpu" if mx.default_device().type == mx.gpu else "cpu"
    clock = device_clock(kind, blas_threads)

    def matmul_flops(dtype, n: int) -> float:
        a = mx.random.normal((n, n)).astype(dtype)
        b = mx.random.normal((n, n)).astype(dtype)
        mx.eval(a, b)
        return 2 * n**3 / _seconds_per_call(lambda: mx.eval(a @ b), 1.0, clock)

    def quantized_matmul_flops(n: int, transpose: bool) -> float:
        """x @ W.T is the forward product of a quantised layer, g @ W its input gradient."""
        x = mx.random.normal((n, n)).astype(mx.bfloat16)
        weight, scales, biases = mx.quantize(mx.random.normal((n, n)).astype(mx.bfloat16), group_size=64, bits=4)
        mx.eval(x, weight, scales, biases)

        def product() -> None:
            mx.eval(mx.quantized_matmul(x, weight, scales, biases, transpose=transpose, group_size=64, bits=4))

        return 2 * n**3 / _seconds_per_call(product, 0.4, clock)

    elements = 16 * 1024**2
    x = mx.random.normal((elements,))
    mx.eval(x)
    # One read and one write of float32 per element.
    bandwidth = 2 * 4 * elements / _seconds_per_call(lambda: mx.eval(x * 1.5 + 1.0), 1.0, clock)

    chain = 200
    small = mx.ones((64, 64))
    mx.eval(small)

    def small_ops() -> None:
        y = small
        for _ in range(chain):
            y = y * 1.0001 + 0.5
        mx.eval(y)

    seconds_per_op = _seconds_per_call(small_ops, 0.5, clock) / (2 * chain)
    info = mx.device_info()
    memory = info.get("max_recommended_working_set_size") or info.get("memory_size") or info.get("total_memory") or 0
    return {
        "name": f"{kind} ({info.get('device_name', 'unknown')})",
        "kind": kind,
        "device_memory_bytes": int(memory),
        "matmul_flops_per_second": matmul_flops(mx.float32, 512),
        "half_matmul_flops_per_second": matmul_flops(mx.bfloat16, 256),
        "quantized_matmul_flops_per_second": quantized_matmul_flops(256, transpose=True),
        "quantized_backward_flops_per_second": quantized_matmul_flops(256, transpose=False),
        "memory_bytes_per_second": bandwidth,
        "seconds_per_op": seconds_per_op,
        "mlx_version": mx.__version__,
        "blas": linear_algebra,
    }


def _measure_in_subprocess(blas_threads: int = 1) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "droidft_server.execution.calibration", str(blas_threads)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def profile_from(measured: dict) -> DeviceProfile:
    """A DeviceProfile from a measurement; on the CPU the memory is what the machine has free now."""
    if measured["kind"] == "cpu":
        available = max(0, _available_ram_bytes() - CPU_RUNTIME_RESERVE_BYTES)
    else:
        available = measured["device_memory_bytes"]
    return DeviceProfile(
        name=measured["name"],
        available_memory_bytes=int(available),
        matmul_flops_per_second=measured["matmul_flops_per_second"],
        half_matmul_flops_per_second=measured["half_matmul_flops_per_second"],
        quantized_matmul_flops_per_second=measured["quantized_matmul_flops_per_second"],
        quantized_backward_flops_per_second=measured["quantized_backward_flops_per_second"],
        memory_bytes_per_second=measured["memory_bytes_per_second"],
        seconds_per_op=measured["seconds_per_op"],
        mlx_version=measured["mlx_version"],
    )


def load_measurement(
    state_dir: Path, run: Callable[[int], dict] = _measure_in_subprocess, blas_threads: int = 1
) -> dict:
    """The cached measurement for this platform, measuring (and caching) it on first use."""
    path = Path(state_dir) / CACHE_DIR / f"{cache_key(blas_threads)}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            pass  # a torn write: measure again
    measured = run(blas_threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return measured


def load_or_calibrate(
    state_dir: Path, *, run: Callable[[int], dict] = _measure_in_subprocess, blas_threads: int = 1
) -> DeviceProfile:
    """The device profile, from the cache in state_dir or from a fresh few-second measurement with
    the BLAS thread share of a worker."""
    return profile_from(load_measurement(state_dir, run, blas_threads))


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))
