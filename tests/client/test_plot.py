import math
import struct

import pytest
from fake_training_service import Connection, make_job
from matplotlib import image

from droidft.cli import main
from droidft.cli.plot import save_figure, training_curves, training_figure
from droidft.v1 import job_pb2, progress_pb2

RUNNING, SUCCEEDED = job_pb2.JOB_STATE_RUNNING, job_pb2.JOB_STATE_SUCCEEDED
REWARDS = ("exact_answer", "format")


def numbered(events: list[progress_pb2.TrainingProgress]) -> list[progress_pb2.TrainingProgress]:
    for sequence, event in enumerate(events, start=1):
        event.job_id, event.sequence = "job-1", sequence
    return events


def train(iteration: int, **metrics: float) -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(
        train_report=progress_pb2.TrainReport(
            iteration=iteration,
            total_iterations=20,
            loss=3.0 * math.exp(-iteration / 8),
            learning_rate=1e-5 * min(1.0, iteration / 5),
            metrics=metrics,
        )
    )


def evaluate(iteration: int) -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(
        eval_report=progress_pb2.EvalReport(iteration=iteration, val_loss=3.2 - iteration / 10)
    )


def state(previous: int, new: int) -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(state_change=progress_pb2.StateChange(previous_state=previous, state=new))


def sft_events() -> list[progress_pb2.TrainingProgress]:
    reports = [train(i) for i in range(2, 21, 2)]
    return numbered(
        [
            state(job_pb2.JOB_STATE_QUEUED, RUNNING),
            evaluate(0),
            *reports,
            evaluate(10),
            evaluate(20),
            state(RUNNING, SUCCEEDED),
        ]
    )


def grpo_metrics(iteration: int) -> dict[str, float]:
    metrics = {"reward_mean": iteration / 20, "reward_std": 0.3, "kl": 0.001 * iteration, "clip_fraction": 0.1}
    for offset, name in enumerate(REWARDS):
        metrics[f"reward/{name}_mean"] = iteration / 40 + offset / 10
        metrics[f"reward/{name}_std"] = 0.2
    return metrics


def grpo_events() -> list[progress_pb2.TrainingProgress]:
    reports = [train(i, **grpo_metrics(i)) for i in range(1, 21)]
    return numbered([state(job_pb2.JOB_STATE_QUEUED, RUNNING), *reports, state(RUNNING, SUCCEEDED)])


def png_size(path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk
    return width, height


def panel_titles(figure) -> list[str]:
    return [axes.get_title() for axes in figure.axes]


def test_curves_collect_loss_learning_rate_rewards_and_kl():
    curves = training_curves(grpo_events())
    assert curves.train_loss.iterations == list(range(1, 21))
    assert curves.learning_rate.values[4] == pytest.approx(1e-5)
    assert sorted(curves.rewards) == ["exact_answer", "format", "total"]
    assert curves.rewards["total"].means[-1] == pytest.approx(1.0)
    assert curves.rewards["format"].stds[0] == pytest.approx(0.2)
    assert curves.kl.values[-1] == pytest.approx(0.02)


def test_sft_plot_has_loss_with_validation_and_learning_rate(tmp_path):
    figure = training_figure(sft_events(), title="sft job")
    assert panel_titles(figure) == ["Loss", "Learning rate"]
    loss_lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert list(loss_lines) == ["train", "validation"]
    assert list(loss_lines["validation"].get_xdata()) == [0, 10, 20]

    path = tmp_path / "sft.png"
    save_figure(figure, path)
    assert png_size(path) == (1200, 360)
    assert image.imread(path).std() > 0.01  # not a blank canvas


def test_grpo_plot_adds_reward_per_function_and_kl_panels(tmp_path):
    figure = training_figure(grpo_events())
    assert panel_titles(figure) == ["Loss", "Learning rate", "Reward (mean ± std)", "KL"]
    reward_axes = figure.axes[2]
    assert [line.get_label() for line in reward_axes.get_lines()] == ["total", "exact_answer", "format"]
    assert len(reward_axes.collections) == 3  # one ± std band per reward

    path = tmp_path / "grpo.png"
    save_figure(figure, path)
    assert png_size(path) == (1200, 720)
    assert image.imread(path).shape == (720, 1200, 4)


def test_plot_command_reads_the_stored_events_and_writes_the_png(fake, tmp_path, capsys):
    events = grpo_events()
    fake.service.jobs = [make_job("job-1", SUCCEEDED, last_sequence=len(events))]
    fake.service.connections = [Connection(events)]
    output = tmp_path / "curves.png"

    assert main(["--server", fake.address, "plot", "job-1", "-o", str(output)]) == 0
    assert fake.service.requests_of("StreamTrainingProgress")[0].after_sequence == 0
    assert png_size(output) == (1200, 720)
    assert f"wrote {output}" in capsys.readouterr().out


def test_plot_of_a_running_job_stops_at_its_latest_event(fake, tmp_path):
    events = sft_events()
    fake.service.jobs = [make_job("job-1", RUNNING, last_sequence=6)]
    fake.service.connections = [Connection(events[:6], ending="unavailable")]
    assert main(["--server", fake.address, "plot", "job-1", "-o", str(tmp_path / "running.png")]) == 0
    assert len(fake.service.requests_of("StreamTrainingProgress")) == 1


def test_plot_of_a_job_without_reports_is_an_error(fake, tmp_path, capsys):
    fake.service.jobs = [make_job("job-1", job_pb2.JOB_STATE_QUEUED, last_sequence=0)]
    assert main(["--server", fake.address, "plot", "job-1", "-o", str(tmp_path / "none.png")]) == 3
    assert "no training reports yet" in capsys.readouterr().err
