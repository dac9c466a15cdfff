"""spec.distributed through a real server: what is refused at create, with the field and the fix."""

import grpc
import pytest
from test_contract import call_error, details

from droidft.v1 import distributed_pb2, service_pb2


def create(stub, spec):
    return stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True))


def refused(stub, spec) -> tuple[grpc.StatusCode, dict]:
    error = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True))
    return error.code(), details(error)


def test_two_ranks_sharing_an_even_batch_are_accepted(stub, spec):
    spec.batch_size = 2
    spec.distributed.ranks = 2
    spec.distributed.hosts.extend(["127.0.0.1", "127.0.0.1"])
    spec.distributed.start_timeout_seconds = 30
    create(stub, spec)


def test_a_batch_the_ranks_cannot_share_is_refused_with_the_fix(stub, spec):
    spec.batch_size = 3
    spec.distributed.ranks = 2
    code, found = refused(stub, spec)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    (violation,) = found["BadRequest"].field_violations
    assert (violation.field, violation.reason) == ("spec.batch_size", "distributed.batch_size_divisible_by_ranks")
    assert "multiple of spec.distributed.ranks (2)" in violation.description


@pytest.mark.parametrize(
    "change, field, rule",
    [
        (lambda d: d.hosts.extend(["127.0.0.1"]), "spec.distributed.hosts", "distributed.hosts_one_per_rank"),
        (
            lambda d: setattr(d, "start_timeout_seconds", 5),
            "spec.distributed.start_timeout_seconds",
            "distributed.start_timeout_needs_ranks",
        ),
    ],
)
def test_settings_that_would_have_no_effect_are_refused(stub, spec, change, field, rule):
    spec.batch_size = 2
    change(spec.distributed)
    if field == "spec.distributed.hosts":
        spec.distributed.ranks = 2
    else:
        spec.distributed.ranks = 1
    code, found = refused(stub, spec)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.reason) for v in found["BadRequest"].field_violations] == [(field, rule)]


def test_mpi_and_preference_methods_are_unimplemented_not_ignored(stub, spec):
    spec.batch_size = 2
    spec.distributed.ranks = 2
    spec.distributed.backend = distributed_pb2.DISTRIBUTED_BACKEND_MPI
    code, found = refused(stub, spec)
    assert code == grpc.StatusCode.UNIMPLEMENTED
    assert found["ErrorInfo"].reason == "DISTRIBUTED_UNSUPPORTED"
    assert found["ErrorInfo"].metadata["field"] == "spec.distributed.backend"

    spec.distributed.backend = distributed_pb2.DISTRIBUTED_BACKEND_RING
    spec.ClearField("sft")
    spec.dpo.SetInParent()
    code, found = refused(stub, spec)
    assert code == grpc.StatusCode.UNIMPLEMENTED
    assert found["ErrorInfo"].metadata["field"] == "spec.distributed.ranks"


def test_an_address_of_another_machine_is_refused(stub, spec):
    spec.batch_size = 2
    spec.distributed.ranks = 2
    spec.distributed.hosts.extend(["127.0.0.1", "192.0.2.7"])  # TEST-NET-1: never this machine's
    code, found = refused(stub, spec)
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    info = found["ErrorInfo"]
    assert info.reason == "DISTRIBUTED_HOST_UNAVAILABLE"
    assert (info.metadata["field"], info.metadata["host"]) == ("spec.distributed.hosts[1]", "192.0.2.7")


def test_hosts_must_be_ip_addresses(stub, spec):
    spec.batch_size = 2
    spec.distributed.ranks = 2
    spec.distributed.hosts.extend(["localhost", "127.0.0.1"])
    code, found = refused(stub, spec)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in found["BadRequest"].field_violations] == ["spec.distributed.hosts[0]"]


def test_rank_zero_runs_here_and_remote_port_needs_a_remote_rank(stub, spec):
    spec.batch_size = 2
    spec.distributed.ranks = 2
    spec.distributed.hosts.extend(["192.0.2.7", "127.0.0.1"])
    code, found = refused(stub, spec)
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert found["ErrorInfo"].metadata["field"] == "spec.distributed.hosts[0]"

    del spec.distributed.hosts[:]
    spec.distributed.remote_port = 40000
    code, found = refused(stub, spec)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in found["BadRequest"].field_violations] == ["spec.distributed.remote_port"]
