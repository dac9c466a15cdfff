"""What the estimator knows about the device a job runs on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceProfile:
    """Memory MLX may use and the throughput measured on the device (see supervisor/calibration.py)."""

    name: str  # e.g. "cpu (AMD EPYC)", "gpu (Apple M2 Max)"
    available_memory_bytes: int
    matmul_flops_per_second: float  # dense float32 matmul
    half_matmul_flops_per_second: float  # dense bfloat16 matmul (16-bit models)
    quantized_matmul_flops_per_second: float  # bfloat16 activations x 4-bit quantised weights (forward)
    quantized_backward_flops_per_second: float  # gradients x the same weights untransposed (backward)
    memory_bytes_per_second: float  # streaming read + write of large arrays
    seconds_per_op: float  # fixed cost of one small evaluated kernel (dominates tiny models)
    mlx_version: str = ""
    backend: str = "cpu"  # "cpu", "metal" or "cuda": which fitted constants apply (estimation/backends.py)

    def matmul_rate(self, dtype_bytes: int) -> float:
        """FLOP/s of matmuls in a model whose float dtype has `dtype_bytes` bytes."""
        return self.half_matmul_flops_per_second if dtype_bytes <= 2 else self.matmul_flops_per_second


def backend_of(kind: str, device_name: str) -> str:
    """MLX's backend from a calibration's device kind and name: MLX's GPUs are Apple's (Metal) or NVIDIA's (CUDA)."""
    if kind == "cpu":
        return "cpu"
    return "cuda" if "nvidia" in device_name.lower() else "metal"
