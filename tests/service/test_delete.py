"""DeleteTrainingJob: a finished job's row, events and files go; a job still queued or running stays."""

from pathlib import Path

import grpc
from test_contract import call_error, details

from droidft.v1 import service_pb2
from droidft_server.domain import states


def test_a_finished_job_is_deleted_with_its_files_and_a_running_one_is_refused(stub, spec, fake_runner):
    job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    fake_runner.wait_started(job.job_id)
    delete = service_pb2.DeleteTrainingJobRequest(job_id=job.job_id)
    refused = call_error(stub.DeleteTrainingJob, delete)
    info = details(refused)["ErrorInfo"]
    assert (refused.code(), info.reason, info.metadata["state"]) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_NOT_FINISHED",
        "RUNNING",
    )
    output = Path(job.output_dir)
    (output / "checkpoints").mkdir(parents=True)
    (output / "checkpoints" / "0000010_adapters.safetensors").write_bytes(b"\0" * 1000)
    (output / "adapters.safetensors").write_bytes(b"\0" * 500)
    fake_runner.finish(job.job_id, states.SUCCEEDED)

    answer = stub.DeleteTrainingJob(delete)
    assert (answer.job_id, answer.bytes_freed) == (job.job_id, 1500)
    assert not output.exists()
    gone = call_error(stub.GetTrainingJob, service_pb2.GetTrainingJobRequest(job_id=job.job_id))
    assert gone.code() == grpc.StatusCode.NOT_FOUND
    progress = service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)
    assert call_error(stub.StreamTrainingProgress, progress).code() == grpc.StatusCode.NOT_FOUND
    assert job.job_id not in {j.job_id for j in stub.ListTrainingJobs(service_pb2.ListTrainingJobsRequest()).jobs}
    assert call_error(stub.DeleteTrainingJob, delete).code() == grpc.StatusCode.NOT_FOUND
