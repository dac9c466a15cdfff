"""How a finished worker's result and a stop request (cancel or pause) combine into the job's final state."""

from types import SimpleNamespace

from droidft.v1 import job_pb2
from droidft_server.domain.runs import StopKind
from droidft_server.supervisor.runner import ProcessRunner
from droidft_server.worker.protocol import Finished


def outcome(cancel_requested: bool, stopped_early: bool, kind: StopKind = StopKind.CANCEL):
    stop = SimpleNamespace(value=kind if cancel_requested else StopKind.NONE)
    run = SimpleNamespace(stop=stop, process=SimpleNamespace(exitcode=0))
    return ProcessRunner._outcome(run, Finished("adapters.safetensors", stopped_early, "done"))


def test_a_pause_that_stopped_training_ends_paused():
    assert outcome(True, stopped_early=True, kind=StopKind.PAUSE).state == job_pb2.JOB_STATE_PAUSED


def test_a_cancel_that_stopped_training_ends_cancelled():
    assert outcome(cancel_requested=True, stopped_early=True).state == job_pb2.JOB_STATE_CANCELLED


def test_a_cancel_after_the_last_iteration_leaves_the_job_succeeded():
    assert outcome(cancel_requested=True, stopped_early=False).state == job_pb2.JOB_STATE_SUCCEEDED


def test_an_early_stop_on_validation_loss_is_a_success():
    assert outcome(cancel_requested=False, stopped_early=True).state == job_pb2.JOB_STATE_SUCCEEDED
