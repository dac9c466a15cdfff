import asyncio

import pytest
from fake_training_service import NO_WAIT, Connection, make_job, state_event, train_event

from droidft import AsyncClient, AsyncJobHandle, JobHandle
from droidft.errors import DeadlineExceededError, NotFoundError
from droidft.v1 import job_pb2, service_pb2

QUEUED, RUNNING, SUCCEEDED = job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_RUNNING, job_pb2.JOB_STATE_SUCCEEDED
EVENTS = [state_event(1, QUEUED, RUNNING), train_event(2, 1), train_event(3, 2), state_event(4, RUNNING, SUCCEEDED)]
CHECKPOINTS = [
    job_pb2.Checkpoint(iteration=2, path="/adapters/job-1/0000002_adapters.safetensors"),
    job_pb2.Checkpoint(iteration=4, path="/adapters/job-1/adapters.safetensors", final=True),
]


def after_sequences(fake) -> list[int]:
    return [request.after_sequence for request in fake.service.requests_of("StreamTrainingProgress")]


def test_handle_calls_carry_the_job_id(fake, client):
    fake.service.jobs = [make_job("job-1")]
    fake.service.checkpoints = CHECKPOINTS
    job = client.job("job-1")
    assert isinstance(job, JobHandle) and job.id == "job-1"
    assert job.get().state == RUNNING
    assert job.checkpoints() == CHECKPOINTS
    assert job.cancel().state == job_pb2.JOB_STATE_CANCELLED
    assert fake.service.requests_of("GetTrainingJob") == [service_pb2.GetTrainingJobRequest(job_id="job-1")]
    assert fake.service.requests_of("ListCheckpoints") == [service_pb2.ListCheckpointsRequest(job_id="job-1")]
    assert fake.service.requests_of("CancelTrainingJob") == [service_pb2.CancelTrainingJobRequest(job_id="job-1")]


def test_handle_of_an_unknown_job_raises_not_found_on_use(fake, client):
    job = client.job("nope")
    with pytest.raises(NotFoundError):
        job.get()


def test_progress_is_the_resumable_stream_from_the_given_sequence(fake, client):
    fake.service.jobs = [make_job("job-1", RUNNING, last_sequence=2)]
    fake.service.connections = [Connection(EVENTS[1:3], ending="unavailable"), Connection(EVENTS[3:])]
    assert [event.sequence for event in client.job("job-1").progress(after_sequence=1)] == [2, 3, 4]
    assert after_sequences(fake) == [1, 3]


def test_wait_follows_the_events_after_the_job_as_read_and_returns_the_final_job(fake, client):
    fake.service.jobs = [make_job("job-1", RUNNING, last_sequence=2)]
    fake.service.connections = [Connection(EVENTS[2:])]
    job = client.job("job-1").wait()
    assert (job.job_id, job.state, job.last_sequence) == ("job-1", SUCCEEDED, 4)
    assert after_sequences(fake) == [2]


def test_wait_reconnects_after_a_dropped_stream(fake, client):
    fake.service.jobs = [make_job("job-1", QUEUED)]
    fake.service.connections = [Connection(EVENTS[:2], ending="unavailable"), Connection(EVENTS[2:])]
    assert client.job("job-1").wait(timeout=30).state == SUCCEEDED
    assert after_sequences(fake) == [0, 2]


def test_wait_on_a_finished_job_returns_it_without_streaming(fake, client):
    fake.service.jobs = [make_job("job-1", SUCCEEDED, last_sequence=4)]
    assert client.job("job-1").wait().state == SUCCEEDED
    assert after_sequences(fake) == []


def test_wait_past_its_timeout_raises_and_closes_the_stream(fake, client):
    fake.service.jobs = [make_job("job-1", RUNNING, last_sequence=1)]
    fake.service.connections = [Connection(EVENTS[1:2], ending="hold")]
    with pytest.raises(DeadlineExceededError) as caught:
        client.job("job-1").wait(timeout=0.5)
    assert caught.value.reason == "WAIT_TIMED_OUT"
    assert caught.value.metadata == {"job_id": "job-1"}
    assert str(caught.value).startswith("DEADLINE_EXCEEDED: job job-1 did not end within 0.5 s")
    assert fake.service.stream_closed.wait(timeout=10)


def test_start_training_job_returns_the_new_jobs_handle(fake, client):
    spec = {"model_path": "/m", "train_data_path": "/d", "sft": {}}
    job = client.start_training_job(spec, request_id="r-1")
    assert job.id == "job-new"
    [request] = fake.service.requests_of("CreateTrainingJob")
    assert (request.request_id, request.validate_only, request.spec.model_path) == ("r-1", False, "/m")


def test_async_handle_offers_the_same_calls(fake):
    fake.service.jobs = [make_job("job-1", RUNNING, last_sequence=1)]
    fake.service.checkpoints = CHECKPOINTS
    fake.service.connections = [Connection(EVENTS[1:]), Connection(EVENTS[2:])]

    async def scenario():
        async with AsyncClient(fake.address, timeout=10, retry_policy=NO_WAIT) as client:
            job = client.job("job-1")
            assert isinstance(job, AsyncJobHandle) and job.id == "job-1"
            state = (await job.get()).state
            checkpoints = await job.checkpoints()
            final = await job.wait(timeout=30)
            replay = [event.sequence async for event in job.progress(after_sequence=2)]
            cancelled = await job.cancel()
            started = await client.start_training_job({"model_path": "/m", "train_data_path": "/d", "sft": {}})
            return state, checkpoints, final, replay, cancelled, started.id

    state, checkpoints, final, replay, cancelled, started = asyncio.run(scenario())
    assert (state, checkpoints, final.state, replay) == (RUNNING, CHECKPOINTS, SUCCEEDED, [3, 4])
    assert (cancelled.state, started) == (job_pb2.JOB_STATE_CANCELLED, "job-new")
    assert after_sequences(fake) == [1, 2]


def test_async_wait_past_its_timeout_raises(fake):
    fake.service.jobs = [make_job("job-1", RUNNING)]
    fake.service.connections = [Connection([], ending="hold")]

    async def wait():
        async with AsyncClient(fake.address, retry_policy=NO_WAIT) as client:
            await client.job("job-1").wait(timeout=0.5)

    with pytest.raises(DeadlineExceededError, match=r"did not end within 0\.5 s"):
        asyncio.run(wait())
    assert fake.service.stream_closed.wait(timeout=10)
