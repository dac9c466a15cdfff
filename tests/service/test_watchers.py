"""Watchers cost a coroutine, not a thread: hundreds of progress streams all get every event while
unary calls and health checks go on, and past --max-streams a new stream is refused at once.

The full load (2,000 watchers during real training, with latency and throughput figures) is the
benchmark `python -m bench.watchers`; this is its shortened form.
"""

import asyncio

import grpc
import pytest
from fakes import FakeRunner
from grpc_health.v1 import health_pb2, health_pb2_grpc

from droidft.v1 import job_pb2, service_pb2, service_pb2_grpc
from droidft_server.domain import states

WATCHERS = 300
REPORTS = 20


async def _watch(stub, job_id: str, first_seen: asyncio.Event, counter: list[int]) -> list[int]:
    sequences = []
    async for event in stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job_id)):
        sequences.append(event.sequence)
        if len(sequences) == 1:
            counter[0] += 1
            if counter[0] == WATCHERS:
                first_seen.set()
    return sequences


def test_hundreds_of_watchers_get_every_event_while_unary_calls_and_health_go_on(make_server, spec):
    runner = FakeRunner()
    server = make_server(runner, rpc_threads=4)
    try:
        asyncio.run(_watched_job(server, runner, spec))
    finally:
        server.stop(grace=0)


async def _watched_job(server, runner, spec):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = service_pb2_grpc.TrainingServiceStub(channel)
        job = await stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
        runner.wait_started(job.job_id)
        first_seen, counter = asyncio.Event(), [0]
        watchers = [asyncio.create_task(_watch(stub, job.job_id, first_seen, counter)) for _ in range(WATCHERS)]
        await asyncio.wait_for(first_seen.wait(), 60)
        # With every watcher open (and 4 RPC threads), unary calls and health checks are still answered.
        health = health_pb2_grpc.HealthStub(channel)
        calls = [
            stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id), timeout=30) for _ in range(16)
        ]
        assert {reply.job_id for reply in await asyncio.gather(*calls)} == {job.job_id}
        assert (await health.Check(health_pb2.HealthCheckRequest(), timeout=30)).status == 1
        for iteration in range(1, REPORTS + 1):
            runner.report(job.job_id, iteration, loss=1.0 / iteration)
        runner.finish(job.job_id, states.SUCCEEDED)
        received = await asyncio.wait_for(asyncio.gather(*watchers), 120)
        final = await stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id))
        assert final.state == job_pb2.JOB_STATE_SUCCEEDED
        expected = list(range(1, final.last_sequence + 1))
        assert all(sequences == expected for sequences in received)


def test_past_max_streams_a_new_stream_is_refused_and_a_closed_one_frees_its_place(make_server, spec):
    runner = FakeRunner()
    server = make_server(runner, max_streams=5)
    try:
        asyncio.run(_five_streams_then_one_more(server, runner, spec))
    finally:
        server.stop(grace=0)


async def _five_streams_then_one_more(server, runner, spec):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = service_pb2_grpc.TrainingServiceStub(channel)
        job = await stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
        request = service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)
        streams = [stub.StreamTrainingProgress(request) for _ in range(5)]
        for stream in streams:
            await stream.read()  # the first event: this stream is open on the server
        refused = stub.StreamTrainingProgress(request)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await refused.read()
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max-streams" in caught.value.details()
        health = health_pb2_grpc.HealthStub(channel)
        assert (await health.Check(health_pb2.HealthCheckRequest(), timeout=30)).status == 1
        streams[0].cancel()
        # The server counts the cancelled stream out when its coroutine ends; then there is room again.
        assert await asyncio.to_thread(server.open_streams.wait_for, lambda open_now: open_now < 5, 30)
        retry = stub.StreamTrainingProgress(request)
        assert (await retry.read()).sequence == 1
        for stream in [*streams[1:], retry]:
            stream.cancel()
