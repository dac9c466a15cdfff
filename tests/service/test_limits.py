"""Limits a client meets with a clear answer, never a hang or INTERNAL: the queue's length, resuming
past a job's last event, page tokens that could not have come from the server."""

import base64

import grpc
import pytest
from test_contract import call_error, details

from droidft.v1 import job_pb2, service_pb2, service_pb2_grpc


@pytest.fixture()
def short_queue(make_server):
    server = make_server(max_queued_jobs=2)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield service_pb2_grpc.TrainingServiceStub(channel)
    server.stop(grace=0)


def test_past_max_queued_jobs_a_create_is_refused_until_the_queue_shortens(short_queue, spec):
    create = service_pb2.CreateTrainingJobRequest(spec=spec)
    jobs = [short_queue.CreateTrainingJob(create) for _ in range(3)]  # one running, two waiting
    assert [job.state for job in jobs[1:]] == [job_pb2.JOB_STATE_QUEUED] * 2
    error = call_error(short_queue.CreateTrainingJob, create)
    info = details(error)["ErrorInfo"]
    assert (error.code(), info.reason, info.metadata["max_queued_jobs"]) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "QUEUE_FULL",
        "2",
    )
    assert short_queue.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True))
    short_queue.CancelTrainingJob(service_pb2.CancelTrainingJobRequest(job_id=jobs[1].job_id))
    assert short_queue.CreateTrainingJob(create).job_id


def test_resuming_past_the_last_event_is_out_of_range_at_once(stub, spec):
    job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    for after in (job.last_sequence + 1, 2**63, 2**64 - 1):
        request = service_pb2.StreamTrainingProgressRequest(job_id=job.job_id, after_sequence=after)
        error = call_error(stub.StreamTrainingProgress, request)
        info = details(error)["ErrorInfo"]
        assert (error.code(), info.reason) == (grpc.StatusCode.OUT_OF_RANGE, "SEQUENCE_PAST_END")
        assert info.metadata["last_sequence"] == str(job.last_sequence)


@pytest.mark.parametrize("key", [f"{2**63}:job", f"{2**70}:job", "-1:job", "99999999999999999999999999:x"])
def test_a_page_token_the_server_could_not_have_made_is_invalid_argument(stub, key):
    token = base64.urlsafe_b64encode(key.encode()).decode()
    error = call_error(stub.ListTrainingJobs, service_pb2.ListTrainingJobsRequest(page_token=token))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in details(error)["BadRequest"].field_violations] == ["page_token"]


def test_error_details_stay_small_however_many_violations_there_are():
    from droidft_server.domain.errors import FieldViolation, invalid_argument
    from droidft_server.transport.errors import LISTED_VIOLATIONS, to_status

    error = invalid_argument([FieldViolation(f"spec.grpo.rollout.rewards[{i}].name", "x" * 5000) for i in range(600)])
    status = to_status(error)
    trailer = dict(status.trailing_metadata)["grpc-status-details-bin"]
    assert len(trailer) < 8192 and len(status.details) <= 1000
    decoded = rpc_status_from(trailer)
    info, bad_request = (_unpacked(decoded, kind) for kind in ("ErrorInfo", "BadRequest"))
    assert info.metadata["violations_omitted"] == str(600 - LISTED_VIOLATIONS)
    assert len(bad_request.field_violations) == LISTED_VIOLATIONS
    assert all(len(v.description) <= 300 for v in bad_request.field_violations)


def rpc_status_from(trailer: bytes):
    from google.rpc import status_pb2

    return status_pb2.Status.FromString(trailer)


def _unpacked(status, kind: str):
    from google.rpc import error_details_pb2

    message = getattr(error_details_pb2, kind)()
    assert any(detail.Unpack(message) for detail in status.details)
    return message
