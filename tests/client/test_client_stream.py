import asyncio

import pytest
from fake_training_service import NO_WAIT, Connection, make_job, rich_status, state_event, train_event
from google.rpc import code_pb2

from droidft import AsyncClient
from droidft.errors import NotFoundError, UnavailableError
from droidft.v1 import job_pb2

RUNNING, SUCCEEDED = job_pb2.JOB_STATE_RUNNING, job_pb2.JOB_STATE_SUCCEEDED
EVENTS = (
    [state_event(1, job_pb2.JOB_STATE_QUEUED, RUNNING)]
    + [train_event(i + 1, i) for i in range(1, 5)]
    + [state_event(6, RUNNING, SUCCEEDED)]
)


def after_sequences(fake) -> list[int]:
    return [request.after_sequence for request in fake.service.requests_of("StreamTrainingProgress")]


def test_stream_ends_after_the_terminal_event(fake, client):
    fake.service.connections = [Connection(EVENTS)]
    assert [e.sequence for e in client.stream_progress("job-1")] == [1, 2, 3, 4, 5, 6]


def test_stream_resumes_after_unavailable_and_after_an_early_end_without_duplicates(fake, client):
    fake.service.jobs = [make_job("job-1", RUNNING, last_sequence=4)]
    fake.service.connections = [
        Connection(EVENTS[:3], ending="unavailable"),
        Connection(EVENTS[1:4]),  # replays 2 and 3, then ends early
        Connection(EVENTS[4:]),
    ]
    events = list(client.stream_progress("job-1"))
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5, 6]
    assert events == EVENTS
    assert after_sequences(fake) == [0, 3, 4]


def test_stream_starts_after_the_given_sequence(fake, client):
    fake.service.connections = [Connection(EVENTS[3:])]
    assert [e.sequence for e in client.stream_progress("job-1", after_sequence=3)] == [4, 5, 6]
    assert after_sequences(fake) == [3]


def test_stream_of_a_finished_job_already_seen_ends_at_once(fake, client):
    fake.service.jobs = [make_job("job-1", SUCCEEDED, last_sequence=6)]
    fake.service.connections = [Connection([])]
    assert list(client.stream_progress("job-1", after_sequence=6)) == []


def test_stream_gives_up_after_the_retry_budget(fake, client):
    fake.service.connections = [Connection([], ending="unavailable")] * (NO_WAIT.max_attempts + 1)
    with pytest.raises(UnavailableError, match="connection reset"):
        list(client.stream_progress("job-1"))
    assert len(after_sequences(fake)) == NO_WAIT.max_attempts + 1


def test_new_events_renew_the_retry_budget(fake, client):
    drops = [Connection([event], ending="unavailable") for event in EVENTS[:-1]]
    fake.service.connections = [*drops, Connection(EVENTS[-1:])]
    assert [e.sequence for e in client.stream_progress("job-1")] == [1, 2, 3, 4, 5, 6]


def test_other_errors_are_raised_at_once(fake, client):
    fake.service.failures["StreamTrainingProgress"] = rich_status(
        code_pb2.NOT_FOUND, "no job x", reason="JOB_NOT_FOUND"
    )
    with pytest.raises(NotFoundError):
        list(client.stream_progress("x"))
    assert len(after_sequences(fake)) == 1


def test_async_stream_resumes_the_same_way(fake):
    fake.service.jobs = [make_job("job-1", RUNNING, last_sequence=4)]
    fake.service.connections = [
        Connection(EVENTS[:3], ending="unavailable"),
        Connection(EVENTS[1:4]),
        Connection(EVENTS[4:]),
    ]

    async def collect():
        async with AsyncClient(fake.address, retry_policy=NO_WAIT) as client:
            return [event async for event in client.stream_progress("job-1")]

    assert asyncio.run(collect()) == EVENTS
    assert after_sequences(fake) == [0, 3, 4]


def test_leaving_the_stream_early_closes_the_call(fake, client):
    fake.service.connections = [Connection(EVENTS[:2], ending="hold")]
    for _event in client.stream_progress("job-1"):
        break
    assert fake.service.stream_closed.wait(timeout=10)


def test_leaving_the_async_stream_early_closes_the_call(fake):
    fake.service.connections = [Connection(EVENTS[:2], ending="hold")]

    async def read_one():
        async with AsyncClient(fake.address) as client:
            stream = client.stream_progress("job-1")
            async for _event in stream:
                break
            await stream.aclose()

    asyncio.run(read_one())
    assert fake.service.stream_closed.wait(timeout=10)
