"""Pure rendering of jobs and checkpoints."""

from __future__ import annotations

from pathlib import PurePath

from droidft.cli.render import format_age, format_bytes, format_duration, format_number, format_table
from droidft.enums import job_state_name, method_name
from droidft.v1 import job_pb2

JOB_TABLE_HEADERS = ("ID", "STATE", "METHOD", "MODEL", "PROGRESS", "AGE")

# The outcome of `droidft watch` (and `train --watch`) as a process exit code.
EXIT_CODE_OF_STATE = {
    job_pb2.JOB_STATE_SUCCEEDED: 0,
    job_pb2.JOB_STATE_FAILED: 1,
    job_pb2.JOB_STATE_CANCELLED: 2,
    job_pb2.JOB_STATE_PAUSED: 3,
}


def progress_text(metrics: job_pb2.JobMetrics) -> str:
    return f"{metrics.iteration}/{metrics.total_iterations}"


def model_name(job: job_pb2.TrainingJob) -> str:
    """The model directory's own name; full paths would swamp the table."""
    return PurePath(job.spec.model_path).name or job.spec.model_path


def job_row(job: job_pb2.TrainingJob, now: float) -> tuple[str, ...]:
    age = format_age(now - job.create_time.ToNanoseconds() / 1e9) if job.HasField("create_time") else "-"
    return (
        job.job_id,
        job_state_name(job.state),
        method_name(job.method),
        model_name(job),
        progress_text(job.metrics),
        age,
    )


def jobs_table(jobs: list[job_pb2.TrainingJob], now: float) -> str:
    if not jobs:
        return "No jobs."
    return format_table(JOB_TABLE_HEADERS, (job_row(job, now) for job in jobs))


def job_details(job: job_pb2.TrainingJob, now: float) -> str:
    """A job as "key: value" lines, leaving out what is not set."""
    metrics = job.metrics
    fields: list[tuple[str, str]] = [
        ("id", job.job_id),
        ("name", job.spec.display_name),
        ("state", job_state_name(job.state)),
        ("method", method_name(job.method)),
        ("model", job.spec.model_path),
        ("train data", job.spec.train_data_path),
        ("validation data", job.spec.val_data_path),
        ("progress", progress_text(metrics)),
        ("train loss", format_number(metrics.train_loss) if metrics.HasField("train_loss") else ""),
        ("validation loss", format_number(metrics.val_loss) if metrics.HasField("val_loss") else ""),
        ("peak memory", format_bytes(metrics.peak_memory_bytes) if metrics.peak_memory_bytes else ""),
    ]
    fields += [(name, format_number(value)) for name, value in sorted(metrics.method_metrics.items())]
    fields += [
        ("created", _time_ago(job, "create_time", now)),
        ("started", _time_ago(job, "start_time", now)),
        ("ended", _time_ago(job, "end_time", now)),
        ("ran for", _run_time(job)),
        ("device", job.device),
        ("error", f"{job.error.reason}: {job.error.message}" if job.HasField("error") else ""),
        ("adapter", job.adapter_path),
        ("output dir", job.output_dir),
        ("request id", job.request_id),
    ]
    shown = [(key, value) for key, value in fields if value]
    width = max(len(key) for key, _ in shown)
    return "\n".join(f"{key + ':':<{width + 1}} {value}" for key, value in shown)


def _time_ago(job: job_pb2.TrainingJob, field: str, now: float) -> str:
    if not job.HasField(field):
        return ""
    stamp = getattr(job, field)
    return (
        f"{stamp.ToDatetime().strftime('%Y-%m-%d %H:%M:%S')} UTC ({format_age(now - stamp.ToNanoseconds() / 1e9)} ago)"
    )


def _run_time(job: job_pb2.TrainingJob) -> str:
    if not (job.HasField("start_time") and job.HasField("end_time")):
        return ""
    return format_duration((job.end_time.ToNanoseconds() - job.start_time.ToNanoseconds()) / 1e9)


def checkpoints_table(checkpoints: list[job_pb2.Checkpoint]) -> str:
    if not checkpoints:
        return "No checkpoints yet."
    rows = (
        (
            c.iteration,
            "removed" if c.removed else format_bytes(c.size_bytes),
            "yes" if c.final else "",
            "yes" if c.resumable else "",
            c.path,
        )
        for c in checkpoints
    )
    return format_table(("ITERATION", "SIZE", "FINAL", "RESUMABLE", "PATH"), rows)
