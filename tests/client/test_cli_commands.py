import io
import json
import os
import sys

import pytest
from fake_training_service import Connection, make_job, rich_status, state_event, train_event
from google.rpc import code_pb2

from droidft.cli import main
from droidft.cli.data import validate_data
from droidft.cli.main import build_parser
from droidft.cli.session import Session
from droidft.cli.watch import CLEAR_LINE, watch_job
from droidft.v1 import data_pb2, distributed_pb2, job_pb2, methods_pb2

QUEUED, RUNNING = job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_RUNNING
SUCCEEDED, FAILED, CANCELLED = job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED


@pytest.fixture
def droidft(fake, capsys):
    """Run `droidft --server <fake> ARGS...`; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--server", fake.address, *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def job_events(final_state: int) -> list:
    return [
        state_event(1, QUEUED, RUNNING),
        train_event(2, 2, reward_mean=0.25),
        train_event(3, 4),
        state_event(4, RUNNING, final_state, "finished"),
    ]


def test_methods_prints_methods_and_their_parameter_ranges(droidft):
    code, out, _ = droidft("methods")
    assert code == 0
    assert "sft     Supervised fine-tuning  yes" in out
    assert "gspo: GSPO  (not available on this server)" in out
    assert "gspo.epsilon  number  (0, 1]  0.0003" in out


def test_methods_json_can_be_filtered_to_one_method(droidft):
    code, out, _ = droidft("methods", "GSPO", "--json")
    assert code == 0
    assert [m["config_field"] for m in json.loads(out)["methods"]] == ["gspo"]


def test_jobs_list_shows_a_table_of_every_page(droidft, fake):
    fake.service.jobs = [make_job(f"job-{i}", iteration=i) for i in range(150)]
    code, out, _ = droidft("jobs", "list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["ID", "STATE", "METHOD", "MODEL", "PROGRESS", "AGE"]
    assert lines[8].split()[:5] == ["job-7", "running", "sft", "tiny-llama", "7/100"]
    assert len(lines) == 151


def test_jobs_list_filters_by_state_and_prints_json(droidft, fake):
    fake.service.jobs = [make_job("a", RUNNING), make_job("b", SUCCEEDED), make_job("c", FAILED)]
    code, out, _ = droidft("jobs", "list", "--state", "succeeded", "--state", "failed", "--json")
    assert code == 0
    assert [job["job_id"] for job in json.loads(out)] == ["b", "c"]
    assert list(fake.service.requests_of("ListTrainingJobs")[0].states) == [SUCCEEDED, FAILED]


def test_jobs_list_says_when_there_is_none(droidft):
    assert droidft("jobs", "list")[:2] == (0, "No jobs.\n")


def test_jobs_get_shows_details_or_json(droidft, fake):
    job = make_job("job-1", FAILED, iteration=3)
    job.error.reason, job.error.message = "TRAINING_ERROR", "loss became NaN"
    fake.service.jobs = [job]
    code, out, _ = droidft("jobs", "get", "job-1")
    assert code == 0
    assert "state:      failed" in out and "error:      TRAINING_ERROR: loss became NaN" in out
    code, out, _ = droidft("jobs", "get", "job-1", "--json")
    assert json.loads(out)["error"]["reason"] == "TRAINING_ERROR"


def test_jobs_cancel_prints_the_new_state(droidft, fake):
    fake.service.jobs = [make_job("job-1")]
    assert droidft("jobs", "cancel", "job-1")[:2] == (0, "Job job-1: cancelled\n")


def test_jobs_delete_says_what_it_freed(droidft, fake):
    fake.service.jobs = [make_job("job-1")]
    assert droidft("jobs", "delete", "job-1")[:2] == (
        0,
        "Deleted job job-1 (1,234 bytes of files freed on the server)\n",
    )
    assert fake.service.requests_of("DeleteTrainingJob")[0].job_id == "job-1"


def test_jobs_checkpoints_lists_saved_adapters(droidft, fake):
    fake.service.jobs = [make_job("job-1")]
    fake.service.checkpoints = [
        job_pb2.Checkpoint(iteration=2, path="/out/0000002/adapters.safetensors", size_bytes=2048, resumable=True),
        job_pb2.Checkpoint(iteration=4, path="/out/adapters.safetensors", size_bytes=2048, final=True),
    ]
    code, out, _ = droidft("jobs", "checkpoints", "job-1")
    assert code == 0
    assert out.splitlines() == [
        "ITERATION  SIZE     FINAL  RESUMABLE  PATH",
        "2          2.0 KiB         yes        /out/0000002/adapters.safetensors",
        "4          2.0 KiB  yes               /out/adapters.safetensors",
    ]
    fake.service.checkpoints[0].removed, fake.service.checkpoints[0].size_bytes = True, 0
    assert droidft("jobs", "checkpoints", "job-1")[1].splitlines()[1].split()[:2] == ["2", "removed"]


@pytest.mark.parametrize(
    "final_state, exit_code", [(SUCCEEDED, 0), (FAILED, 1), (CANCELLED, 2), (job_pb2.JOB_STATE_PAUSED, 3)]
)
def test_watch_prints_one_line_per_event_and_exits_with_the_outcome(droidft, fake, final_state, exit_code):
    fake.service.connections = [Connection(job_events(final_state))]
    code, out, _ = droidft("watch", "job-1")
    assert code == exit_code
    lines = out.splitlines()
    assert len(lines) == 4
    assert lines[0] == "state       queued -> running"
    assert lines[1].startswith("train       2/4   50%  ETA 1s  loss 1  reward 0.25")
    assert lines[3].startswith("state       running -> ")


def test_watch_after_resumes_from_that_event(droidft, fake):
    fake.service.connections = [Connection(job_events(SUCCEEDED)[2:])]
    code, out, _ = droidft("watch", "job-1", "--after", "2")
    assert (code, len(out.splitlines())) == (0, 2)
    assert fake.service.requests_of("StreamTrainingProgress")[0].after_sequence == 2


def test_watch_of_a_job_that_ended_before_after_reports_its_state(droidft, fake):
    fake.service.jobs = [make_job("job-1", CANCELLED, last_sequence=4)]
    fake.service.connections = [Connection([])]
    assert droidft("watch", "job-1", "--after", "4")[:2] == (2, "job job-1 cancelled\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_watch_on_a_terminal_redraws_one_progress_line_with_a_loss_sparkline(fake):
    fake.service.connections = [Connection(job_events(SUCCEEDED))]
    out = Terminal()
    session = Session(server=fake.address, out=out)
    try:
        assert watch_job(session, "job-1") == 0
    finally:
        session.close()
    text = out.getvalue()
    assert text.count("\n") == 3  # two state changes, and the finished bar
    assert CLEAR_LINE + "[############------------]  2/4   50%  ETA 1s  loss 1 ▁  reward 0.25" in text
    assert text.endswith("[########################]  4/4  100%  ETA 0s  loss 0.5 █▁\n")  # loss fell from 1


def test_train_builds_the_spec_from_flags(droidft, fake):
    code, out, _ = droidft(
        "train",
        "--model",
        "/m",
        "--data",
        "/d",
        "--val-data",
        "/v",
        "--method",
        "dr-grpo",
        "--iters",
        "3",
        "--batch-size",
        "2",
        "--learning-rate",
        "2e-5",
        "--ranks",
        "2",
        "--request-id",
        "r-1",
    )
    assert code == 0
    assert out.splitlines()[0] == "Created job job-new (dr_grpo, queued)"
    request = fake.service.requests_of("CreateTrainingJob")[0]
    assert request.request_id == "r-1" and not request.validate_only
    assert request.spec == job_pb2.TrainingJobSpec(
        model_path="/m",
        train_data_path="/d",
        val_data_path="/v",
        iterations=3,
        batch_size=2,
        learning_rate=2e-5,
        dr_grpo=methods_pb2.DrGrpoConfig(),
        distributed=distributed_pb2.DistributedConfig(ranks=2),
    )


def test_train_flags_override_the_spec_file(droidft, fake, tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(
        json.dumps(
            {
                "modelPath": "/m",
                "train_data_path": "/d",
                "iterations": 50,
                "gspo": {"epsilon": 0.001, "sparse_optimization": True},
            }
        )
    )
    code, out, _ = droidft("train", "--spec", str(spec_file), "--iters", "5", "--validate-only")
    assert (code, out) == (0, "The gspo job is valid; nothing was created.\n")
    request = fake.service.requests_of("CreateTrainingJob")[0]
    assert request.validate_only
    assert (request.spec.iterations, request.spec.gspo.epsilon, request.spec.gspo.sparse_optimization) == (
        5,
        0.001,
        True,
    )


def test_train_watch_follows_the_new_job(droidft, fake):
    fake.service.connections = [Connection(job_events(FAILED))]
    code, out, _ = droidft("train", "--model", "/m", "--data", "/d", "--method", "sft", "--watch")
    assert code == 1
    assert out.splitlines()[-1] == "state       running -> failed: finished"
    assert fake.service.requests_of("StreamTrainingProgress")[0].job_id == "job-new"


def test_train_without_required_settings_says_what_is_missing(droidft, fake):
    code, out, err = droidft("train", "--model", "/m")
    assert (code, out) == (3, "")
    assert err == "error: missing --data, --method (give the flag or set it in --config)\n"
    assert fake.service.requests == []


def test_rejected_request_prints_each_violation_without_traceback(droidft, fake):
    fake.service.failures["CreateTrainingJob"] = rich_status(
        code_pb2.INVALID_ARGUMENT,
        "invalid CreateTrainingJobRequest",
        violations=(("spec.iterations", "value must be greater than or equal to 1", "uint32.gte"),),
    )
    code, out, err = droidft("train", "--model", "/m", "--data", "/d", "--method", "sft", "--iters", "0")
    assert (code, out) == (3, "")
    assert err == (
        "error: INVALID_ARGUMENT: invalid CreateTrainingJobRequest\n"
        "  - spec.iterations: value must be greater than or equal to 1 [uint32.gte]\n"
    )


def test_missing_job_prints_the_reason(droidft):
    code, _, err = droidft("jobs", "get", "nope")
    assert code == 3
    assert err.startswith("error: NOT_FOUND: no job nope (JOB_NOT_FOUND)")
    assert "Traceback" not in err


def test_unreachable_server_prints_a_hint(capsys):
    code = main(["--server", "127.0.0.1:1", "jobs", "list"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("error: UNAVAILABLE") and "(is a droidft server listening on 127.0.0.1:1?)" in err


def test_unreadable_spec_file_is_an_error_not_a_traceback(droidft, tmp_path):
    code, _, err = droidft("train", "--spec", str(tmp_path / "missing.json"))
    assert code == 3 and err.startswith("error: No such file or directory")


def validation(valid: bool) -> data_pb2.ValidateDatasetResponse:
    return data_pb2.ValidateDatasetResponse(
        valid=valid,
        files=[
            data_pb2.DatasetFileReport(
                path="/d/train.jsonl",
                split="train",
                format="chat_messages",
                record_count=10,
                error_count=0 if valid else 2,
            )
        ],
        issues=[]
        if valid
        else [
            data_pb2.DatasetIssue(
                file="/d/train.jsonl",
                line=3,
                field_path="messages[1].role",
                code="unknown_enum_value",
                message="role must be system, user or assistant",
                severity=data_pb2.ISSUE_SEVERITY_ERROR,
            ),
            data_pb2.DatasetIssue(
                file="/d/train.jsonl",
                line=7,
                code="invalid_json",
                message="not JSON",
                severity=data_pb2.ISSUE_SEVERITY_ERROR,
            ),
        ],
        issue_counts={} if valid else {"unknown_enum_value": 1, "invalid_json": 4},
        issues_truncated=not valid,
    )


def test_data_validate_lists_issues_and_fails_on_invalid_data(droidft, fake):
    fake.service.validation = validation(valid=False)
    code, out, _ = droidft("data", "validate", "/d", "--method", "sft", "--max-issues", "2")
    assert code == 1
    assert (
        "/d/train.jsonl:3  error     messages[1].role  unknown_enum_value  role must be system, user or assistant"
        in out
    )
    assert "/d/train.jsonl:7  error     -                 invalid_json" in out
    assert "Issues by code: invalid_json 4, unknown_enum_value 1\n(2 of 5 issues listed" in out
    assert out.endswith("Data set is NOT valid.\n")
    request = fake.service.requests_of("ValidateDataset")[0]
    assert (request.path, request.method, request.max_issues) == ("/d", methods_pb2.TRAINING_METHOD_SFT, 2)


def test_data_keys_flags_reach_the_check_and_the_spec(droidft, fake):
    fake.service.validation = validation(valid=True)
    keys = ("--data-key", "prompt=question", "--data-key", "completion=answer")
    assert droidft("data", "validate", "/d", *keys)[0] == 0
    expected = {"prompt": "question", "completion": "answer"}
    assert dict(fake.service.requests_of("ValidateDataset")[0].data_keys.fields) == expected
    assert droidft("train", "--model", "/m", "--data", "/d", "--method", "sft", *keys)[0] == 0
    assert dict(fake.service.requests_of("CreateTrainingJob")[0].spec.data_keys.fields) == expected
    with pytest.raises(SystemExit):
        droidft("data", "validate", "/d", "--data-key", "prompt")


def test_data_validate_upload_sends_the_local_file(droidft, fake, tmp_path):
    fake.service.validation = validation(valid=True)
    data_file = tmp_path / "train.jsonl"
    data_file.write_text('{"text": "hi"}\n')
    code, out, _ = droidft("data", "validate", str(data_file), "--upload")
    assert (code, out.splitlines()[-1]) == (0, "Data set is valid.")
    assert fake.service.requests_of("ValidateDataset")[0].content == b'{"text": "hi"}\n'


def test_data_validate_on_a_terminal_shows_how_far_the_check_has_read(fake):
    fake.service.validation = validation(valid=True)
    out = Terminal()
    session = Session(server=fake.address, out=out)
    try:
        assert validate_data(build_parser().parse_args(["data", "validate", "/d", "--method", "sft"]), session) == 0
    finally:
        session.close()
    text = out.getvalue()
    assert CLEAR_LINE + "a.jsonl: 10 B of 20 B (50%), 1 records, 0 issues" in text
    assert text.endswith("Data set is valid.\n")
    request = fake.service.requests_of("StreamDatasetValidation")[0]
    assert (request.check.path, request.progress_interval_seconds) == ("/d", 0.5)


def test_data_sample_prints_jsonl_or_reports_the_written_file(droidft, fake):
    code, out, _ = droidft("data", "sample", "--format", "grpo", "-n", "2", "--seed", "3")
    assert (code, out) == (0, '{"text": "sample 0 seed 3"}\n{"text": "sample 1 seed 3"}\n')
    code, out, _ = droidft("data", "sample", "--format", "grpo", "-n", "5", "-o", "/srv/sample.jsonl")
    assert (code, out) == (0, "Wrote 5 grpo records to /srv/sample.jsonl (on the server).\n")
    assert fake.service.requests_of("GenerateSampleData")[-1].overwrite is False
    droidft("data", "sample", "--format", "grpo", "-o", "/srv/sample.jsonl", "--overwrite")
    assert fake.service.requests_of("GenerateSampleData")[-1].overwrite is True


def test_output_cut_short_by_the_reader_ends_quietly(fake, monkeypatch, capsys):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            return saved_stdout

    saved_stdout = os.dup(1)  # main points this descriptor at /dev/null, as a real closed pipe needs
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    try:
        assert main(["--server", fake.address, "methods"]) == 141
    finally:
        os.close(saved_stdout)
    assert capsys.readouterr().err == ""


def test_estimate_reports_the_prediction_for_the_spec_from_flags(droidft, fake):
    code, out, _ = droidft("estimate", "--model", "/m", "--data", "/d", "--method", "grpo", "--batch-size", "2")
    assert code == 0
    assert out.startswith("peak memory: 117.7 MiB of 8.0 GiB available on cpu: fits\n")
    spec = fake.service.requests_of("EstimateResources")[0].spec
    assert (spec.model_path, spec.batch_size, spec.WhichOneof("method")) == ("/m", 2, "grpo")


def test_estimate_exits_1_when_the_job_would_not_fit(droidft, fake):
    fake.service.estimate.fits = False
    code, out, _ = droidft("estimate", "--model", "/m", "--data", "/d", "--method", "sft", "--json")
    assert (code, json.loads(out)["device"]) == (1, "cpu")


def test_jobs_pause_and_resume(droidft, fake):
    fake.service.jobs = [make_job("job-1")]
    assert droidft("jobs", "pause", "job-1")[:2] == (0, "Job job-1: pausing\n")
    assert droidft("jobs", "resume", "job-1", "--from-iteration", "2")[:2] == (
        0,
        "Job job-1: queued, going on after iteration 2\n",
    )
    assert fake.service.requests_of("ResumeTrainingJob")[0].from_iteration == 2


def test_train_from_another_jobs_checkpoint(droidft, fake):
    args = ("train", "--model", "/m", "--data", "/d", "--method", "sft")
    assert droidft(*args, "--from-checkpoint", "job-1:40")[0] == 0
    assert droidft(*args, "--from-checkpoint", "job-2")[0] == 0
    first, second = (r.spec.from_checkpoint for r in fake.service.requests_of("CreateTrainingJob"))
    assert (first.job_id, first.iteration, second.job_id, second.iteration) == ("job-1", 40, "job-2", 0)
    with pytest.raises(SystemExit) as refused:  # argparse refuses the flag, with its usage
        droidft(*args, "--from-checkpoint", "job-1:last")
    assert refused.value.code == 2
