"""`droidft plot JOB -o curves.png`: training curves of a job, drawn from its stored progress events.

Panels: loss (train and validation), learning rate, and for RL methods the reward (mean ± std, in
total and per reward function) and the KL divergence, all against the iteration. Needs matplotlib
(`pip install 'droidft[plot]'`); it draws with the Agg backend, so no display is needed.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from droidft.cli.session import CommandError, Session
from droidft.progress_stream import is_terminal_event
from droidft.v1 import progress_pb2

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOTAL_REWARD = "total"
REWARD_METRIC = re.compile(r"^reward(?:/(?P<name>.+))?_(?P<stat>mean|std)$")
PANEL_SIZE_INCHES = (6.0, 3.6)
DPI = 100


@dataclass
class Series:
    """One curve: values by iteration."""

    iterations: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, iteration: int, value: float) -> None:
        self.iterations.append(iteration)
        self.values.append(value)


@dataclass
class RewardSeries:
    """Mean and standard deviation of one reward (the total, or one reward function) by iteration."""

    iterations: list[int] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    stds: list[float] = field(default_factory=list)


@dataclass
class TrainingCurves:
    """Everything the plot shows, taken from a job's events."""

    train_loss: Series = field(default_factory=Series)
    val_loss: Series = field(default_factory=Series)
    learning_rate: Series = field(default_factory=Series)
    kl: Series = field(default_factory=Series)
    rewards: dict[str, RewardSeries] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.train_loss.iterations or self.val_loss.iterations)


def training_curves(events: Iterable[progress_pb2.TrainingProgress]) -> TrainingCurves:
    """Collects the curves from train and eval reports; other events are ignored."""
    curves = TrainingCurves()
    for event in events:
        kind = event.WhichOneof("event")
        if kind == "train_report":
            _add_train_report(curves, event.train_report)
        elif kind == "eval_report":
            curves.val_loss.add(event.eval_report.iteration, event.eval_report.val_loss)
    return curves


def _add_train_report(curves: TrainingCurves, report: progress_pb2.TrainReport) -> None:
    curves.train_loss.add(report.iteration, report.loss)
    curves.learning_rate.add(report.iteration, report.learning_rate)
    if "kl" in report.metrics:
        curves.kl.add(report.iteration, report.metrics["kl"])
    stats: dict[str, dict[str, float]] = defaultdict(dict)
    for key, value in report.metrics.items():
        match = REWARD_METRIC.match(key)
        if match:
            stats[match["name"] or TOTAL_REWARD][match["stat"]] = value
    for name, stat in sorted(stats.items()):
        if "mean" in stat:
            series = curves.rewards.setdefault(name, RewardSeries())
            series.iterations.append(report.iteration)
            series.means.append(stat["mean"])
            series.stds.append(stat.get("std", 0.0))


def training_figure(events: Iterable[progress_pb2.TrainingProgress], title: str = "") -> Figure:
    """A figure with one panel per curve group that the events contain."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    curves = training_curves(events)
    panels = [_draw_loss, _draw_learning_rate]
    if curves.rewards:
        panels.append(_draw_rewards)
    if curves.kl.iterations:
        panels.append(_draw_kl)
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    figure = Figure(
        figsize=(PANEL_SIZE_INCHES[0] * columns, PANEL_SIZE_INCHES[1] * rows), dpi=DPI, layout="constrained"
    )
    for axes, draw in zip(figure.subplots(rows, columns, squeeze=False).flat, panels):
        draw(axes, curves)
        axes.set_xlabel("iteration")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    for unused in figure.axes[len(panels) :]:
        unused.remove()
    if title:
        figure.suptitle(title)
    return figure


def _draw_loss(axes, curves: TrainingCurves) -> None:
    axes.set_title("Loss")
    axes.plot(curves.train_loss.iterations, curves.train_loss.values, label="train")
    if curves.val_loss.iterations:
        axes.plot(curves.val_loss.iterations, curves.val_loss.values, marker="o", label="validation")
    axes.legend()


def _draw_learning_rate(axes, curves: TrainingCurves) -> None:
    axes.set_title("Learning rate")
    axes.plot(curves.learning_rate.iterations, curves.learning_rate.values)
    axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))


def _draw_rewards(axes, curves: TrainingCurves) -> None:
    axes.set_title("Reward (mean ± std)")
    for name, series in sorted(curves.rewards.items(), key=lambda item: item[0] != TOTAL_REWARD):
        (line,) = axes.plot(series.iterations, series.means, label=name)
        low = [m - s for m, s in zip(series.means, series.stds)]
        high = [m + s for m, s in zip(series.means, series.stds)]
        axes.fill_between(series.iterations, low, high, color=line.get_color(), alpha=0.2)
    axes.legend()


def _draw_kl(axes, curves: TrainingCurves) -> None:
    axes.set_title("KL")
    axes.plot(curves.kl.iterations, curves.kl.values)


def save_figure(figure: Figure, path: Path) -> None:
    """Writes the figure as PNG with the Agg renderer (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.savefig(path, format="png")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw a job's training curves to a PNG file",
        description="Draw loss, validation loss, learning rate and (RL methods) reward and KL curves of a job.",
    )
    parser.add_argument("job_id", metavar="JOB")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="PNG file to write (default: JOB.png)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, session: Session) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CommandError("plotting needs matplotlib: pip install 'droidft[plot]'") from None
    job = session.client.get_training_job(args.job_id)
    events = list(stored_events(session, job.job_id, job.last_sequence))
    if training_curves(events).empty:
        raise CommandError(f"job {job.job_id} has no training reports yet")
    output = args.output or Path(f"{job.job_id}.png")
    save_figure(training_figure(events, title=_title(job)), output)
    session.print(f"wrote {output}")
    return 0


def stored_events(session: Session, job_id: str, last_sequence: int) -> Iterator[progress_pb2.TrainingProgress]:
    """The job's events from the first up to `last_sequence` (all of them once it has ended)."""
    if last_sequence == 0:
        return
    for event in session.client.stream_progress(job_id, after_sequence=0):
        yield event
        if is_terminal_event(event) or event.sequence >= last_sequence:
            return


def _title(job) -> str:
    name = job.spec.display_name or job.job_id
    return f"{name} ({job.spec.WhichOneof('method')})"
