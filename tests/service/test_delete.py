"""DeleteTrainingJob: a finished job's row, events and files go; a job still queued or running stays."""

from pathlib import Path

import grpc
from test_contract import call_error, details

from droidft.v1 import progress_pb2, service_pb2
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


def test_list_checkpoints_marks_the_ones_whose_file_is_gone(stub, spec, fake_runner, tmp_path):
    job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    listener = fake_runner.wait_started(job.job_id)
    kept, gone = tmp_path / "0000004_adapters.safetensors", tmp_path / "0000002_adapters.safetensors"
    kept.write_bytes(b"\0" * 64)
    for iteration, path in ((2, gone), (4, kept)):
        saved = progress_pb2.CheckpointSaved(iteration=iteration, path=str(path))
        listener.on_event(job.job_id, progress_pb2.TrainingProgress(checkpoint_saved=saved))
    listed = stub.ListCheckpoints(service_pb2.ListCheckpointsRequest(job_id=job.job_id)).checkpoints
    assert [(c.iteration, c.removed, c.size_bytes) for c in listed] == [(2, True, 0), (4, False, 64)]
