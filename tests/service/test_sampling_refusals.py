"""Generate and EvaluateModel refuse what they cannot do, with a reason, before the sampler is started."""

import json
import shutil

import grpc
import pytest
from fixed_device import device_profile
from google.rpc import error_details_pb2, status_pb2

from droidft.v1 import evaluation_pb2, job_pb2, sampling_pb2, service_pb2
from droidft_server.domain import states


def reason_of(error: grpc.RpcError) -> str:
    """The ErrorInfo reason; for INVALID_REQUEST, with the fields of the violations after a colon."""
    status = status_pb2.Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    info, violations = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    for detail in status.details:
        detail.Unpack(info) or detail.Unpack(violations)
    fields = ",".join(v.field for v in violations.field_violations)
    return f"{info.reason}:{fields}" if fields else info.reason


def refusal(call) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        list(call())
    return caught.value.code(), reason_of(caught.value), caught.value.details()


def generate(stub, **model):
    request = sampling_pb2.GenerateRequest(model=sampling_pb2.ModelSelection(**model), prompt="Hi")
    return lambda: stub.Generate(request)


def finished_job(stub, fake_runner, spec, tmp_path) -> job_pb2.TrainingJob:
    job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    fake_runner.wait_started(job.job_id)
    fake_runner.finish(job.job_id, states.SUCCEEDED)
    return job


def test_an_unknown_job_is_not_found(stub):
    code, reason, _ = refusal(generate(stub, job_id="nope"))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")
    code, reason, _ = refusal(lambda: [stub.ListEvaluations(evaluation_pb2.ListEvaluationsRequest(job_id="nope"))])
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")


def test_an_adapter_the_job_does_not_have_is_not_found(stub, fake_runner, spec, tmp_path):
    job = finished_job(stub, fake_runner, spec, tmp_path)
    for model in (
        {"adapter": sampling_pb2.ADAPTER_CHOICE_FINAL},
        {"adapter": sampling_pb2.ADAPTER_CHOICE_CHECKPOINT, "checkpoint_iteration": 7},
        {"adapter": sampling_pb2.ADAPTER_CHOICE_BEST},
    ):
        code, reason, message = refusal(generate(stub, job_id=job.job_id, **model))
        assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "ADAPTER_NOT_FOUND"), message
        assert job.job_id in message


def test_paths_outside_the_roots_are_refused(stub, spec, tmp_path):
    code, reason, _ = refusal(generate(stub, model_path="/etc"))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PATH_OUTSIDE_ROOTS")
    request = evaluation_pb2.EvaluateModelRequest(
        model=sampling_pb2.ModelSelection(model_path=spec.model_path), data_path="/etc/passwd"
    )
    code, reason, _ = refusal(lambda: stub.EvaluateModel(request))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PATH_OUTSIDE_ROOTS")


def test_an_adapter_without_a_job_and_side_by_side_without_an_adapter_are_invalid(stub, spec):
    code, reason, _ = refusal(generate(stub, model_path=spec.model_path, adapter=sampling_pb2.ADAPTER_CHOICE_FINAL))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST:model.adapter")
    request = sampling_pb2.GenerateRequest(
        model=sampling_pb2.ModelSelection(model_path=spec.model_path), prompt="Hi", side_by_side=True
    )
    code, reason, _ = refusal(lambda: stub.Generate(request))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST:side_by_side")


def test_a_job_without_a_test_split_has_nothing_to_evaluate_by_default(stub, fake_runner, spec, tmp_path):
    job = finished_job(stub, fake_runner, spec, tmp_path)
    request = evaluation_pb2.EvaluateModelRequest(
        model=sampling_pb2.ModelSelection(job_id=job.job_id, adapter=sampling_pb2.ADAPTER_CHOICE_NONE)
    )
    code, reason, _ = refusal(lambda: stub.EvaluateModel(request))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_EVALUATION_DATA")


def test_a_model_that_does_not_fit_next_to_a_running_job_is_refused(make_server, fake_runner, spec):
    memory = {"available": 16 * 2**30}
    server = make_server(fake_runner, device_profile=lambda: device_profile(memory["available"]))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            from droidft.v1 import service_pb2_grpc

            stub = service_pb2_grpc.TrainingServiceStub(channel)
            estimate = stub.EstimateResources(service_pb2.EstimateResourcesRequest(spec=spec)).estimate
            job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
            fake_runner.wait_started(job.job_id)
            memory["available"] = estimate.peak_memory_bytes + 1024  # the job fits; a sampler beside it does not
            code, reason, message = refusal(generate(stub, model_path=spec.model_path))
            assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "SAMPLER_MEMORY_SHORT")
            assert "1 running job" in message
    finally:
        server.stop(grace=0)


def test_a_final_evaluation_without_a_test_split_is_refused_at_create(stub, spec):
    spec.final_evaluation = True
    code, reason, message = refusal(lambda: [stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))])
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_EVALUATION_DATA")
    assert "spec.final_evaluation" in message


def test_evaluation_data_that_is_missing_or_a_directory_without_a_test_split_is_refused(stub, spec, tmp_path):
    def evaluate(data_path):
        request = evaluation_pb2.EvaluateModelRequest(
            model=sampling_pb2.ModelSelection(model_path=spec.model_path), data_path=str(data_path)
        )
        return lambda: stub.EvaluateModel(request)

    code, reason, _ = refusal(evaluate(tmp_path / "missing.jsonl"))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "DATASET_NOT_FOUND")
    code, reason, _ = refusal(evaluate(tmp_path))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_EVALUATION_DATA")


def test_a_model_mlx_lm_cannot_build_is_refused_on_its_field_before_the_sampler(stub, spec, tmp_path, fake_runner):
    broken = tmp_path / "no-intermediate-size"
    shutil.copytree(spec.model_path, broken)
    config = json.loads((broken / "config.json").read_text())
    del config["intermediate_size"]
    (broken / "config.json").write_text(json.dumps(config))
    job = finished_job(stub, fake_runner, spec, tmp_path)
    for model in ({"model_path": str(broken)}, {"job_id": job.job_id, "model_path": str(broken)}):
        code, reason, message = refusal(generate(stub, **model))
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "MODEL_UNLOADABLE"), message
        assert message.startswith("model.model_path: ") and "intermediate_size" in message
