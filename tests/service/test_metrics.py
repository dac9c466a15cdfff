"""--metrics-listen: Prometheus figures of calls, streams, jobs and the running jobs' speed and memory."""

import urllib.request

import grpc
import pytest
from fakes import FakeRunner

from droidft.v1 import progress_pb2, service_pb2, service_pb2_grpc


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        return response.read().decode()


def test_metrics_count_calls_by_code_and_show_jobs_streams_and_running_figures(make_server, spec):
    runner = FakeRunner()
    server = make_server(runner, metrics_listen="127.0.0.1:0")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = service_pb2_grpc.TrainingServiceStub(channel)
            job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
            queued = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
            report = progress_pb2.TrainReport(iteration=1, tokens_per_second=1234.5, peak_memory_bytes=2**20)
            runner.wait_started(job.job_id).on_event(job.job_id, progress_pb2.TrainingProgress(train_report=report))
            with pytest.raises(grpc.RpcError):
                stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id="no-such-job"))
            # A refused call is counted as its handler unwinds, which may be just after its caller has the answer.
            not_found = 'droidft_rpcs_total{code="NOT_FOUND",method="/droidft.v1.TrainingService/GetTrainingJob"} 1.0'
            scrapes = 0
            while not_found not in (text := _scrape(server.metrics_port)) and scrapes < 1000:
                scrapes += 1
    finally:
        server.stop(grace=0)
    assert not_found in text
    assert 'droidft_rpcs_total{code="OK",method="/droidft.v1.TrainingService/CreateTrainingJob"} 2.0' in text
    assert 'droidft_rpc_seconds_bucket{le="0.005",method="/droidft.v1.TrainingService/CreateTrainingJob"}' in text
    assert 'droidft_jobs{state="running"} 1.0' in text and 'droidft_jobs{state="queued"} 1.0' in text
    assert "droidft_queue_depth 1.0" in text and "droidft_open_streams 0.0" in text
    assert f'droidft_job_tokens_per_second{{job_id="{job.job_id}"}} 1234.5' in text
    assert f'droidft_job_peak_memory_bytes{{job_id="{job.job_id}"}} 1.048576e+06' in text
    assert queued.job_id not in text.split("droidft_job_tokens_per_second")[1]
