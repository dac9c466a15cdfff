"""Builders of progress events, for the job manager and the trainers alike, and their time stamp."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf import timestamp_pb2

from droidft.v1 import progress_pb2


def now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def stamped(event: progress_pb2.TrainingProgress) -> progress_pb2.TrainingProgress:
    """The event with its time set to now, unless whoever made it already said when it happened."""
    if not event.HasField("time"):
        event.time.CopyFrom(now())
    return event


@dataclass(frozen=True)
class TrainFigures:
    iteration: int
    total_iterations: int
    loss: float
    learning_rate: float
    iterations_per_second: float
    tokens_per_second: float
    trained_tokens: int
    peak_memory_bytes: int
    metrics: dict[str, float] = field(default_factory=dict)


def train_report(figures: TrainFigures) -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(
        train_report=progress_pb2.TrainReport(
            iteration=figures.iteration,
            total_iterations=figures.total_iterations,
            loss=figures.loss,
            learning_rate=figures.learning_rate,
            iterations_per_second=figures.iterations_per_second,
            tokens_per_second=figures.tokens_per_second,
            trained_tokens=figures.trained_tokens,
            peak_memory_bytes=figures.peak_memory_bytes,
            metrics=figures.metrics,
        )
    )


def eval_report(iteration: int, val_loss: float, seconds: float) -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(
        eval_report=progress_pb2.EvalReport(iteration=iteration, val_loss=val_loss, seconds=seconds)
    )


def checkpoint_saved(iteration: int, path: str, final: bool, resumable: bool = False) -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(
        checkpoint_saved=progress_pb2.CheckpointSaved(iteration=iteration, path=path, final=final, resumable=resumable)
    )


def log(level: int, message: str) -> progress_pb2.TrainingProgress:
    """level is a progress_pb2.LogLevel value."""
    return progress_pb2.TrainingProgress(log=progress_pb2.LogLine(level=level, message=message))
