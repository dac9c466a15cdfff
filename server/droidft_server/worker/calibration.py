"""The device micro-benchmark the estimator is calibrated with; runs in a process of its own.

Matmul FLOP/s in float32, bfloat16 and 4-bit quantised, streaming memory bandwidth, and the fixed
cost of one small kernel, measured with the BLAS and thread share of a training worker. The
supervisor (supervisor/calibration.py) runs `python -m droidft_server.worker.calibration THREADS`
and reads the JSON line it prints.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from . import blas
from .process import die_with_the_server


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
    """The micro-benchmark itself (imports MLX; runs in the calibration process, with the BLAS and
    thread share of a worker)."""
    linear_algebra = blas.load(blas_threads)
    import mlx.core as mx

    kind = "gpu" if mx.default_device().type == mx.gpu else "cpu"
    clock = device_clock(kind, blas_threads)
    # A GPU finishes the CPU's problem sizes within its launch overhead: it gets products and arrays large
    # enough to reach its throughput (as a 0.5B-1B model's training step does).
    matmul_size, half_size, quantized_size = (4096, 4096, 4096) if kind == "gpu" else (512, 256, 256)

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

    elements = (256 if kind == "gpu" else 16) * 1024**2
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
        "matmul_flops_per_second": matmul_flops(mx.float32, matmul_size),
        "half_matmul_flops_per_second": matmul_flops(mx.bfloat16, half_size),
        "quantized_matmul_flops_per_second": quantized_matmul_flops(quantized_size, transpose=True),
        "quantized_backward_flops_per_second": quantized_matmul_flops(quantized_size, transpose=False),
        "memory_bytes_per_second": bandwidth,
        "seconds_per_op": seconds_per_op,
        "mlx_version": mx.__version__,
        "blas": linear_algebra,
    }


if __name__ == "__main__":
    die_with_the_server()  # a server stopped during its calibration takes the measurement along
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))
