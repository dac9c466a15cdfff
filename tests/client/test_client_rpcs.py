import asyncio
import inspect
import re

import pytest
from fake_training_service import NO_WAIT, Connection, make_job, state_event

from droidft import AsyncClient, Client, rpcs
from droidft.v1 import data_pb2, evaluation_pb2, export_pb2, files_pb2, job_pb2, methods_pb2, sampling_pb2, service_pb2

SERVICE = service_pb2.DESCRIPTOR.services_by_name["TrainingService"]
CLIENT_NAME_OF_RPC = {"StreamTrainingProgress": "stream_progress"}


def client_method_name(rpc_name: str) -> str:
    return CLIENT_NAME_OF_RPC.get(rpc_name) or re.sub(r"(?<!^)(?=[A-Z])", "_", rpc_name).lower()


def parameters(function) -> list:
    return list(inspect.signature(function).parameters.values())


RPC_NAMES = [method.name for method in SERVICE.methods]

UPLOAD_START = files_pb2.UploadFileRequest(
    start=files_pb2.UploadStart(upload_id="upload-0001", name="a.jsonl", size_bytes=0, sha256="0" * 64)
)

# One call with plain arguments per RPC, and what the server must have received.
CALLS = {
    "ListTrainingMethods": ((), {}, service_pb2.ListTrainingMethodsRequest()),
    "ValidateDataset": (
        ("/data/train.jsonl",),
        {"method": "dpo", "max_issues": 5},
        data_pb2.ValidateDatasetRequest(path="/data/train.jsonl", method=methods_pb2.TRAINING_METHOD_DPO, max_issues=5),
    ),
    "StreamDatasetValidation": (
        ("/data/train.jsonl",),
        {"format": "grpo", "progress_interval_seconds": 0.5},
        data_pb2.StreamDatasetValidationRequest(
            check=data_pb2.ValidateDatasetRequest(path="/data/train.jsonl", format="grpo"),
            progress_interval_seconds=0.5,
        ),
    ),
    "GenerateSampleData": (
        ("grpo",),
        {"count": 3, "seed": 7},
        data_pb2.GenerateSampleDataRequest(format="grpo", count=3, seed=7),
    ),
    "EstimateResources": (
        ({"model_path": "/m", "train_data_path": "/d", "gspo": {"epsilon": 0.001}},),
        {},
        service_pb2.EstimateResourcesRequest(
            spec=job_pb2.TrainingJobSpec(
                model_path="/m", train_data_path="/d", gspo=methods_pb2.GspoConfig(epsilon=0.001)
            )
        ),
    ),
    "CreateTrainingJob": (
        (job_pb2.TrainingJobSpec(model_path="/m", train_data_path="/d", sft=methods_pb2.SftConfig()),),
        {"request_id": "r-1", "validate_only": True},
        service_pb2.CreateTrainingJobRequest(
            spec=job_pb2.TrainingJobSpec(model_path="/m", train_data_path="/d", sft=methods_pb2.SftConfig()),
            request_id="r-1",
            validate_only=True,
        ),
    ),
    "GetTrainingJob": (("job-1",), {}, service_pb2.GetTrainingJobRequest(job_id="job-1")),
    "ListTrainingJobs": (
        (),
        {"page_size": 2, "states": ["running", job_pb2.JOB_STATE_QUEUED]},
        service_pb2.ListTrainingJobsRequest(page_size=2, states=[job_pb2.JOB_STATE_RUNNING, job_pb2.JOB_STATE_QUEUED]),
    ),
    "CancelTrainingJob": (("job-1",), {}, service_pb2.CancelTrainingJobRequest(job_id="job-1")),
    "ListCheckpoints": (("job-1",), {}, service_pb2.ListCheckpointsRequest(job_id="job-1")),
    "DeleteTrainingJob": (("job-1",), {}, service_pb2.DeleteTrainingJobRequest(job_id="job-1")),
    "PauseTrainingJob": (("job-1",), {}, service_pb2.PauseTrainingJobRequest(job_id="job-1")),
    "ResumeTrainingJob": (
        ("job-1",),
        {"from_iteration": 3},
        service_pb2.ResumeTrainingJobRequest(job_id="job-1", from_iteration=3),
    ),
    "StreamTrainingProgress": (
        ("job-1",),
        {"after_sequence": 0},
        service_pb2.StreamTrainingProgressRequest(job_id="job-1"),
    ),
    # A ready first message is sent alone; a local file's upload (its chunks) is tested against the real server.
    "UploadFile": ((UPLOAD_START,), {}, UPLOAD_START),
    "GetUploadStatus": (("upload-0001",), {}, files_pb2.GetUploadStatusRequest(upload_id="upload-0001")),
    "ListFiles": ((), {}, files_pb2.ListFilesRequest()),
    "DeleteFile": (("f-1",), {}, files_pb2.DeleteFileRequest(file_id="f-1")),
    "DownloadArtifact": (
        ("job-1", "worker.log"),
        {"offset": 7},
        files_pb2.DownloadArtifactRequest(job_id="job-1", path="worker.log", offset=7),
    ),
    "ExportModel": (
        ("job-1",),
        {"iteration": 2, "quantize_bits": 4, "gguf": False},
        export_pb2.ExportModelRequest(job_id="job-1", iteration=2, quantize_bits=4),
    ),
    "Generate": (
        ("job-1",),
        {"messages": [{"role": "user", "content": "Hi"}], "adapter": 20, "seed": 3, "stop": ["\n"]},
        sampling_pb2.GenerateRequest(
            model=sampling_pb2.ModelSelection(
                job_id="job-1", adapter=sampling_pb2.ADAPTER_CHOICE_CHECKPOINT, checkpoint_iteration=20
            ),
            messages=sampling_pb2.ChatTurns(turns=[sampling_pb2.ChatTurn(role="user", content="Hi")]),
            sampling=sampling_pb2.SamplingOptions(seed=3, stop=["\n"]),
        ),
    ),
    "EvaluateModel": (
        ("job-1",),
        {"adapter": "best", "method": "grpo", "samples_per_prompt": 8},
        evaluation_pb2.EvaluateModelRequest(
            model=sampling_pb2.ModelSelection(job_id="job-1", adapter=sampling_pb2.ADAPTER_CHOICE_BEST),
            method=methods_pb2.TRAINING_METHOD_GRPO,
            samples_per_prompt=8,
            sampling=sampling_pb2.SamplingOptions(),
        ),
    ),
    "ListEvaluations": (("job-1",), {}, evaluation_pb2.ListEvaluationsRequest(job_id="job-1")),
}


def prepare(fake) -> None:
    fake.service.jobs = [make_job("job-1")]
    fake.service.uploads = {"upload-0001": (UPLOAD_START.start, b"")}
    fake.service.connections = [Connection([state_event(1, job_pb2.JOB_STATE_RUNNING, job_pb2.JOB_STATE_SUCCEEDED)])]


def test_every_rpc_has_a_sync_and_an_async_method():
    assert set(CALLS) == set(RPC_NAMES)
    for rpc_name in RPC_NAMES:
        name = client_method_name(rpc_name)
        assert callable(getattr(Client, name)), name
        async_method = getattr(AsyncClient, name)
        assert inspect.iscoroutinefunction(async_method) or inspect.isasyncgenfunction(async_method), name
        assert parameters(async_method) == parameters(getattr(Client, name)), name


@pytest.mark.parametrize("rpc_name", RPC_NAMES)
def test_sync_method_sends_the_request_built_from_plain_arguments(fake, client, rpc_name):
    prepare(fake)
    args, kwargs, expected = CALLS[rpc_name]
    reply = getattr(client, client_method_name(rpc_name))(*args, **kwargs)
    if inspect.isgenerator(reply):
        reply = list(reply)
    assert fake.service.requests_of(rpc_name) == [expected]


def test_async_methods_send_the_same_requests(fake):
    prepare(fake)

    async def call_all():
        async with AsyncClient(fake.address, timeout=10, retry_policy=NO_WAIT) as client:
            for rpc_name in RPC_NAMES:
                args, kwargs, _ = CALLS[rpc_name]
                reply = getattr(client, client_method_name(rpc_name))(*args, **kwargs)
                if inspect.isasyncgen(reply):
                    return_value = [event async for event in reply]
                else:
                    return_value = await reply
                assert return_value is not None

    asyncio.run(call_all())
    for rpc_name in RPC_NAMES:
        assert fake.service.requests_of(rpc_name) == [CALLS[rpc_name][2]]


def test_each_rpc_is_defined_once_as_the_contract_says():
    assert [rpc.name for rpc in rpcs.ALL] == RPC_NAMES
    for rpc in rpcs.ALL:
        method = SERVICE.methods_by_name[rpc.name]
        assert rpc.method_name == client_method_name(rpc.name)
        assert rpc.request_type.DESCRIPTOR is method.input_type, rpc.name
        assert rpc.response_type.DESCRIPTOR is method.output_type, rpc.name
        for client_class in (Client, AsyncClient):
            assert getattr(client_class, rpc.method_name).__name__ == rpc.method_name


@pytest.mark.parametrize("rpc", rpcs.ALL, ids=lambda rpc: rpc.method_name)
def test_every_argument_of_every_method_is_documented(rpc):
    for client_class in (Client, AsyncClient):
        method = getattr(client_class, rpc.method_name)
        documented = inspect.getdoc(method)
        for parameter in parameters(method)[1:]:
            if parameter.name != "request":
                assert re.search(rf"^    .*\b{parameter.name}\b.*:", documented, re.MULTILINE), parameter.name
        assert rpc.request_type.DESCRIPTOR.full_name in documented


@pytest.mark.parametrize("rpc_name", RPC_NAMES)
def test_a_ready_request_message_is_sent_as_is(fake, client, rpc_name):
    prepare(fake)
    expected = CALLS[rpc_name][2]
    reply = getattr(client, client_method_name(rpc_name))(expected)
    if inspect.isgenerator(reply):
        reply = list(reply)
    assert fake.service.requests_of(rpc_name) == [expected]


def test_async_methods_send_a_ready_request_message_as_is(fake):
    prepare(fake)

    async def call_all():
        async with AsyncClient(fake.address, timeout=10, retry_policy=NO_WAIT) as client:
            for rpc_name in RPC_NAMES:
                reply = getattr(client, client_method_name(rpc_name))(CALLS[rpc_name][2])
                if inspect.isasyncgen(reply):
                    [event async for event in reply]
                else:
                    await reply

    asyncio.run(call_all())
    for rpc_name in RPC_NAMES:
        assert fake.service.requests_of(rpc_name) == [CALLS[rpc_name][2]]


def test_a_request_message_with_more_arguments_is_refused(client, fake):
    with pytest.raises(TypeError, match="takes a GetTrainingJobRequest alone"):
        client.get_training_job(service_pb2.GetTrainingJobRequest(job_id="job-1"), "job-2")
    with pytest.raises(TypeError, match="takes a ListTrainingJobsRequest alone"):
        client.list_training_jobs(service_pb2.ListTrainingJobsRequest(), page_size=3)
    assert fake.service.requests == []


def test_metadata_is_sent_with_every_call(fake):
    fake.service.jobs = [make_job("job-1")]
    with Client(fake.address, metadata={"X-Team": "nlp"}) as client:
        client.get_training_job("job-1")
        client.list_training_methods()
    assert [metadata["x-team"] for metadata in fake.service.call_metadata] == ["nlp", "nlp"]


def test_unknown_method_name_is_refused_before_any_call(client, fake):
    with pytest.raises(ValueError, match="unknown training method 'kto'; choose one of sft, grpo"):
        client.validate_dataset("/d", method="kto")
    assert fake.service.requests == []


def test_spec_dict_with_unknown_field_is_refused(client):
    with pytest.raises(ValueError, match="invalid job spec"):
        client.create_training_job({"model_path": "/m", "iters": 3})


def test_async_client_can_be_built_outside_the_event_loop(fake):
    fake.service.jobs = [make_job("job-1")]
    client = AsyncClient(fake.address)

    async def use():
        async with client:
            return await client.get_training_job("job-1")

    assert asyncio.run(use()).job_id == "job-1"


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"prompt": "Hi", "adapter": "worst"}, "adapter"),
        ({"prompt": "Hi", "adapter": 1.5}, "adapter"),
        ({}, "prompt or messages"),
        ({"prompt": "Hi", "messages": [{"role": "user", "content": "Hi"}]}, "prompt or messages"),
    ],
)
def test_generate_refuses_what_it_cannot_send_before_sending(arguments, complaint):
    with pytest.raises(ValueError, match=complaint):
        rpcs.generate.build("job-1", **arguments)
