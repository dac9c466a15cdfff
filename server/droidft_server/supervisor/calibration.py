"""Throughput of the device MLX trains on, measured once in a worker process and cached.

The micro-benchmark (worker/calibration.py) runs in a subprocess, so the server process never
imports MLX. The result is cached as JSON in the server's state directory, keyed by platform, MLX
version, BLAS and thread share; only the memory available right now is read afresh on every call.

Run `python -m droidft_server.worker.calibration` to print a measurement.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from ..domain.estimation.device import DeviceProfile, backend_of
from ..worker import blas

CACHE_DIR = "calibration"
MEASUREMENT_FORMAT = 5  # bumped whenever the measurement reports new figures: older caches are measured again
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
    raw = (
        f"v{MEASUREMENT_FORMAT}-{platform.system()}-{platform.machine()}-mlx{_mlx_version()}-{os.cpu_count()}cpu"
        f"-blas-{blas.locate().name}-{blas_threads}t"
    )
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)


def _available_ram_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _measure_in_subprocess(blas_threads: int = 1) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "droidft_server.worker.calibration", str(blas_threads)],
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
        backend=backend_of(measured["kind"], measured["name"]),
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
