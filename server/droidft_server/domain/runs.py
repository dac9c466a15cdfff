"""The ports between the job manager and whatever runs training (worker processes, or a fake in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Protocol

from droidft.v1 import job_pb2, progress_pb2


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended. state is SUCCEEDED, CANCELLED or FAILED."""

    state: int  # job_pb2.JobState
    adapter_path: str = ""
    error_reason: int = 0  # for FAILED, an errors.Reason (TRAINING_ERROR, WORKER_CRASHED, ...)
    message: str = ""


class StopKind(IntEnum):
    """What a run is asked to do after its current iteration (it writes a full-state checkpoint of it)."""

    NONE = 0
    CANCEL = 1  # end CANCELLED
    PAUSE = 2  # end PAUSED (a user's pause) or go back to the queue (a server stop); resumable either way


# How a run that stopped on request ends (the job manager turns a server stop's PAUSED into QUEUED).
STOPPED_STATE = {StopKind.CANCEL: job_pb2.JOB_STATE_CANCELLED, StopKind.PAUSE: job_pb2.JOB_STATE_PAUSED}


@dataclass(frozen=True)
class RunStart:
    """Where a run starts from: a full-state checkpoint directory to go on from, or an adapter file whose
    weights a new run starts with (spec.from_checkpoint); neither: from the beginning."""

    resume_from: Path | None = None
    start_weights: Path | None = None


FROM_THE_BEGINNING = RunStart()


class RunListener(Protocol):
    """Receives what a run reports. Calls for one job come from one thread, in order."""

    def on_started(self, job_id: str, device: str) -> None: ...

    def on_event(self, job_id: str, event: progress_pb2.TrainingProgress) -> None:
        """A train_report, eval_report, checkpoint_saved or log event (sequence and job_id not yet set)."""

    def on_finished(self, job_id: str, outcome: RunOutcome) -> None:
        """Called exactly once per started run, after its last on_event."""


class Runner(Protocol):
    """Starts and stops training runs; never blocks on training."""

    def start(
        self,
        job_id: str,
        spec: job_pb2.TrainingJobSpec,
        output_dir: Path,
        listener: RunListener,
        start: RunStart = FROM_THE_BEGINNING,
        data: job_pb2.TrainingData | None = None,
    ) -> None:
        """Start a run of the job; `data` is its data as create checked it (None for a job accepted before
        create kept it: the worker then finds the format again)."""

    def stop(self, job_id: str, kind: StopKind) -> None:
        """Ask a started run to stop after its current iteration (a cancel or a pause), with a checkpoint of it."""

    def shutdown(self) -> None:
        """Stop every run (as on pause: each writes a full-state checkpoint) and wait for the workers to exit."""
