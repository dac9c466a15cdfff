"""What a trainer receives inside the worker process, and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from droidft.v1 import job_pb2, progress_pb2

from ..domain.datasets.training_data import DataPlan
from ..domain.spec import JobSettings

if TYPE_CHECKING:  # the server imports this module (through entry.py), and must not load MLX
    from .training_state import TrainingState


@dataclass
class TrainingContext:
    job_id: str
    spec: job_pb2.TrainingJobSpec
    settings: JobSettings
    data: DataPlan  # the files and format create checked: the trainer reads these
    output_dir: Path  # laid out as domain/checkpoints.py says
    emit: Callable[[progress_pb2.TrainingProgress], None]  # sends one event (oneof set) to the server
    # Once a stop is asked for, what it is ("cancelled", "paused"; any truthy value reads "cancelled"):
    # stop after this iteration, with a full-state checkpoint of it.
    should_stop: Callable[[], str | bool]
    resume: TrainingState | None = None  # the checkpoint this run goes on from
    start_weights: Path | None = None  # an adapter file to start from (spec.from_checkpoint), else a fresh one
    rank: int = 0  # of a distributed job (worker/distributed.py); only rank 0 writes files

    @property
    def writes(self) -> bool:
        """Whether this process writes the job's checkpoints and adapter: rank 0, or the only process."""
        return self.rank == 0


@dataclass(frozen=True)
class TrainingResult:
    adapter_path: str
    stopped_early: bool  # cancelled (should_stop) or early-stopped on validation loss
    message: str = ""
