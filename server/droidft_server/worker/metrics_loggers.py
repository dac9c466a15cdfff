"""Reports to Weights & Biases or TensorBoard, from the worker, besides the job's progress stream.

Each train report's figures go under train/, each validation report's under eval/, at the report's iteration.
The package is imported only when a job asks for it (preflight refused the job if it is not installed):
neither is a dependency of droidft.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from google.protobuf import json_format

from droidft.v1 import job_pb2, progress_pb2

from ..domain.spec import MetricsLoggingSettings

TENSORBOARD_DIR = "tensorboard"  # inside the job's output directory
TRAIN_FIGURES = ("loss", "learning_rate", "iterations_per_second", "tokens_per_second", "trained_tokens")


def scalars(event: progress_pb2.TrainingProgress) -> tuple[int, dict[str, float]] | None:
    """(iteration, {name: value}) of a train or eval report; None for other events."""
    if event.HasField("train_report"):
        report = event.train_report
        figures = {f"train/{name}": float(getattr(report, name)) for name in TRAIN_FIGURES}
        figures.update({f"train/{name}": value for name, value in report.metrics.items()})
        return report.iteration, figures
    if event.HasField("eval_report"):
        report = event.eval_report
        figures = {"eval/val_loss": report.val_loss}
        figures.update({f"eval/{name}": value for name, value in report.metrics.items()})
        return report.iteration, figures
    return None


@contextmanager
def _tensorboard(output_dir: Path) -> Iterator[Callable[[int, dict[str, float]], None]]:
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(logdir=str(output_dir / TENSORBOARD_DIR))
    try:
        yield lambda step, figures: [writer.add_scalar(name, value, step) for name, value in figures.items()]
    finally:
        writer.close()


@contextmanager
def _wandb(settings: MetricsLoggingSettings, job_id: str, spec: job_pb2.TrainingJobSpec, output_dir: Path):
    import wandb

    # One W&B run per job: a resumed job (same id) goes on in the same run.
    run = wandb.init(
        project=settings.project,
        id=job_id,
        name=spec.display_name or job_id,
        resume="allow",
        dir=str(output_dir),
        config=json_format.MessageToDict(spec, preserving_proto_field_name=True),
    )
    try:
        yield lambda step, figures: run.log(figures, step=step)
    finally:
        run.finish()


@contextmanager
def logging_to(
    settings: MetricsLoggingSettings | None,
    job_id: str,
    spec: job_pb2.TrainingJobSpec,
    output_dir: Path,
    emit: Callable[[progress_pb2.TrainingProgress], None],
) -> Iterator[Callable[[progress_pb2.TrainingProgress], None]]:
    """`emit`, also sending each report to the job's metrics logger while the context is open."""
    if settings is None:
        yield emit
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    opened = _tensorboard(output_dir) if settings.kind == "tensorboard" else _wandb(settings, job_id, spec, output_dir)
    with opened as log:

        def emit_and_log(event: progress_pb2.TrainingProgress) -> None:
            emit(event)
            found = scalars(event)
            if found is not None:
                log(*found)

        yield emit_and_log
