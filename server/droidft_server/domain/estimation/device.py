"""What the estimator knows about the device a job runs on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceProfile:
    """Memory MLX may use and the throughput measured on the device (see execution/calibration.py)."""

    name: str  # e.g. "cpu (AMD EPYC)", "gpu (Apple M2 Max)"
    available_memory_bytes: int
    matmul_flops_per_second: float  # dense matmul in the model's float dtype
    memory_bytes_per_second: float  # streaming read + write of large arrays
    seconds_per_op: float  # fixed cost of one small evaluated kernel (dominates tiny models)
    mlx_version: str = ""
