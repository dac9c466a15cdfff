"""The optimised BLAS under MLX's CPU matmuls: workers load it, and it trains to the same losses."""

import sys

import pytest
from execution_helpers import CHATS, RecordingListener, sft_spec, write_jsonl

from droidft.v1 import job_pb2
from droidft_server.supervisor.runner import ProcessRunner
from droidft_server.worker import blas

# float32 sums in another order (and with FMA) differ in the last bits. Measured here (tiny model, seed 3,
# learning rate 1e-3): the losses of the two libraries agree within 2e-6 for the first 10 iterations;
# after that training amplifies the last-bit differences, and by iteration 24 they are 0.23 % apart.
EARLY_REPORTS = 5  # iterations 2 to 10
EARLY_ABSOLUTE_TOLERANCE = 1e-5
LATE_RELATIVE_TOLERANCE = 5e-3

on_linux_x86 = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and blas.locate().library is not None),
    reason="the optimised BLAS is installed on Linux x86-64 only",
)


def _train(model, tmp_path, name: str) -> tuple[str, list[float]]:
    data = write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
    spec = sft_spec(model, data, iterations=24, report_every=2, learning_rate=1e-3, seed=3)
    runner = ProcessRunner(grace_period_s=60, blas_threads=2)
    listener = RecordingListener()
    try:
        runner.start(name, spec, tmp_path / name, listener)
        outcome = listener.outcome()
    finally:
        runner.shutdown()
    assert outcome.state == job_pb2.JOB_STATE_SUCCEEDED, outcome
    return listener.started[0], [e.train_report.loss for e in listener.events if e.HasField("train_report")]


@on_linux_x86
def test_the_same_job_trains_to_the_same_losses_on_both_blas_libraries(tiny_model, tmp_path, monkeypatch):
    optimised_device, optimised = _train(tiny_model, tmp_path, "mkl")
    monkeypatch.setenv(blas.ENVIRONMENT_SWITCH, blas.REFERENCE)  # the spawned worker inherits it
    reference_device, reference = _train(tiny_model, tmp_path, "reference")

    assert "BLAS mkl-" in optimised_device and "(2 threads)" in optimised_device
    assert reference_device.endswith("BLAS reference")
    assert len(optimised) == len(reference) == 12
    assert optimised[:EARLY_REPORTS] == pytest.approx(reference[:EARLY_REPORTS], abs=EARLY_ABSOLUTE_TOLERANCE)
    assert optimised == pytest.approx(reference, rel=LATE_RELATIVE_TOLERANCE)
    assert optimised[-1] < optimised[0]  # it learns: the comparison is not of two flat lines


def test_a_worker_gets_its_share_of_the_cores():
    cores = blas.available_cores()
    assert blas.worker_threads(1) == cores
    assert blas.worker_threads(cores * 2) == 1
    assert blas.worker_threads(2) == max(1, cores // 2)
