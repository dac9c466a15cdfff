import asyncio

import grpc
import pytest
from fake_training_service import NO_WAIT, rich_status
from google.rpc import code_pb2

from droidft import AsyncClient, Client, DroidftError, FieldViolation, PreconditionViolation
from droidft.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
    UnimplementedError,
)

INVALID_SPEC = rich_status(
    code_pb2.INVALID_ARGUMENT,
    "invalid CreateTrainingJobRequest",
    violations=(
        ("spec.batch_size", "value must be greater than or equal to 1 and less than or equal to 8", "uint32.gte_lte"),
        ("spec.method", "exactly one field is required in oneof", "required"),
    ),
)
SPEC = {"model_path": "/m", "train_data_path": "/d", "sft": {}}


def test_bad_request_becomes_invalid_argument_with_field_violations(fake, client):
    fake.service.failures["CreateTrainingJob"] = INVALID_SPEC
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_training_job(SPEC)
    error = caught.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == "invalid CreateTrainingJobRequest"
    assert error.field_violations == [
        FieldViolation(
            "spec.batch_size", "value must be greater than or equal to 1 and less than or equal to 8", "uint32.gte_lte"
        ),
        FieldViolation("spec.method", "exactly one field is required in oneof", "required"),
    ]
    assert str(error) == (
        "INVALID_ARGUMENT: invalid CreateTrainingJobRequest\n"
        "  - spec.batch_size: value must be greater than or equal to 1 and less than or equal to 8 [uint32.gte_lte]\n"
        "  - spec.method: exactly one field is required in oneof [required]"
    )


def test_error_info_gives_reason_domain_and_metadata(fake, client):
    error = _sync_error(
        fake, client, "GetTrainingJob", code_pb2.NOT_FOUND, reason="JOB_NOT_FOUND", metadata={"job_id": "nope"}
    )
    assert isinstance(error, NotFoundError)
    assert (error.reason, error.domain, error.metadata) == ("JOB_NOT_FOUND", "droidft", {"job_id": "nope"})
    assert str(error) == "NOT_FOUND: it failed (JOB_NOT_FOUND)\n  job_id: nope"


def test_precondition_failure_lists_what_is_in_the_way(fake, client):
    fake.service.failures["CreateTrainingJob"] = rich_status(
        code_pb2.FAILED_PRECONDITION,
        "the training data has 2 errors",
        reason="DATASET_INVALID",
        preconditions=(
            ("dataset_issue", "train.jsonl:3 messages[1].role", "unknown role 'bot'"),
            ("dataset_issue", "train.jsonl:7", "not JSON"),
        ),
    )
    with pytest.raises(FailedPreconditionError) as caught:
        client.create_training_job(SPEC)
    assert caught.value.precondition_violations == [
        PreconditionViolation("dataset_issue", "train.jsonl:3 messages[1].role", "unknown role 'bot'"),
        PreconditionViolation("dataset_issue", "train.jsonl:7", "not JSON"),
    ]
    assert str(caught.value) == (
        "FAILED_PRECONDITION: the training data has 2 errors (DATASET_INVALID)\n"
        "  - train.jsonl:3 messages[1].role: unknown role 'bot' [dataset_issue]\n"
        "  - train.jsonl:7: not JSON [dataset_issue]"
    )


@pytest.mark.parametrize(
    "code, error_class",
    [
        (code_pb2.FAILED_PRECONDITION, FailedPreconditionError),
        (code_pb2.RESOURCE_EXHAUSTED, ResourceExhaustedError),
        (code_pb2.UNIMPLEMENTED, UnimplementedError),
        (code_pb2.UNAVAILABLE, UnavailableError),
    ],
)
def test_each_status_code_has_its_exception_class(fake, client, code, error_class):
    error = _sync_error(fake, client, "GetTrainingJob", code, reason="SOME_REASON")
    assert type(error) is error_class and isinstance(error, DroidftError)


def test_error_without_details_keeps_code_and_message(fake, client):
    fake.service.jobs = []
    fake.service.failures["GetTrainingJob"] = rich_status(code_pb2.INTERNAL, "boom")
    with pytest.raises(DroidftError) as caught:
        client.get_training_job("job-1")
    assert (caught.value.code, caught.value.reason, caught.value.field_violations) == (grpc.StatusCode.INTERNAL, "", [])
    assert str(caught.value) == "INTERNAL: boom"


def test_async_client_decodes_the_same_details(fake):
    fake.service.failures["CreateTrainingJob"] = INVALID_SPEC
    fake.service.failures["ListCheckpoints"] = rich_status(
        code_pb2.FAILED_PRECONDITION, "job is queued", reason="JOB_NOT_STARTED"
    )

    async def scenario():
        async with AsyncClient(fake.address, retry_policy=NO_WAIT) as client:
            with pytest.raises(InvalidArgumentError) as invalid:
                await client.create_training_job(SPEC)
            with pytest.raises(FailedPreconditionError) as precondition:
                await client.list_checkpoints("job-1")
        return invalid.value, precondition.value

    invalid, precondition = asyncio.run(scenario())
    assert [v.field for v in invalid.field_violations] == ["spec.batch_size", "spec.method"]
    assert [v.reason for v in invalid.field_violations] == ["uint32.gte_lte", "required"]
    assert (precondition.reason, precondition.domain) == ("JOB_NOT_STARTED", "droidft")


def test_unreachable_server_raises_unavailable():
    with Client("127.0.0.1:1", timeout=5) as client, pytest.raises(UnavailableError):
        client.list_training_methods()


def _sync_error(fake, client, rpc, code, **details) -> DroidftError:
    fake.service.failures[rpc] = rich_status(code, "it failed", **details)
    with pytest.raises(DroidftError) as caught:
        client.get_training_job("nope")
    return caught.value
