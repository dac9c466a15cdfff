"""The Python client against a real server that really trains."""

import asyncio

import pytest

from droidft import AsyncClient, Client, DroidftError
from droidft.v1 import job_pb2
from droidft_server.app import DroidftServer, ServerConfig


@pytest.fixture(scope="module")
def server(tmp_path_factory, calibration_dir, roots):
    started = DroidftServer(
        ServerConfig(
            state_dir=tmp_path_factory.mktemp("state"), listen="127.0.0.1:0", calibration_dir=calibration_dir, **roots
        )
    )
    yield started
    started.stop(grace=0)


def spec(tiny_model, sft_data, **overrides):
    return {
        "modelPath": str(tiny_model),
        "trainDataPath": str(sft_data),
        "iterations": 6,
        "batchSize": 2,
        "learningRate": 1e-4,
        "maxSeqLength": 512,
        "reportEvery": 2,
        "sft": {},
        **overrides,
    }


def test_sync_client_trains_and_follows_progress_to_the_end(server, tiny_model, sft_data):
    with Client(f"127.0.0.1:{server.port}") as client:
        job = client.create_training_job(spec(tiny_model, sft_data), request_id="client-e2e")
        events = list(client.stream_progress(job.job_id))
        assert events[-1].state_change.state == job_pb2.JOB_STATE_SUCCEEDED
        assert [e.train_report.iteration for e in events if e.HasField("train_report")] == [2, 4, 6]
        assert client.create_training_job(spec(tiny_model, sft_data), request_id="client-e2e").job_id == job.job_id
        assert next(j.job_id for j in client.iter_training_jobs(page_size=1)) == job.job_id


def test_job_handle_waits_for_the_end_and_lists_the_checkpoints(server, tiny_model, sft_data):
    with Client(f"127.0.0.1:{server.port}") as client:
        job = client.start_training_job(spec(tiny_model, sft_data), request_id="handle-e2e")
        final = job.wait(timeout=240)
        assert (final.job_id, final.state) == (job.id, job_pb2.JOB_STATE_SUCCEEDED)
        assert job.checkpoints()[-1].final
        assert job.wait().last_sequence == final.last_sequence


def test_sync_client_raises_field_violations_from_the_server(server, tiny_model, sft_data):
    with Client(f"127.0.0.1:{server.port}") as client, pytest.raises(DroidftError) as caught:
        client.create_training_job(spec(tiny_model, sft_data, learningRate=0.5))
    assert [(v.field, v.reason) for v in caught.value.field_violations] == [("spec.learning_rate", "double.gt_lte")]
    assert "spec.learning_rate" in str(caught.value)


def test_async_client_streams_and_cancels(server, tiny_model, sft_data):
    async def scenario():
        async with AsyncClient(f"127.0.0.1:{server.port}") as client:
            job = await client.create_training_job(spec(tiny_model, sft_data, iterations=100000))
            seen = []
            async for event in client.stream_progress(job.job_id):
                seen.append(event)
                if event.HasField("train_report") and len(seen) < 100:
                    await client.cancel_training_job(job.job_id)
            return seen, await client.get_training_job(job.job_id)

    events, job = asyncio.run(scenario())
    assert events[-1].state_change.state == job_pb2.JOB_STATE_CANCELLED
    assert job.state == job_pb2.JOB_STATE_CANCELLED and job.adapter_path
