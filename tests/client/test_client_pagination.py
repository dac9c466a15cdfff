import asyncio

from fake_training_service import make_job

from droidft import AsyncClient
from droidft.v1 import job_pb2

JOBS = [make_job(f"job-{i}", job_pb2.JOB_STATE_SUCCEEDED if i % 2 else job_pb2.JOB_STATE_RUNNING) for i in range(7)]


def test_iter_training_jobs_walks_every_page(fake, client):
    fake.service.jobs = JOBS
    assert [job.job_id for job in client.iter_training_jobs(page_size=3)] == [job.job_id for job in JOBS]
    tokens = [request.page_token for request in fake.service.requests_of("ListTrainingJobs")]
    assert tokens == ["", "3", "6"]


def test_iter_training_jobs_keeps_the_state_filter_on_every_page(fake, client):
    fake.service.jobs = JOBS
    jobs = list(client.iter_training_jobs(page_size=2, states=["succeeded"]))
    assert [job.job_id for job in jobs] == ["job-1", "job-3", "job-5"]
    requests = fake.service.requests_of("ListTrainingJobs")
    assert len(requests) == 2
    assert all(list(request.states) == [job_pb2.JOB_STATE_SUCCEEDED] for request in requests)


def test_async_iter_training_jobs_walks_every_page(fake):
    fake.service.jobs = JOBS

    async def collect():
        async with AsyncClient(fake.address) as client:
            return [job.job_id async for job in client.iter_training_jobs(page_size=4)]

    assert asyncio.run(collect()) == [job.job_id for job in JOBS]
