"""A server restart loses nothing: old jobs and their events are read back, interrupted ones are explained."""

import json
from pathlib import Path

import grpc
from fakes import FakeRunner
from fixed_device import device_profile

from droidft.v1 import progress_pb2, service_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig
from droidft_server.domain import states
from droidft_server.domain.checkpoints import FORMAT_VERSION, MANIFEST_FILE, checkpoint_dir


def test_restart_keeps_jobs_and_events_fails_interrupted_and_requeues_waiting(tmp_path, spec, roots, build_check):
    config = ServerConfig(
        state_dir=tmp_path / "state",
        listen="127.0.0.1:0",
        device_profile=device_profile,
        resume_on_restart=False,
        build_check=build_check,
        **roots,
    )
    first_runner = FakeRunner()
    first = DroidftServer(config, runner=first_runner)
    finished = first.jobs.create(spec).job_id
    first_runner.report(finished, 1, 3.0)
    first_runner.finish(finished, adapter_path="done.safetensors")
    interrupted = first.jobs.create(spec).job_id
    waiting = first.jobs.create(spec).job_id
    first_runner.report(interrupted, 1, 2.0)
    checkpoint = progress_pb2.CheckpointSaved(iteration=1, path="0000001_adapters.safetensors")
    first_runner.started[interrupted].on_event(interrupted, progress_pb2.TrainingProgress(checkpoint_saved=checkpoint))
    first.stop(grace=0)

    second_runner = FakeRunner()
    second = DroidftServer(config, runner=second_runner)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{second.port}") as channel:
            stub = service_pb2_grpc.TrainingServiceStub(channel)
            old = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=finished))
            assert old.state == states.SUCCEEDED and old.adapter_path == "done.safetensors"
            replay = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=finished)))
            assert [e.WhichOneof("event") for e in replay] == [
                "state_change",
                "state_change",
                "train_report",
                "state_change",
            ]

            lost = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=interrupted))
            assert lost.state == states.FAILED and lost.error.reason == "SERVER_RESTARTED"
            assert lost.adapter_path == "0000001_adapters.safetensors" and "iteration 1 is kept" in lost.error.message
            events = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=interrupted)))
            assert events[-3].train_report.loss == 2.0
            assert events[-1].state_change.error.reason == "SERVER_RESTARTED"

            assert list(second_runner.started) == [waiting]
            listed = stub.ListTrainingJobs(service_pb2.ListTrainingJobsRequest()).jobs
            assert {j.job_id for j in listed} == {finished, interrupted, waiting}
    finally:
        second.stop(grace=0)


def write_resumable_checkpoint(output_dir: Path, iteration: int) -> Path:
    """A checkpoint directory whose manifest checks out (what the worker writes is tested in tests/execution)."""
    directory = checkpoint_dir(output_dir, iteration)
    directory.mkdir(parents=True)
    (directory / MANIFEST_FILE).write_text(json.dumps({"format": FORMAT_VERSION, "iteration": iteration, "files": {}}))
    return directory


def test_restart_resumes_interrupted_jobs_from_their_last_checkpoint(tmp_path, spec, roots, build_check):
    config = ServerConfig(
        state_dir=tmp_path / "state",
        listen="127.0.0.1:0",
        device_profile=device_profile,
        build_check=build_check,
        **roots,
    )
    first_runner = FakeRunner()
    first = DroidftServer(config, runner=first_runner)
    with_checkpoint, without = first.jobs.create(spec), first.jobs.create(spec)
    listener = first_runner.started[with_checkpoint.job_id]
    for iteration in (2, 4):
        directory = write_resumable_checkpoint(Path(with_checkpoint.output_dir), iteration)
        path = str(directory / "adapters.safetensors")
        saved = progress_pb2.CheckpointSaved(iteration=iteration, path=path, resumable=True)
        listener.on_event(with_checkpoint.job_id, progress_pb2.TrainingProgress(checkpoint_saved=saved))
    first.stop(grace=0)  # the fake runner leaves its jobs RUNNING in the store: as after a kill -9

    second_runner = FakeRunner()
    second = DroidftServer(config, runner=second_runner)
    try:
        resumed = second.jobs.get(with_checkpoint.job_id)
        assert resumed.state == states.RUNNING and resumed.resume_iteration == 4
        assert second_runner.starts[with_checkpoint.job_id].resume_from == checkpoint_dir(Path(resumed.output_dir), 4)
        changes = [e.state_change for e in second.jobs.events_after(resumed.job_id) if e.HasField("state_change")]
        assert [states.name(c.state) for c in changes] == ["QUEUED", "RUNNING", "QUEUED", "RUNNING"]
        assert "goes on from its checkpoint of iteration 4" in changes[2].message
        assert [c.checkpoint_saved.resumable for c in second.jobs.events_after(resumed.job_id)
                if c.HasField("checkpoint_saved")] == [True, True]  # fmt: skip
        second_runner.finish(with_checkpoint.job_id, adapter_path="a.safetensors")
        restarted = second_runner.wait_started(without.job_id)
        assert restarted is not None and second_runner.starts[without.job_id].resume_from is None
    finally:
        second.stop(grace=0)
