"""Upload, download and export against a real server that really trains: what a client on another machine,
with only the API, does to train on its own data and take the model home."""

import asyncio
import hashlib
import json
import os

import grpc
import pytest

from droidft import Client, DroidftError
from droidft.transfers import DownloadChecksumError, file_sha256
from droidft.v1 import files_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig

MAX_UPLOAD_BYTES = 1 << 20
CLIENT_RECORDS = [
    {"messages": [{"role": "user", "content": f"What is {a} + {b}?"}, {"role": "assistant", "content": f"{a + b}"}]}
    for a in range(1, 7)
    for b in range(1, 4)
]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def server(state_dir, calibration_dir, roots):
    started = DroidftServer(
        ServerConfig(
            state_dir=state_dir,
            listen="127.0.0.1:0",
            calibration_dir=calibration_dir,
            max_upload_bytes=MAX_UPLOAD_BYTES,
            **roots,
        )
    )
    yield started
    started.stop(grace=0)


@pytest.fixture(scope="module")
def client(server):
    with Client(f"127.0.0.1:{server.port}") as connected:
        yield connected


@pytest.fixture(scope="module")
def local_data(tmp_path_factory):
    """Training data that lies only on the client's side: outside every data root of the server."""
    path = tmp_path_factory.mktemp("client-side") / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CLIENT_RECORDS))
    return path


@pytest.fixture(scope="module")
def trained(client, tiny_model, local_data):
    """A job trained for 2 iterations on an uploaded file, with a checkpoint after the first."""
    uploaded = client.upload_file(local_data)
    job = client.start_training_job(
        {
            "modelPath": str(tiny_model),
            "trainDataPath": uploaded.data_path,
            "iterations": 2,
            "batchSize": 2,
            "learningRate": 1e-4,
            "adapter": {"scale": 1000},  # a large update in two iterations, so the adapter visibly changes outputs
            "maxSeqLength": 512,
            "checkpointEvery": 1,
            "sft": {},
        }
    )
    finished = job.wait(timeout=300)
    assert finished.error.message == ""
    return uploaded, job, finished


def _reason(error: pytest.ExceptionInfo) -> tuple:
    return error.value.code, error.value.reason


def test_an_uploaded_file_keeps_its_checksum_and_a_job_trains_on_it(client, trained, local_data):
    uploaded, _, finished = trained
    assert uploaded.sha256 == file_sha256(local_data)
    assert uploaded.size_bytes == local_data.stat().st_size
    assert uploaded.data_path == f"file:{uploaded.file_id}"
    assert finished.state == 3  # SUCCEEDED
    assert finished.metrics.iteration == 2
    assert finished.data.train.record_count == 18
    assert uploaded.file_id in [f.file_id for f in client.list_files().files]
    # The same data path validates and estimates like any server path.
    assert client.validate_dataset(uploaded.data_path, method="sft").valid
    assert list(client.stream_dataset_validation(uploaded.data_path, method="sft"))[-1].result.valid
    spec = {"modelPath": finished.spec.model_path, "trainDataPath": uploaded.data_path, "sft": {}}
    assert client.estimate_resources(spec).estimate.peak_memory_bytes > 0


def test_the_adapter_downloads_byte_identical(trained, tmp_path):
    _, job, finished = trained
    local = job.download("adapters.safetensors", tmp_path / "adapters.safetensors")
    with open(finished.adapter_path, "rb") as on_server:
        assert local.read_bytes() == on_server.read()
    assert not (tmp_path / "adapters.safetensors.partial").exists()
    # An absolute path inside the job's directory (as ListCheckpoints gives it) works too, and so do logs and events.
    checkpoint = job.checkpoints()[0]
    assert job.download(checkpoint.path, tmp_path / "c.safetensors").stat().st_size == checkpoint.size_bytes
    assert job.download("worker.log", tmp_path / "worker.log").stat().st_size > 0
    events = [json.loads(line) for line in job.download("events.jsonl", tmp_path / "e.jsonl").read_text().splitlines()]
    assert any("trainReport" in event for event in events)


def test_an_interrupted_download_resumes_from_its_partial_file(trained, tmp_path):
    _, job, finished = trained
    with open(finished.adapter_path, "rb") as adapter:
        whole = adapter.read()
    destination = tmp_path / "adapters.safetensors"
    (tmp_path / "adapters.safetensors.partial").write_bytes(whole[: len(whole) // 3])
    assert job.download("adapters.safetensors", destination).read_bytes() == whole
    # A partial file that is not a prefix of the server's fails the check and is dropped, never renamed into place.
    (tmp_path / "bad.partial").write_bytes(b"x" * (len(whole) // 2))
    with pytest.raises(DownloadChecksumError):
        job.download("adapters.safetensors", tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.partial").exists()
    assert job.download("adapters.safetensors", tmp_path / "bad").read_bytes() == whole


def test_an_interrupted_upload_resumes_where_the_server_stopped(server, state_dir, client, tmp_path):
    data = os.urandom(300_000)
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    start = files_pb2.UploadStart(
        upload_id="resume-test-1", name="data.jsonl", size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    stub = service_pb2_grpc.TrainingServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    half = [files_pb2.UploadFileRequest(start=start), files_pb2.UploadFileRequest(chunk=data[:120_000])]
    with pytest.raises(grpc.RpcError) as cut:
        stub.UploadFile(iter(half))
    assert (
        cut.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        and "resume it from offset 120000" in cut.value.details()
    )
    assert client.get_upload_status("resume-test-1").received_bytes == 120_000
    # A stream that claims another offset is refused and changes nothing.
    wrong = files_pb2.UploadStart()
    wrong.CopyFrom(start)
    wrong.offset = 5
    with pytest.raises(DroidftError) as refused:
        client.upload_file(files_pb2.UploadFileRequest(start=wrong))
    assert refused.value.reason == "UPLOAD_INCOMPLETE" and refused.value.metadata["received_bytes"] == "120000"
    uploaded = client.upload_file(path, upload_id="resume-test-1")
    assert uploaded.sha256 == hashlib.sha256(data).hexdigest()
    stored = state_dir / "files" / uploaded.file_id / uploaded.name
    assert stored.read_bytes() == data
    with pytest.raises(DroidftError) as gone:
        client.get_upload_status("resume-test-1")
    assert gone.value.reason == "UPLOAD_NOT_FOUND"
    assert client.delete_file(uploaded.file_id).bytes_freed == len(data)
    assert not stored.exists()


def _greedy_tokens(model, tokenizer, prompt: str, count: int = 24) -> list[int]:
    from mlx_lm.generate import stream_generate

    return [response.token for response in stream_generate(model, tokenizer, prompt, max_tokens=count)]


def test_the_exported_model_generates_what_base_and_adapter_and_generate_do(trained, tiny_model, tmp_path):
    from mlx_lm import load

    _, job, finished = trained
    stages = []
    exported = job.export(tmp_path / "model", on_progress=lambda p: stages.append(p.stage))
    assert stages == ["loading", "fusing", "saving"]
    assert exported.path == f"exports/{exported.export_id}" and exported.export_id.startswith("final-")
    local = {f.name for f in (tmp_path / "model").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= local
    assert all(file_sha256(tmp_path / "model" / f.path.split("/")[-1]) == f.sha256 for f in exported.files)
    prompt = "What is 3 + 4?"
    fused_model, fused_tokenizer = load(str(tmp_path / "model"))
    base_model, base_tokenizer = load(str(tiny_model), adapter_path=os.path.dirname(finished.adapter_path))
    fused = _greedy_tokens(fused_model, fused_tokenizer, prompt)
    assert fused == _greedy_tokens(base_model, base_tokenizer, prompt)
    # And what the service's Generate samples from base + adapter, greedily, token for token.
    served = [token for chunk in job.generate(prompt=prompt, max_tokens=24) for token in chunk.token_ids]
    assert served == fused
    plain_model, plain_tokenizer = load(str(tiny_model))
    assert fused != _greedy_tokens(plain_model, plain_tokenizer, prompt), "the adapter changed nothing to compare"
    # The same request again is answered from the export already made.
    assert job.export().reused


def test_a_checkpoint_exports_quantised_and_loads(trained, tmp_path):
    from mlx_lm import load

    _, job, _ = trained
    exported = job.export(tmp_path / "q4", iteration=1, quantize_bits=4, quantize_group_size=32)
    assert exported.export_id.startswith("iteration-0000001-") and exported.export_id.endswith("-q4g32")
    config = json.loads((tmp_path / "q4" / "config.json").read_text())
    assert config["quantization"]["bits"] == 4 and config["quantization"]["group_size"] == 32
    model, tokenizer = load(str(tmp_path / "q4"))
    assert len(_greedy_tokens(model, tokenizer, "What is 1 + 1?", count=4)) == 4


def test_gguf_is_written_for_a_llama_model(trained):
    _, job, _ = trained
    exported = job.export(gguf=True)
    gguf = [f for f in exported.files if f.path.endswith("model.gguf")]
    assert gguf and gguf[0].size_bytes > 0


def test_bad_requests_get_a_clear_status_and_leave_nothing_behind(server, client, trained, state_dir, tmp_path):
    _, job, finished = trained
    exports = (
        sorted(os.listdir(os.path.join(finished.output_dir, "exports")))
        if os.path.isdir(os.path.join(finished.output_dir, "exports"))
        else []
    )
    files_before = [f.file_id for f in client.list_files().files]
    partial_uploads = sorted(os.listdir(state_dir / "files" / "uploads"))

    def refused(call, *args, **kwargs):
        with pytest.raises(DroidftError) as error:
            result = call(*args, **kwargs)
            if hasattr(result, "__next__"):
                list(result)
        return error.value.code.name, error.value.reason

    assert refused(client.download, "no-such-job", "adapters.safetensors", tmp_path / "x") == (
        "NOT_FOUND",
        "JOB_NOT_FOUND",
    )
    assert refused(client.export_model, "no-such-job") == ("NOT_FOUND", "JOB_NOT_FOUND")
    assert refused(job.export, iteration=7) == ("NOT_FOUND", "CHECKPOINT_NOT_FOUND")
    assert refused(job.export, quantize_bits=4, gguf=True) == ("FAILED_PRECONDITION", "EXPORT_UNSUPPORTED")
    assert refused(job.export, dequantize=True) == ("FAILED_PRECONDITION", "EXPORT_UNSUPPORTED")
    assert refused(job.export, quantize_group_size=32)[1] == "INVALID_REQUEST"
    assert refused(job.export, quantize_bits=3)[1] == "INVALID_REQUEST"
    # Paths that lead out of the job's directory, however they are written.
    outside = tmp_path / "secret.txt"
    outside.write_text("not the job's")
    os.symlink(outside, os.path.join(finished.output_dir, "escape"))
    for path in ("../../droidft.sqlite3", str(outside), "escape", "checkpoints/../../"):
        assert refused(job.download, path, tmp_path / "y") == ("PERMISSION_DENIED", "PATH_OUTSIDE_ROOTS"), path
    assert refused(job.download, "no-such-file", tmp_path / "y") == ("NOT_FOUND", "ARTIFACT_NOT_FOUND")
    assert refused(job.download, "checkpoints", tmp_path / "y") == ("NOT_FOUND", "ARTIFACT_NOT_FOUND")
    assert not (tmp_path / "y").exists() and not (tmp_path / "y.partial").exists()
    # Uploads: over the limit, and bytes that do not match their checksum.
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * (MAX_UPLOAD_BYTES + 1))
    assert refused(client.upload_file, big) == ("RESOURCE_EXHAUSTED", "FILE_TOO_LARGE")
    data = b"hello\n"
    start = files_pb2.UploadStart(upload_id="bad-checksum", name="a.jsonl", size_bytes=len(data), sha256="0" * 64)
    stub = service_pb2_grpc.TrainingServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    with pytest.raises(grpc.RpcError) as mismatch:
        stub.UploadFile(iter([files_pb2.UploadFileRequest(start=start), files_pb2.UploadFileRequest(chunk=data)]))
    assert mismatch.value.code() == grpc.StatusCode.DATA_LOSS
    assert refused(client.get_upload_status, "bad-checksum") == ("NOT_FOUND", "UPLOAD_NOT_FOUND")
    assert refused(client.delete_file, "f-" + "0" * 32) == ("NOT_FOUND", "FILE_NOT_FOUND")
    assert refused(client.validate_dataset, "file:f-" + "0" * 32) == ("NOT_FOUND", "FILE_NOT_FOUND")
    assert [f.file_id for f in client.list_files().files] == files_before
    leftovers = [p for p in os.listdir(state_dir / "files") if p not in files_before and p != "uploads"]
    assert leftovers == [] and sorted(os.listdir(state_dir / "files" / "uploads")) == partial_uploads
    assert sorted(os.listdir(os.path.join(finished.output_dir, "exports"))) == exports


def test_the_cli_uploads_lists_downloads_exports_and_deletes(server, trained, local_data, tmp_path, capsys):
    from droidft.cli import main

    _, job, finished = trained

    def droidft(*argv):
        code = main(["--server", f"127.0.0.1:{server.port}", *argv])
        out = capsys.readouterr().out
        assert code == 0, out
        return out

    uploaded = json.loads(droidft("upload", str(local_data), "--name", "cli.jsonl", "--json"))
    assert uploaded["name"] == "cli.jsonl" and uploaded["sha256"] == file_sha256(local_data)
    assert uploaded["file_id"] in droidft("files", "list")
    destination = tmp_path / "adapter.safetensors"
    assert "checksum verified" in droidft("download", job.id, "adapters.safetensors", "-o", str(destination))
    with open(finished.adapter_path, "rb") as adapter:
        assert destination.read_bytes() == adapter.read()
    out = droidft("export", job.id, "-o", str(tmp_path / "model"))
    assert "Exported final-" in out and (tmp_path / "model" / "model.safetensors").is_file()
    assert "Deleted" in droidft("files", "delete", uploaded["file_id"])
    assert uploaded["file_id"] not in droidft("files", "list")


def test_each_upload_message_is_checked_against_the_contract(server):
    from droidft.errors import from_rpc_error

    stub = service_pb2_grpc.TrainingServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))

    def refusal(*messages):
        with pytest.raises(grpc.RpcError) as error:
            stub.UploadFile(iter(messages))
        return from_rpc_error(error.value)

    start = files_pb2.UploadStart(upload_id="x", name="../a.jsonl", size_bytes=1, sha256="0" * 64)
    bad_start = refusal(files_pb2.UploadFileRequest(start=start))
    assert bad_start.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in bad_start.field_violations} == {"start.upload_id", "start.name"}
    chunk_first = refusal(files_pb2.UploadFileRequest(chunk=b"abc"))
    assert chunk_first.reason == "INVALID_REQUEST" and "first message must carry start" in str(chunk_first)
    assert refusal().reason == "INVALID_REQUEST"


def test_the_async_client_uploads_downloads_and_exports(server, trained, local_data, tmp_path):
    from droidft import AsyncClient

    _, job, finished = trained

    async def run():
        async with AsyncClient(f"127.0.0.1:{server.port}") as client:
            uploaded = await client.upload_file(local_data, name="async.jsonl")
            assert uploaded.sha256 == file_sha256(local_data)
            handle = client.job(job.id)
            written = await handle.download("adapters.safetensors", tmp_path / "a.safetensors")
            exported = await handle.export()
            await client.delete_file(uploaded.file_id)
            return written, exported

    written, exported = asyncio.run(run())
    with open(finished.adapter_path, "rb") as adapter:
        assert written.read_bytes() == adapter.read()
    assert exported.export_id.startswith("final-") and exported.files


def test_an_abandoned_export_stops_its_worker_and_leaves_nothing(trained):
    from pathlib import Path

    from droidft.v1 import export_pb2
    from droidft_server.domain.export import plan_export
    from droidft_server.supervisor.export import run_export

    _, _, finished = trained
    exports = Path(finished.output_dir) / "exports"
    request = export_pb2.ExportModelRequest(job_id=finished.job_id, quantize_bits=8)
    export_id, plan = plan_export(finished, request)
    updates = run_export(finished.job_id, Path(finished.output_dir), export_id, plan, lambda: True)
    assert next(updates).progress.stage == "loading"
    updates.close()  # what the servicer does when the caller cancels: the worker is killed, its directory removed
    assert not (exports / export_id).exists()
    assert [p.name for p in exports.iterdir() if p.name.startswith(".writing-")] == []


def test_more_bytes_than_announced_or_a_full_disk_are_refused_and_resumable(server, client, monkeypatch):
    import errno

    from droidft.errors import from_rpc_error
    from droidft_server.domain import files

    stub = service_pb2_grpc.TrainingServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    start = files_pb2.UploadStart(upload_id="too-many-bytes", name="a.jsonl", size_bytes=4, sha256="0" * 64)
    with pytest.raises(grpc.RpcError) as error:
        stub.UploadFile(iter([files_pb2.UploadFileRequest(start=start), files_pb2.UploadFileRequest(chunk=b"12345")]))
    too_many = from_rpc_error(error.value)
    assert too_many.reason == "INVALID_REQUEST" and too_many.field_violations[0].field == "chunk"

    def disk_full(self, chunk):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.Upload, "write", disk_full)
    start = files_pb2.UploadStart(upload_id="disk-is-full", name="a.jsonl", size_bytes=4, sha256="0" * 64)
    with pytest.raises(grpc.RpcError) as error:
        stub.UploadFile(iter([files_pb2.UploadFileRequest(start=start), files_pb2.UploadFileRequest(chunk=b"1234")]))
    full = from_rpc_error(error.value)
    assert full.code == grpc.StatusCode.UNAVAILABLE and full.reason == "STORAGE_UNAVAILABLE"
    assert client.get_upload_status("disk-is-full").received_bytes == 0  # resumable, nothing half-kept as a file


@pytest.mark.slow  # ~25 s: a quantised base model, a job of its own and a GGUF export
def test_an_adapter_of_a_quantised_base_exports_de_quantised_with_gguf(client, tiny_model, local_data, tmp_path):
    from mlx_lm import load
    from mlx_lm.convert import convert

    quantised = tmp_path / "tiny-q4"  # under the model roots (pytest's base temp dir)
    convert(str(tiny_model), mlx_path=str(quantised), quantize=True, q_group_size=32, q_bits=4)
    uploaded = client.upload_file(local_data)
    job = client.start_training_job(
        {
            "modelPath": str(quantised),
            "trainDataPath": uploaded.data_path,
            "iterations": 2,
            "batchSize": 2,
            "maxSeqLength": 512,
            "sft": {},
        }
    )
    assert job.wait(timeout=300).state == 3  # SUCCEEDED
    exported = job.export(tmp_path / "model", dequantize=True, gguf=True)
    assert exported.export_id.endswith("-dequantized-gguf")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert "quantization" not in config and (tmp_path / "model" / "model.gguf").stat().st_size > 0
    model, tokenizer = load(str(tmp_path / "model"))
    assert len(_greedy_tokens(model, tokenizer, "What is 2 + 2?", count=4)) == 4
