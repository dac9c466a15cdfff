"""Pure rendering of progress events: a one-line progress bar and one plain line per event."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from droidft.cli.render import format_duration, format_number
from droidft.enums import job_state_name
from droidft.v1 import distributed_pb2, progress_pb2

BAR_WIDTH = 24
SPARKLINE_WIDTH = 24
SPARK_LEVELS = "▁▂▃▄▅▆▇█"
REWARD_METRIC = "reward_mean"
LOG_LEVEL_NAMES = {
    progress_pb2.LOG_LEVEL_DEBUG: "DEBUG",
    progress_pb2.LOG_LEVEL_INFO: "INFO",
    progress_pb2.LOG_LEVEL_WARNING: "WARNING",
    progress_pb2.LOG_LEVEL_ERROR: "ERROR",
}


def eta_seconds(report: progress_pb2.TrainReport) -> float | None:
    """Seconds left at the report's throughput; None while unknown."""
    if report.iterations_per_second <= 0:
        return None
    return max(0, report.total_iterations - report.iteration) / report.iterations_per_second


def fraction_done(report: progress_pb2.TrainReport) -> float:
    if report.total_iterations == 0:
        return 0.0
    return min(1.0, report.iteration / report.total_iterations)


def sparkline(values: Iterable[float], width: int = SPARKLINE_WIDTH) -> str:
    """The most recent `width` finite values as block characters, lowest ▁ to highest █.

    NaN and infinities are skipped. The scale spans the min and max of the values drawn, so the
    recent trend stays readable after early, much larger losses have scrolled off; a flat series is all ▁.
    """
    finite = [value for value in values if math.isfinite(value)]
    drawn = finite[-width:] if width > 0 else []
    if not drawn:
        return ""
    low, span = min(drawn), max(drawn) - min(drawn)
    top = len(SPARK_LEVELS) - 1
    return "".join(SPARK_LEVELS[round((value - low) / span * top) if span else 0] for value in drawn)


def _report_figures(report: progress_pb2.TrainReport, loss_history: Sequence[float] = ()) -> list[str]:
    eta = eta_seconds(report)
    loss_trend = sparkline(loss_history)
    figures = [
        f"{report.iteration}/{report.total_iterations}",
        f"{fraction_done(report):4.0%}",
        f"ETA {format_duration(eta) if eta is not None else '?'}",
        f"loss {format_number(report.loss)}" + (f" {loss_trend}" if loss_trend else ""),
    ]
    if REWARD_METRIC in report.metrics:
        figures.append(f"reward {format_number(report.metrics[REWARD_METRIC])}")
    return figures


def progress_bar(report: progress_pb2.TrainReport, max_width: int = 200, loss_history: Sequence[float] = ()) -> str:
    """The updating terminal line: "[#####-----] 40/100   40%  ETA 30s  loss 1.234 █▅▃▂  reward 0.5".

    loss_history: the losses of the train reports seen so far, drawn as a sparkline after the loss.
    """
    filled = int(fraction_done(report) * BAR_WIDTH)
    bar = "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"
    return "  ".join([bar, *_report_figures(report, loss_history)])[:max_width]


def event_line(event: progress_pb2.TrainingProgress) -> str:
    """One line describing any event, for logs and non-terminal output."""
    kind = event.WhichOneof("event")
    if kind == "train_report":
        report = event.train_report
        figures = [
            *_report_figures(report),
            f"lr {report.learning_rate:.2e}",
            f"{report.iterations_per_second:.2f} it/s",
        ]
        return "train       " + "  ".join(figures)
    if kind == "eval_report":
        report = event.eval_report
        metrics = "".join(f"  {name} {format_number(value)}" for name, value in sorted(report.metrics.items()))
        loss = format_number(report.val_loss)
        return f"eval        it {report.iteration}  val_loss {loss}{metrics}  ({report.seconds:.1f}s)"
    if kind == "checkpoint_saved":
        saved = event.checkpoint_saved
        return f"checkpoint  it {saved.iteration}  {saved.path}{'  (final)' if saved.final else ''}"
    if kind == "rank_status":
        status = event.rank_status
        state = distributed_pb2.RankState.Name(status.state).removeprefix("RANK_STATE_").lower()
        line = f"rank        {status.rank}/{status.ranks} {state} ({status.host})"
        return line + (f": {status.message}" if status.message else "")
    if kind == "log":
        return f"log         {LOG_LEVEL_NAMES.get(event.log.level, 'INFO')}: {event.log.message}"
    if kind == "state_change":
        change = event.state_change
        states = job_state_name(change.state)
        if change.previous_state:
            states = f"{job_state_name(change.previous_state)} -> {states}"
        line = f"state       {states}"
        if change.message:
            line += f": {change.message}"
        if change.HasField("error"):
            line += f" [{change.error.reason}: {change.error.message}]"
        return line
    return f"event       #{event.sequence}"
