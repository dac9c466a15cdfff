"""The ranks of a distributed job: joining MLX's ring, and what every rank must agree on.

Each rank is a worker process the supervisor started with its rank and the ring's host file (as
mlx.launch would hand them over: MLX_RANK, MLX_HOSTFILE). Every rank runs the same trainer with the same
seed, so they draw the same data order; mlx-lm's trainer and the GRPO loop average the gradients over
the ring. What a rank decides alone (a stop the server asked for) is broadcast from rank 0, so that all
ranks stop after the same iteration.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import mlx.core as mx
import numpy as np


def join_ring(rank: int, hostfile: str) -> mx.distributed.Group:
    """Connect this process to the other ranks; returns when every rank is connected."""
    os.environ["MLX_RANK"] = str(rank)
    os.environ["MLX_HOSTFILE"] = hostfile
    return mx.distributed.init(strict=True, backend="ring")


def world() -> mx.distributed.Group:
    """The ranks training this job (a group of one outside a distributed job)."""
    return mx.distributed.init()


def from_rank_zero(value: int) -> int:
    """Rank 0's `value`, on every rank."""
    group = world()
    if group.size() == 1:
        return value
    mine = value if group.rank() == 0 else 0
    return int(mx.distributed.all_sum(mx.array(mine, dtype=mx.int32), stream=mx.cpu).item())


def agreed(decide: Callable[[], int]) -> Callable[[], int]:
    """`decide` as rank 0 decides it, on every rank."""
    return lambda: from_rank_zero(decide())


def all_mean(value: float) -> float:
    """The mean of each rank's `value`."""
    group = world()
    if group.size() == 1:
        return value
    total = mx.distributed.all_sum(mx.array(value, dtype=mx.float32), stream=mx.cpu).item()
    return float(total) / group.size()


def gathered(values: list[float], width: int | None = None) -> list[float]:
    """Every rank's `values`, rank 0's first; each rank has at most `width` of them (default: len(values),
    then the same count on every rank)."""
    group = world()
    if group.size() == 1:
        return list(values)
    width = len(values) if width is None else width
    padded = np.full(width, np.nan, dtype=np.float32)
    padded[: len(values)] = values
    every = np.array(mx.distributed.all_gather(mx.array(padded), stream=mx.cpu))
    return [float(v) for v in every if not np.isnan(v)]


def rank_share(items: list) -> list:
    """This rank's contiguous share of `items`, whose length divides by the number of ranks."""
    group = world()
    share = len(items) // group.size()
    return items[group.rank() * share : (group.rank() + 1) * share]


def rank_part(items: list) -> tuple[list, int]:
    """This rank's part of `items` of any length (every ranks-th item), and the most any rank gets."""
    group = world()
    return items[group.rank() :: group.size()], -(-len(items) // group.size())


@contextlib.contextmanager
def own_random_stream() -> Iterator[None]:
    """Within: this rank's own MLX random stream, seeded from the stream the ranks share; after: the shared stream
    again, advanced alike on every rank. So the ranks sample different completions, yet between iterations
    every rank's generator is in the same state, the one rank 0's checkpoint holds (a resumed job samples as the
    uninterrupted one). Alone: the process's one stream, untouched."""
    group = world()
    if group.size() == 1:
        yield
        return
    seeds = mx.random.randint(0, 2**31 - 1, (group.size() + 1,)).tolist()
    mx.random.seed(seeds[group.rank()])
    try:
        yield
    finally:
        mx.random.seed(seeds[-1])
