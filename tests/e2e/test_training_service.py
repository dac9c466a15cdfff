"""End to end: a real server, real worker processes, real MLX training of the tiny model."""

import threading
from pathlib import Path

import grpc
import pytest

from droidft.v1 import job_pb2, service_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig
from droidft_server.domain import states


@pytest.fixture()
def config(tmp_path, calibration_dir, roots):
    return ServerConfig(state_dir=tmp_path / "state", listen="127.0.0.1:0", calibration_dir=calibration_dir, **roots)


@pytest.fixture()
def server(config):
    started = DroidftServer(config)
    yield started
    started.stop(grace=0)


def connect(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return channel, service_pb2_grpc.TrainingServiceStub(channel)


def sft_spec(tiny_model, sft_data, iterations):
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model),
        train_data_path=str(sft_data),
        iterations=iterations,
        batch_size=2,
        learning_rate=1e-4,
        max_seq_length=512,
        report_every=2,
        checkpoint_every=4,
        seed=7,
    )
    spec.sft.SetInParent()
    return spec


def kinds(events):
    return [e.WhichOneof("event") for e in events]


def test_sft_job_trains_and_is_watched_by_two_subscribers_one_late_one_reconnecting(server, tiny_model, sft_data):
    channel, stub = connect(server)
    with channel:
        job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=sft_spec(tiny_model, sft_data, 12)))
        request = service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)
        early = []
        follower = threading.Thread(target=lambda: early.extend(stub.StreamTrainingProgress(request)))
        follower.start()

        # A second subscriber drops its connection after its first train report and resumes from there.
        partial = []
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as other:
            stream = service_pb2_grpc.TrainingServiceStub(other).StreamTrainingProgress(request)
            for event in stream:
                partial.append(event)
                if event.WhichOneof("event") == "train_report":
                    stream.cancel()
                    break
        resumed = list(
            stub.StreamTrainingProgress(
                service_pb2.StreamTrainingProgressRequest(job_id=job.job_id, after_sequence=partial[-1].sequence)
            )
        )
        follower.join(timeout=300)

        final = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id))
        assert final.state == states.SUCCEEDED, final.error
        assert Path(final.adapter_path).is_file()
        assert final.metrics.iteration == 12 and final.metrics.peak_memory_bytes > 0
        assert final.device.startswith("Device(")

        late = list(stub.StreamTrainingProgress(request))
        assert [e.sequence for e in early] == [e.sequence for e in late] == list(range(1, final.last_sequence + 1))
        assert [e.sequence for e in partial + resumed] == [e.sequence for e in late]
        reports = [e.train_report for e in late if e.WhichOneof("event") == "train_report"]
        assert [r.iteration for r in reports] == [2, 4, 6, 8, 10, 12]
        assert reports[-1].loss < reports[0].loss
        assert late[-1].state_change.state == states.SUCCEEDED

        checkpoints = stub.ListCheckpoints(service_pb2.ListCheckpointsRequest(job_id=job.job_id)).checkpoints
        assert [c.iteration for c in checkpoints if not c.final] == [4, 8, 12]
        assert checkpoints[-1].final and all(c.size_bytes > 0 for c in checkpoints)


def test_cancel_stops_a_running_job_keeps_its_adapter_and_survives_a_restart(config, tiny_model, sft_data):
    server = DroidftServer(config)
    channel, stub = connect(server)
    with channel:
        job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=sft_spec(tiny_model, sft_data, 100000)))
        for event in stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)):
            if event.WhichOneof("event") == "train_report":
                break
        assert stub.CancelTrainingJob(service_pb2.CancelTrainingJobRequest(job_id=job.job_id)).state == states.RUNNING
        events = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)))
        assert events[-1].state_change.state == states.CANCELLED
        cancelled = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id))
        assert Path(cancelled.adapter_path).is_file()
        assert cancelled.metrics.iteration < 100000
    server.stop(grace=0)

    again = DroidftServer(config)
    channel, stub = connect(again)
    try:
        with channel:
            reread = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id))
            assert reread.state == states.CANCELLED and reread.adapter_path == cancelled.adapter_path
            replay = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)))
            assert [e.sequence for e in replay] == [e.sequence for e in events]
    finally:
        again.stop(grace=0)
