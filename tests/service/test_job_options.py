"""The training options through the server: a job outside the recommended ranges runs with a warning, epochs set
its iterations from its data, and options that would do nothing are refused through gRPC with the fix."""

import grpc
import pytest

from droidft.v1 import options_pb2, progress_pb2, service_pb2


def test_outside_the_recommended_range_is_accepted_with_a_warning_event(server, spec):
    spec.learning_rate = 2e-4
    job = server.jobs.create(spec)
    warnings = [
        e.log.message for e in server.jobs.events_after(job.job_id) if e.log.level == progress_pb2.LOG_LEVEL_WARNING
    ]
    assert any("learning_rate is 0.0002, outside the recommended range" in w for w in warnings)


def test_epochs_set_the_job_s_iterations_from_its_records(server, spec, sft_data):
    records = len(sft_data.read_text().splitlines())
    spec.ClearField("iterations")
    spec.epochs, spec.batch_size = 2, 2
    job = server.jobs.create(spec)
    assert job.data.train_records_used == records
    assert job.metrics.total_iterations == -(-2 * records // 2)


def test_an_option_without_effect_is_refused_through_grpc(stub, spec):
    spec.optimizer.weight_decay = 0.1  # Adam has none
    with pytest.raises(grpc.RpcError) as refused:
        stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "spec.optimizer" in refused.value.details()


def test_epochs_with_iterations_is_refused_through_grpc(stub, spec):
    spec.epochs = 1
    spec.lr_schedule.kind = options_pb2.LR_SCHEDULE_KIND_COSINE
    with pytest.raises(grpc.RpcError) as refused:
        stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_epochs_estimate_counts_the_iterations_from_the_data(stub, spec, sft_data):
    records = len(sft_data.read_text().splitlines())
    spec.ClearField("iterations")
    spec.epochs, spec.batch_size = 3, 2
    estimate = stub.EstimateResources(service_pb2.EstimateResourcesRequest(spec=spec)).estimate
    assert estimate.total_seconds / estimate.seconds_per_iteration == pytest.approx(-(-3 * records // 2))
