"""Requests reach only the files under the server's roots: data roots, model roots, never the state directory."""

import json
import os
import shutil

import grpc
import pytest
from fakes import FakeRunner
from fixed_device import device_profile
from test_contract import details

from droidft.v1 import data_pb2, job_pb2, service_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig

RECORD = {"messages": [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "5"}]}


@pytest.fixture()
def tree(tmp_path, tiny_model):
    """root/{data,models,state} served with data root root/data and model root root/models; outside/ beside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    for directory in (root / "data", root / "models", outside):
        directory.mkdir(parents=True)
    shutil.copytree(tiny_model, root / "models" / "tiny")
    (root / "data" / "train.jsonl").write_text(json.dumps(RECORD) + "\n")
    (outside / "secret.jsonl").write_text(json.dumps({"text": "not yours"}) + "\n")
    return root, outside


@pytest.fixture()
def served(tree):
    root, _ = tree
    config = ServerConfig(
        state_dir=root / "state",
        listen="127.0.0.1:0",
        device_profile=device_profile,
        data_roots=[root / "data", root],
        model_roots=[root / "models"],
    )
    server = DroidftServer(config, runner=FakeRunner())
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield service_pb2_grpc.TrainingServiceStub(channel)
    server.stop(grace=0)


def _refusal(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        reply = call(request, timeout=30)
        if hasattr(reply, "__next__"):
            list(reply)
    return caught.value


def _denied(error: grpc.RpcError) -> str:
    info = details(error)["ErrorInfo"]
    assert (error.code(), info.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PATH_OUTSIDE_ROOTS")
    return info.metadata["path"]


def _spec(model: str, data: str) -> job_pb2.TrainingJobSpec:
    spec = job_pb2.TrainingJobSpec(model_path=model, train_data_path=data, iterations=1, batch_size=1)
    spec.sft.SetInParent()
    return spec


def test_every_path_taking_rpc_refuses_a_path_outside_the_roots_and_names_it_resolved(served, tree):
    root, outside = tree
    secret = str(outside / "secret.jsonl")
    model = str(root / "models" / "tiny")
    calls = [
        (served.ValidateDataset, data_pb2.ValidateDatasetRequest(path=secret)),
        (
            served.StreamDatasetValidation,
            data_pb2.StreamDatasetValidationRequest(check=data_pb2.ValidateDatasetRequest(path=secret)),
        ),
        (served.EstimateResources, service_pb2.EstimateResourcesRequest(spec=_spec(model, secret))),
        (served.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=_spec(model, secret))),
        (served.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=_spec(str(outside), "train.jsonl"))),
        (served.GenerateSampleData, data_pb2.GenerateSampleDataRequest(format="text", output_path=secret)),
    ]
    for call, request in calls:
        error = _refusal(call, request)
        path = _denied(error)
        assert path.startswith(str(outside)) and path in error.details()
        assert "not yours" not in error.details()
    assert (outside / "secret.jsonl").read_text() == json.dumps({"text": "not yours"}) + "\n"


def test_dot_dot_and_symlinks_are_resolved_before_the_check(served, tree):
    root, outside = tree
    (root / "data" / "escape").symlink_to(outside)
    for path in ("../../outside/secret.jsonl", str(root / "data" / "escape" / "secret.jsonl"), "escape"):
        error = _refusal(served.ValidateDataset, data_pb2.ValidateDatasetRequest(path=path))
        assert _denied(error) in (str(outside / "secret.jsonl"), str(outside))


def test_outside_the_roots_the_answer_is_the_same_whether_the_file_exists_or_not(served, tree):
    _, outside = tree
    answers = set()
    for name in ("secret.jsonl", "no-such-file.jsonl"):
        error = _refusal(served.ValidateDataset, data_pb2.ValidateDatasetRequest(path=str(outside / name)))
        answers.add((error.code(), error.details().replace(name, "NAME")))
    assert len(answers) == 1


def test_the_state_directory_is_unreachable_even_under_a_root(served, tree):
    root, _ = tree
    database = root / "state" / "droidft.sqlite3"
    before = database.read_bytes()
    for overwrite in (False, True):
        request = data_pb2.GenerateSampleDataRequest(
            format="text", count=2, output_path=str(database), overwrite=overwrite
        )
        error = _refusal(served.GenerateSampleData, request)
        assert _denied(error) == str(database) and "state directory" in error.details()
    assert _denied(_refusal(served.ValidateDataset, data_pb2.ValidateDatasetRequest(path="../state/droidft.sqlite3")))
    assert database.read_bytes() == before


def test_relative_paths_start_at_the_first_root_of_their_kind_and_the_job_keeps_them_resolved(served, tree):
    root, _ = tree
    report = served.ValidateDataset(data_pb2.ValidateDatasetRequest(path="train.jsonl"))
    assert report.valid and report.files[0].path == str(root / "data" / "train.jsonl")
    job = served.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=_spec("x/../tiny", "train.jsonl")))
    assert (job.spec.model_path, job.spec.train_data_path) == (
        str(root / "models" / "tiny"),
        str(root / "data" / "train.jsonl"),
    )


def test_models_are_read_only_under_the_model_roots(served, tree):
    root, outside = tree
    shutil.copytree(root / "models" / "tiny", root / "data" / "tiny")
    spec = _spec(str(root / "data" / "tiny"), "train.jsonl")
    assert _denied(_refusal(served.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec)))
    (root / "models" / "tiny" / "tokenizer.json").unlink()
    (root / "models" / "tiny" / "tokenizer.json").symlink_to(outside / "secret.jsonl")
    spec = _spec(str(root / "models" / "tiny"), "train.jsonl")
    path = _denied(_refusal(served.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec)))
    assert path == str(outside / "secret.jsonl")


def test_a_data_directory_whose_split_file_links_outside_is_refused(served, tree):
    root, outside = tree
    (root / "data" / "set").mkdir()
    (root / "data" / "set" / "train.jsonl").symlink_to(outside / "secret.jsonl")
    assert _denied(_refusal(served.ValidateDataset, data_pb2.ValidateDatasetRequest(path="set")))


def test_only_regular_files_are_read(served, tree):
    root, _ = tree
    os.mkfifo(root / "data" / "pipe.jsonl")
    error = _refusal(served.ValidateDataset, data_pb2.ValidateDatasetRequest(path="pipe.jsonl"))
    info = details(error)["ErrorInfo"]
    assert (error.code(), info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_A_REGULAR_FILE")
    assert str(root / "data" / "pipe.jsonl") in error.details()


def test_generated_data_never_replaces_a_file_unless_asked_and_makes_directories_only_inside_a_root(served, tree):
    root, _ = tree
    target = root / "data" / "new" / "deeper" / "sample.jsonl"
    request = data_pb2.GenerateSampleDataRequest(format="text", count=3, output_path="new/deeper/sample.jsonl")
    assert served.GenerateSampleData(request).path == str(target)
    first = target.read_bytes()
    error = _refusal(served.GenerateSampleData, request)
    assert (error.code(), details(error)["ErrorInfo"].reason) == (grpc.StatusCode.ALREADY_EXISTS, "OUTPUT_EXISTS")
    assert "overwrite" in error.details() and target.read_bytes() == first
    request.overwrite, request.count = True, 5
    assert served.GenerateSampleData(request).record_count == 5
    assert len(target.read_text().splitlines()) == 5
