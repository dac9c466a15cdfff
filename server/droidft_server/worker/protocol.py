"""Messages between the supervisor and a worker process, over the worker's pipe."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerJob:
    """What a worker process is started with."""

    job_id: str
    spec: bytes  # a serialized TrainingJobSpec
    output_dir: str
    reward_plugins: tuple[str, ...] = ()  # operator modules registering rewards, loaded before training
    blas_threads: int = 1  # the worker's share of the cores, for the BLAS under MLX's CPU matmuls
    resume_from: str = ""  # a full-state checkpoint directory to go on from
    start_weights: str = ""  # an adapter file to start from (spec.from_checkpoint)
    data: bytes = b""  # a serialized TrainingData, the job's data as create checked it; empty: none was kept
    rank: int = 0  # of a distributed job: this process's rank (rank 0 reports and writes)
    ring_hostfile: str = ""  # of a distributed job: MLX's ring host file, every rank's address; empty: one process


@dataclass(frozen=True)
class Started:
    device: str


@dataclass(frozen=True)
class Connected:
    """A rank of a distributed job joined the ring: every rank is connected."""


@dataclass(frozen=True)
class Event:
    progress: bytes  # a serialized TrainingProgress


@dataclass(frozen=True)
class Finished:
    adapter_path: str
    stopped_early: bool
    message: str


@dataclass(frozen=True)
class Failed:
    message: str
