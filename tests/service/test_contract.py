"""Every RPC through a real server on a loopback port: happy paths and each error code."""

from pathlib import Path

import grpc
import pytest
from fakes import FakeRunner
from fixed_device import device_profile
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from droidft.v1 import data_pb2, job_pb2, methods_pb2, progress_pb2, service_pb2
from droidft_server.app import DroidftServer, ServerConfig
from droidft_server.domain import states
from droidft_server.domain.datasets import tokens
from droidft_server.domain.errors import DroidftError, ErrorKind, Reason
from droidft_server.domain.jobs import JobManager
from droidft_server.persistence.sqlite_store import SqliteJobStore


def details(error: grpc.RpcError) -> dict:
    status = rpc_status.from_call(error)
    found = {}
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.PreconditionFailure):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.__name__] = message
    return found


def call_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        result = call(request)
        if not isinstance(result, (job_pb2.TrainingJob,)) and hasattr(result, "__iter__"):
            list(result)
    return caught.value


def test_list_training_methods_describes_every_method_with_rules_and_defaults(stub):
    methods = stub.ListTrainingMethods(service_pb2.ListTrainingMethodsRequest()).methods
    assert [m.config_field for m in methods] == [
        "sft", "grpo", "gspo", "dr_grpo", "dpo", "orpo", "cpo", "online_dpo", "xpo", "rlhf", "ppo"
    ]  # fmt: skip
    gspo = {p.path: p for p in methods[2].parameters}
    ratio = gspo["gspo.sparse_ratio"]
    assert (ratio.minimum, ratio.maximum, ratio.type) == (0.1, 0.9, methods_pb2.PARAMETER_TYPE_NUMBER)
    assert "entropy" in ratio.description
    assert gspo["gspo.epsilon"].default_value == "0.0003"
    assert (gspo["learning_rate"].minimum, gspo["learning_rate"].minimum_exclusive) == (0, True)
    assert gspo["learning_rate"].recommended_minimum == pytest.approx(1e-6)
    domain = {p.path: p for p in methods[3].parameters}["dr_grpo.domain"]
    assert "DOMAIN_MEDICAL" in domain.allowed_values


def test_invalid_spec_answers_invalid_argument_with_every_field_violation(stub, spec):
    spec.learning_rate = 1.0
    spec.batch_size = 2000
    error = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = details(error)
    violations = {v.field: v.reason for v in found["BadRequest"].field_violations}
    assert violations == {"spec.learning_rate": "double.gt_lte", "spec.batch_size": "uint32.gte_lte"}
    assert found["ErrorInfo"].domain == "droidft"


def test_cross_field_rules_are_enforced(stub, spec):
    spec.patience = 3
    spec.ClearField("sft")
    spec.gspo.sparse_ratio = 0.5
    error = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec))
    violations = {v.field: v.reason for v in details(error)["BadRequest"].field_violations}
    assert violations == {
        "spec": "spec.patience_needs_early_stop",
        "spec.gspo": "gspo.sparse_ratio_needs_sparse_optimization",
    }


def test_missing_method_is_a_field_violation(stub, spec):
    spec.ClearField("sft")
    error = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in details(error)["BadRequest"].field_violations] == ["spec.method"]


def test_early_stop_without_validation_data_is_refused(stub, spec):
    spec.early_stop = True
    error = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in details(error)["BadRequest"].field_violations] == ["spec.early_stop"]


def test_missing_model_is_a_failed_precondition(stub, spec, tmp_path):
    spec.model_path = str(tmp_path / "nowhere")
    error = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(error)["ErrorInfo"].reason == "MODEL_NOT_FOUND"


def test_unavailable_method_is_unimplemented_never_run_as_sft(spec, tmp_path):
    runner = FakeRunner()
    jobs = JobManager(SqliteJobStore(tmp_path / "db.sqlite3"), runner, tmp_path / "jobs", available_methods={"sft"})
    spec.ClearField("sft")
    spec.orpo.beta = 0.2
    with pytest.raises(DroidftError) as caught:
        jobs.create(spec)
    assert (caught.value.kind, caught.value.reason_name) == (ErrorKind.UNIMPLEMENTED, "METHOD_NOT_AVAILABLE")
    assert runner.started == {}


def test_invalid_data_is_refused_before_training_with_the_first_issues(stub, spec, fake_runner, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n{oops\n')
    spec.train_data_path = str(bad)
    error = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    found = details(error)
    assert found["ErrorInfo"].reason == "DATASET_INVALID"
    [violation] = found["PreconditionFailure"].violations
    assert violation.subject == f"{bad}:2" and violation.type == "dataset_invalid_json"
    assert fake_runner.started == {}


def test_create_get_list_and_idempotent_retry(stub, spec, fake_runner):
    first = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, request_id="req-1"))
    retry = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, request_id="req-1"))
    assert retry.job_id == first.job_id
    assert list(fake_runner.started) == [first.job_id]
    other = spec.__class__()
    other.CopyFrom(spec)
    other.iterations = 7
    error = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=other, request_id="req-1"))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    got = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=first.job_id))
    assert got.state == states.RUNNING and got.method == methods_pb2.TRAINING_METHOD_SFT
    listed = stub.ListTrainingJobs(service_pb2.ListTrainingJobsRequest()).jobs
    assert [j.job_id for j in listed] == [first.job_id]


def test_validate_only_creates_nothing(stub, spec, fake_runner):
    answer = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True))
    assert answer.job_id == "" and answer.metrics.total_iterations == 5
    assert stub.ListTrainingJobs(service_pb2.ListTrainingJobsRequest()).jobs == []
    assert fake_runner.started == {}


def test_a_job_keeps_its_data_as_create_checked_it_and_its_run_gets_it(stub, spec, fake_runner, sft_data):
    folder = sft_data.parent / "data"
    folder.mkdir()
    train = folder / "train.jsonl"
    train.write_bytes(sft_data.read_bytes())
    (folder / "valid.jsonl").write_text("\n".join(sft_data.read_text().splitlines()[:5]) + "\n")
    spec.train_data_path = str(folder)
    checked = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True))
    job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))

    assert checked.data == job.data
    data = job.data
    assert (data.train.path, data.train.split, data.train.format) == (str(train), "train", "chat_messages")
    assert (data.train.record_count, data.train_records_used) == (18, 18)
    assert (data.valid.path, data.valid.format, data.valid.record_count, data.valid_records_used) == (
        str(folder / "valid.jsonl"), "chat_messages", 5, 5,
    )  # fmt: skip
    assert data.train.token_statistics.max > 0
    fake_runner.wait_started(job.job_id)
    assert fake_runner.data[job.job_id] == data
    assert stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id)).data == data


def test_jobs_wait_queued_while_the_device_is_busy_and_pages_walk_all(stub, spec, fake_runner):
    ids = [stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec)).job_id for _ in range(5)]
    assert list(fake_runner.started) == ids[:1]
    queued = stub.ListTrainingJobs(service_pb2.ListTrainingJobsRequest(states=[job_pb2.JOB_STATE_QUEUED])).jobs
    assert sorted(j.job_id for j in queued) == sorted(ids[1:])
    seen, token = [], ""
    while True:
        page = stub.ListTrainingJobs(service_pb2.ListTrainingJobsRequest(page_size=2, page_token=token))
        seen += [j.job_id for j in page.jobs]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids))
    fake_runner.finish(ids[0])
    assert list(fake_runner.started) == ids[:2]


def test_bad_page_token_is_invalid_argument(stub):
    error = call_error(stub.ListTrainingJobs, service_pb2.ListTrainingJobsRequest(page_token="!!"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(error)["BadRequest"].field_violations[0].field == "page_token"


def test_unknown_job_is_not_found_on_every_job_rpc(stub):
    for call, request in [
        (stub.GetTrainingJob, service_pb2.GetTrainingJobRequest(job_id="nope")),
        (stub.CancelTrainingJob, service_pb2.CancelTrainingJobRequest(job_id="nope")),
        (stub.ListCheckpoints, service_pb2.ListCheckpointsRequest(job_id="nope")),
        (stub.StreamTrainingProgress, service_pb2.StreamTrainingProgressRequest(job_id="nope")),
    ]:
        error = call_error(call, request)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert details(error)["ErrorInfo"].reason == "JOB_NOT_FOUND"


def test_cancel_queued_then_finished_job(stub, spec, fake_runner):
    running = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec)).job_id
    queued = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec)).job_id
    assert stub.CancelTrainingJob(service_pb2.CancelTrainingJobRequest(job_id=queued)).state == states.CANCELLED
    assert stub.CancelTrainingJob(service_pb2.CancelTrainingJobRequest(job_id=running)).state == states.RUNNING
    assert fake_runner.cancelled == [running]
    fake_runner.finish(running, states.CANCELLED, adapter_path="a.safetensors")
    error = call_error(stub.CancelTrainingJob, service_pb2.CancelTrainingJobRequest(job_id=running))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(error)["ErrorInfo"].reason == "JOB_ALREADY_FINISHED"


def test_stream_replays_then_follows_live_events_and_ends_after_terminal(stub, spec, fake_runner):
    job_id = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec)).job_id
    fake_runner.report(job_id, 1, 2.5)
    stream = stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job_id))
    first = [next(stream) for _ in range(3)]
    assert [e.WhichOneof("event") for e in first] == ["state_change", "state_change", "train_report"]
    fake_runner.report(job_id, 2, 2.0)
    fake_runner.finish(job_id, adapter_path="x")
    rest = list(stream)
    assert [e.WhichOneof("event") for e in rest] == ["train_report", "state_change"]
    sequences = [e.sequence for e in first + rest]
    assert sequences == list(range(1, len(sequences) + 1))
    late = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job_id, after_sequence=3)))
    assert [e.sequence for e in late] == sequences[3:]
    job = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job_id))
    assert job.state == states.SUCCEEDED and job.metrics.train_loss == 2.0 and job.last_sequence == sequences[-1]


def test_failed_job_carries_its_error(stub, spec, fake_runner):
    job_id = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec)).job_id
    fake_runner.finish(job_id, states.FAILED, error_reason=Reason.TRAINING_ERROR, message="boom")
    job = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job_id))
    assert (job.state, job.error.reason, job.error.message) == (states.FAILED, "TRAINING_ERROR", "boom")
    last = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job_id)))[-1]
    assert last.state_change.error.reason == "TRAINING_ERROR"


def test_list_checkpoints_from_events(stub, spec, fake_runner, tmp_path):
    job_id = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec)).job_id
    adapter = tmp_path / "adapters.safetensors"
    adapter.write_bytes(b"12345")
    saved = progress_pb2.TrainingProgress(
        checkpoint_saved=progress_pb2.CheckpointSaved(iteration=5, path=str(adapter), final=True)
    )
    fake_runner.started[job_id].on_event(job_id, saved)
    checkpoints = stub.ListCheckpoints(service_pb2.ListCheckpointsRequest(job_id=job_id)).checkpoints
    assert [(c.iteration, c.size_bytes, c.final) for c in checkpoints] == [(5, 5, True)]


def test_validate_dataset_reports_issues_with_line_numbers(stub, tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"instruction": "a", "response": "b"}\n{"instruction": "a"}\n')
    report = stub.ValidateDataset(
        data_pb2.ValidateDatasetRequest(path=str(data), method=methods_pb2.TRAINING_METHOD_SFT)
    )
    assert not report.valid
    assert [(i.line, i.code) for i in report.issues] == [(2, "missing_field")]
    assert report.files[0].format == "instruction_response" and report.files[0].record_count == 2


def test_generate_sample_data_inline_and_to_a_file(stub, tmp_path):
    inline = stub.GenerateSampleData(data_pb2.GenerateSampleDataRequest(format="gspo", count=3, seed=1))
    assert inline.record_count == 3 and len(inline.content.splitlines()) == 3
    path = tmp_path / "out.jsonl"
    written = stub.GenerateSampleData(
        data_pb2.GenerateSampleDataRequest(format="preference", count=4, output_path=str(path))
    )
    assert written.path == str(path) and len(path.read_text().splitlines()) == 4
    checked = stub.ValidateDataset(data_pb2.ValidateDatasetRequest(content=inline.content, format="gspo"))
    assert checked.valid
    error = call_error(stub.GenerateSampleData, data_pb2.GenerateSampleDataRequest(format="nonsense"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(error)["BadRequest"].field_violations[0].field == "format"


def test_estimate_resources_breaks_down_the_peak(stub, spec):
    estimate = stub.EstimateResources(service_pb2.EstimateResourcesRequest(spec=spec)).estimate
    parts = estimate.breakdown
    total = sum(getattr(parts, f.name) for f in parts.DESCRIPTOR.fields)
    assert estimate.peak_memory_bytes == total > 0
    assert estimate.fits and estimate.trainable_parameters > 0 and estimate.seconds_per_iteration > 0
    assert estimate.total_seconds == pytest.approx(estimate.seconds_per_iteration * spec.iterations)


def test_create_and_the_estimate_read_the_models_tokenizer_once_each(stub, spec, monkeypatch):
    """The model check, the data's token counts and the chat template's tokens share one load: a large
    vocabulary's tokenizer.json takes about half a second to read."""
    read = []

    def counted(path):
        read.append(path)
        return reading(path)

    reading = tokens.read_tokenizer_file
    monkeypatch.setattr(tokens, "read_tokenizer_file", counted)
    stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True))
    assert read == [Path(spec.model_path) / "tokenizer.json"]
    stub.EstimateResources(service_pb2.EstimateResourcesRequest(spec=spec))
    assert len(read) == 2


def test_a_job_that_cannot_fit_is_refused_or_warned_about(tmp_path, spec, roots, build_check):
    def tiny_device():
        return device_profile(available_memory_bytes=2**20)

    refusing = DroidftServer(
        ServerConfig(
            state_dir=tmp_path / "a", listen="127.0.0.1:0", device_profile=tiny_device, build_check=build_check, **roots
        ),
        runner=FakeRunner(),
    )
    try:
        with pytest.raises(DroidftError) as caught:
            refusing.jobs.create(spec)
        assert (caught.value.kind, caught.value.reason_name) == (ErrorKind.RESOURCE_EXHAUSTED, "INSUFFICIENT_MEMORY")
        assert "does not fit" in caught.value.message
    finally:
        refusing.stop(grace=0)
    warning = DroidftServer(
        ServerConfig(
            state_dir=tmp_path / "b",
            listen="127.0.0.1:0",
            device_profile=tiny_device,
            build_check=build_check,
            **roots,
            refuse_when_memory_short=False,
        ),
        runner=FakeRunner(),
    )
    try:
        job = warning.jobs.create(spec)
        first_log = next(e.log for e in warning.jobs.events_after(job.job_id) if e.HasField("log"))
        assert "does not fit" in first_log.message and first_log.level == progress_pb2.LOG_LEVEL_WARNING
    finally:
        warning.stop(grace=0)


def test_stream_dataset_validation_reports_progress_then_the_result(stub, tmp_path):
    data = tmp_path / "big.jsonl"
    line = b'{"instruction": "add 2 and 3", "response": "5"}\n'
    data.write_bytes(b"".join(line.replace(b"2", str(i).encode()) for i in range(40_000)))
    messages = list(
        stub.StreamDatasetValidation(
            data_pb2.StreamDatasetValidationRequest(
                check=data_pb2.ValidateDatasetRequest(path=str(data)), progress_interval_seconds=0.1
            )
        )
    )
    progress, final = messages[:-1], messages[-1]
    assert progress and not any(m.HasField("result") for m in progress)
    first = progress[0]
    assert first.file == str(data) and 0 < first.bytes_read < first.total_bytes == data.stat().st_size
    assert 0 < first.records_read < 40_000
    assert final.result.valid and final.records_read == 40_000 and final.bytes_read == final.total_bytes
    assert final.result.files[0].record_count == 40_000


def test_a_retry_is_answered_before_the_preflight_runs_again(stub, spec, sft_data):
    first = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, request_id="retry-me"))
    sft_data.unlink()  # a fresh check would now fail with DATASET_NOT_FOUND
    retry = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, request_id="retry-me"))
    assert retry.job_id == first.job_id


def test_inline_sample_data_beyond_64_mib_is_refused_with_a_hint(stub):
    error = call_error(
        stub.GenerateSampleData, data_pb2.GenerateSampleDataRequest(format="chat_messages", count=1_000_000)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = details(error)["BadRequest"].field_violations
    assert violation.field == "count" and "output_path" in violation.description
