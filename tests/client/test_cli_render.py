import pytest
from fake_training_service import T0, make_job, timestamp

from droidft.cli.data_view import issue_counts_line
from droidft.cli.estimate_view import estimate_report
from droidft.cli.job_view import job_details, job_row
from droidft.cli.method_view import format_range
from droidft.cli.progress_view import eta_seconds, event_line, progress_bar, sparkline
from droidft.cli.render import format_age, format_bytes, format_duration, format_table
from droidft.v1 import distributed_pb2, job_pb2, methods_pb2, progress_pb2, resources_pb2


def test_table_aligns_columns_without_trailing_spaces():
    assert format_table(("A", "LONG HEADER"), [("wide cell", 1), ("x", "")], indent="  ") == (
        "  A          LONG HEADER\n  wide cell  1\n  x"
    )


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (44.6, "45s"),
        (185, "3m05s"),
        (3720, "1h02m"),
        (183_600, "2d03h"),
        (-5, "0s"),
    ],
)
def test_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [(12, "12s"), (300, "5m"), (3 * 3600 + 59, "3h"), (2 * 86_400, "2d")])
def test_age(seconds, text):
    assert format_age(seconds) == text


@pytest.mark.parametrize(
    "size, text", [(512, "512 B"), (1536, "1.5 KiB"), (2 * 1024**3, "2.0 GiB"), (3 * 1024**4, "3.0 TiB")]
)
def test_bytes(size, text):
    assert format_bytes(size) == text


@pytest.mark.parametrize(
    "parameter, text",
    [
        (methods_pb2.ParameterInfo(minimum=1, maximum=8), "[1, 8]"),
        (methods_pb2.ParameterInfo(minimum=0, maximum=1, minimum_exclusive=True), "(0, 1]"),
        (methods_pb2.ParameterInfo(minimum=1e-6, maximum=1e-4), "[1e-06, 0.0001]"),
        (methods_pb2.ParameterInfo(minimum=1, maximum=1_000_000), "[1, 1000000]"),
        (methods_pb2.ParameterInfo(minimum=0), ">= 0"),
        (methods_pb2.ParameterInfo(maximum=2, maximum_exclusive=True), "< 2"),
        (methods_pb2.ParameterInfo(allowed_values=["sigmoid", "ipo"]), "sigmoid | ipo"),
        (methods_pb2.ParameterInfo(), ""),
    ],
)
def test_parameter_range(parameter, text):
    assert format_range(parameter) == text


def report(iteration: int, total: int = 100, ips: float = 2.0, **metrics: float) -> progress_pb2.TrainReport:
    return progress_pb2.TrainReport(
        iteration=iteration,
        total_iterations=total,
        loss=1.23456,
        learning_rate=1e-5,
        iterations_per_second=ips,
        metrics=metrics,
    )


def test_eta_follows_the_throughput():
    assert eta_seconds(report(40)) == 30.0
    assert eta_seconds(report(40, ips=0)) is None


def test_progress_bar_shows_iterations_percent_eta_loss_and_reward():
    assert progress_bar(report(40, reward_mean=0.5)) == (
        "[#########---------------]  40/100   40%  ETA 30s  loss 1.235  reward 0.5"
    )
    assert progress_bar(report(0, ips=0)) == "[------------------------]  0/100    0%  ETA ?  loss 1.235"


def test_progress_bar_fits_the_terminal():
    assert len(progress_bar(report(40), max_width=30)) == 30


def test_progress_bar_draws_the_loss_history_after_the_loss():
    assert progress_bar(report(40, reward_mean=0.5), loss_history=[3.0, 2.0, 1.0]) == (
        "[#########---------------]  40/100   40%  ETA 30s  loss 1.235 █▅▁  reward 0.5"
    )


def test_plain_event_line_has_no_sparkline():
    assert "▁" not in event_line(event(train_report=report(40)))


@pytest.mark.parametrize(
    "values, line",
    [
        ([], ""),
        ([1.5, 1.5, 1.5], "▁▁▁"),
        ([0, 1, 2, 3, 4, 5, 6, 7], "▁▂▃▄▅▆▇█"),
        ([7, 6, 5, 4, 3, 2, 1, 0], "█▇▆▅▄▃▂▁"),
        ([2.0, float("nan"), 0.0, float("inf"), 1.0, float("-inf")], "█▁▅"),
        ([float("nan")], ""),
    ],
)
def test_sparkline_scales_finite_values_between_their_min_and_max(values, line):
    assert sparkline(values) == line


def test_sparkline_draws_only_the_most_recent_values_that_fit():
    rising = list(range(100))
    assert sparkline(rising, width=8) == "▁▂▃▄▅▆▇█"  # 92..99, scaled among themselves
    assert len(sparkline(rising)) == 24
    assert sparkline(rising, width=0) == ""


def event(sequence: int = 7, **oneof) -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(job_id="j", sequence=sequence, **oneof)


@pytest.mark.parametrize(
    "progress, line",
    [
        (
            event(
                eval_report=progress_pb2.EvalReport(
                    iteration=40, val_loss=1.5, seconds=0.84, metrics={"reward_mean": 0.25}
                )
            ),
            "eval        it 40  val_loss 1.5  reward_mean 0.25  (0.8s)",
        ),
        (
            event(
                checkpoint_saved=progress_pb2.CheckpointSaved(iteration=100, path="/o/adapters.safetensors", final=True)
            ),
            "checkpoint  it 100  /o/adapters.safetensors  (final)",
        ),
        (
            event(log=progress_pb2.LogLine(level=progress_pb2.LOG_LEVEL_WARNING, message="3 records truncated")),
            "log         WARNING: 3 records truncated",
        ),
        (
            event(
                state_change=progress_pb2.StateChange(
                    previous_state=job_pb2.JOB_STATE_RUNNING,
                    state=job_pb2.JOB_STATE_FAILED,
                    message="worker died",
                    error=job_pb2.JobError(reason="WORKER_CRASHED", message="exit code -9"),
                )
            ),
            "state       running -> failed: worker died [WORKER_CRASHED: exit code -9]",
        ),
        (
            event(state_change=progress_pb2.StateChange(state=job_pb2.JOB_STATE_QUEUED, message="accepted")),
            "state       queued: accepted",
        ),
        (
            event(
                rank_status=distributed_pb2.RankStatus(
                    rank=1, ranks=2, state=distributed_pb2.RANK_STATE_FAILED, host="127.0.0.1", message="was killed"
                )
            ),
            "rank        1/2 failed (127.0.0.1): was killed",
        ),
        (
            event(train_report=report(10, ips=4.0)),
            "train       10/100   10%  ETA 22s  loss 1.235  lr 1.00e-05  4.00 it/s",
        ),
    ],
)
def test_event_line(progress, line):
    assert event_line(progress) == line


def test_job_row_shows_progress_and_age():
    assert job_row(make_job("j", iteration=40), now=T0 + 7200) == ("j", "running", "sft", "tiny-llama", "40/100", "2h")


def test_job_details_leave_out_what_is_not_set():
    job = make_job("j", job_pb2.JOB_STATE_SUCCEEDED, iteration=100)
    job.start_time.CopyFrom(timestamp(T0 + 60))
    job.end_time.CopyFrom(timestamp(T0 + 60 + 185))
    job.metrics.train_loss = 0.5
    job.metrics.method_metrics["reward_mean"] = 0.75
    details = job_details(job, now=T0 + 3600).splitlines()
    assert "train loss:  0.5" in details and "reward_mean: 0.75" in details and "ran for:     3m05s" in details
    assert not any(line.startswith(("error", "device", "validation")) for line in details)


def test_issue_counts_most_frequent_first():
    assert issue_counts_line({"a": 1, "b": 5, "c": 1}) == "b 5, a 1, c 1"


def test_estimate_report_lists_memory_largest_first_and_the_advice():
    estimate = resources_pb2.ResourceEstimate(
        peak_memory_bytes=3 << 30,
        available_memory_bytes=2 << 30,
        device="gpu",
        seconds_per_iteration=1.25,
        total_seconds=125,
        trainable_parameters=16_384,
        total_parameters=123_200,
        fits=False,
        breakdown=resources_pb2.MemoryBreakdown(weights_bytes=2 << 30, activations_bytes=700 << 20, kv_cache_bytes=0),
        advice=[
            resources_pb2.ResourceAdvice(
                change="batch_size=2",
                description="halves activations",
                peak_memory_bytes=1 << 30,
                seconds_per_iteration=0.7,
                fits=True,
            )
        ],
    )
    assert estimate_report(estimate) == (
        "peak memory: 3.0 GiB of 2.0 GiB available on gpu: does NOT fit\n"
        "time:        1.25 s per iteration, 2m05s in all\n"
        "parameters:  16,384 trainable of 123,200\n"
        "\n"
        "MEMORY       SIZE\n"
        "weights      2.0 GiB\n"
        "activations  700.0 MiB\n"
        "\n"
        "CHANGE        PEAK MEMORY  PER ITERATION  FITS  WHY\n"
        "batch_size=2  1.0 GiB      0.7 s          yes   halves activations"
    )


def test_estimate_report_of_ranks_gives_each_rank_s_memory_and_the_speed_up():
    estimate = resources_pb2.ResourceEstimate(
        peak_memory_bytes=2 * 2**20,
        available_memory_bytes=2**30,
        device="cpu",
        ranks=2,
        per_rank_peak_memory_bytes=2**20,
        expected_speedup=0.85,
    )
    assert "ranks:       2, 1.0 MiB each; expected speed-up 0.85x over one process" in estimate_report(estimate)
