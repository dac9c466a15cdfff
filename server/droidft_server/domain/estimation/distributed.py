"""A distributed job's estimate: the ranks on this machine share its cores and memory.

Each rank holds the whole model and batch_size / ranks rows, computes at its share of the measured
throughput of its machine (1 / the ranks on this one; a rank on another machine is assumed to have one like
this to itself), and spends time in the ring's collectives: the gradients' all-reduce (each rank sends and
receives 2 (ranks - 1) / ranks of the gradients' bytes) and a few small collectives per step (the global
token count, the loss, the stop broadcast). The peak memory is that of the ranks on this machine.
"""

from __future__ import annotations

import dataclasses

from ..spec import ONE_PROCESS, JobSettings
from .device import DeviceProfile
from .memory import MemoryBreakdown

# Measured with two ranks on 127.0.0.1 on the 2-core development machine, under load (all_sum of float32
# arrays over MLX's ring): 2.3 ms for a 4-byte collective, 67 ms for 16 MiB.
RING_BYTES_PER_SECOND = 0.25e9
RING_SECONDS_PER_COLLECTIVE = 2.3e-3
COLLECTIVES_PER_UPDATE = 6


def rank_settings(settings: JobSettings) -> JobSettings:
    """What one rank trains: its share of every batch, as one process."""
    share = max(1, settings.batch_size // settings.distributed.ranks)
    return dataclasses.replace(settings, batch_size=share, distributed=ONE_PROCESS)


def one_process(settings: JobSettings) -> JobSettings:
    return dataclasses.replace(settings, distributed=ONE_PROCESS)


def rank_device(device: DeviceProfile, ranks: int) -> DeviceProfile:
    """The machine as one of `ranks` ranks sees it: its share of the throughput (kernel dispatch stays per process)."""
    return dataclasses.replace(
        device,
        matmul_flops_per_second=device.matmul_flops_per_second / ranks,
        half_matmul_flops_per_second=device.half_matmul_flops_per_second / ranks,
        quantized_matmul_flops_per_second=device.quantized_matmul_flops_per_second / ranks,
        quantized_backward_flops_per_second=device.quantized_backward_flops_per_second / ranks,
        memory_bytes_per_second=device.memory_bytes_per_second / ranks,
    )


def every_rank(breakdown: MemoryBreakdown, ranks: int) -> MemoryBreakdown:
    """The memory of `ranks` ranks of this breakdown each."""
    return MemoryBreakdown(**{f.name: getattr(breakdown, f.name) * ranks for f in dataclasses.fields(breakdown)})


def ring_seconds(settings: JobSettings, gradient_bytes: int) -> float:
    """Seconds per iteration in the ring's collectives."""
    ranks = settings.distributed.ranks
    updates = settings.policy.rollout.num_iterations if settings.policy is not None else 1
    all_reduce = 2 * (ranks - 1) / ranks * gradient_bytes / RING_BYTES_PER_SECOND
    return updates * (all_reduce + COLLECTIVES_PER_UPDATE * RING_SECONDS_PER_COLLECTIVE)
