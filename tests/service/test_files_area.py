"""The files area and job artifacts without a server: uploads that conflict, resume or crash, and what a
download may reach."""

import hashlib
import os
from pathlib import Path

import pytest

from droidft.v1 import files_pb2
from droidft_server.domain.artifacts import artifact_file, stream_file
from droidft_server.domain.errors import DroidftError, Reason
from droidft_server.domain.file_roots import FileRoots
from droidft_server.domain.files import FileStore

DATA = b'{"text": "hello"}\n'


def start(upload_id="upload-0001", offset=0, name="a.jsonl", data=DATA):
    return files_pb2.UploadStart(
        upload_id=upload_id, name=name, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), offset=offset
    )


def reason(error: pytest.ExceptionInfo) -> str:
    return Reason.Name(error.value.reason)


def test_a_second_stream_on_an_upload_in_progress_is_refused(tmp_path):
    store = FileStore(tmp_path / "files")
    first = store.begin(start())
    with pytest.raises(DroidftError) as conflict:
        store.begin(start())
    assert reason(conflict) == "UPLOAD_CONFLICT" and conflict.value.kind.name == "ABORTED"
    first.write(DATA)
    assert first.finish().size_bytes == len(DATA)


def test_a_resume_with_another_file_under_the_same_id_is_refused_and_offset_zero_starts_over(tmp_path):
    store = FileStore(tmp_path / "files")
    cut = store.begin(start())
    cut.write(DATA[:5])
    cut.close()
    other = b"something else\n"
    with pytest.raises(DroidftError) as conflict:
        store.begin(start(data=other, offset=5))
    assert reason(conflict) == "UPLOAD_CONFLICT"
    assert store.status("upload-0001").received_bytes == 5
    again = store.begin(start(data=other))  # offset 0: the partial bytes are dropped
    again.write(other)
    uploaded = again.finish()
    assert store.path(uploaded.file_id).read_bytes() == other
    with pytest.raises(DroidftError) as gone:
        store.status("upload-0001")
    assert reason(gone) == "UPLOAD_NOT_FOUND"


def test_a_completion_cut_short_by_a_crash_leaves_no_file(tmp_path):
    root = tmp_path / "files"
    FileStore(root)
    (root / ".writing-f-0123").mkdir()
    (root / ".writing-f-0123" / "a.jsonl").write_bytes(DATA)
    store = FileStore(root)  # the server starting again
    assert store.list() == [] and not (root / ".writing-f-0123").exists()


def test_file_data_paths_resolve_to_uploaded_files_only(tmp_path):
    store = FileStore(tmp_path / "state" / "files")
    upload = store.begin(start())
    upload.write(DATA)
    uploaded = upload.finish()
    roots = FileRoots.of([tmp_path / "data"], [tmp_path], private=[tmp_path / "state"], uploads=store)
    assert roots.data_source("spec.train_data_path", uploaded.data_path) == store.path(uploaded.file_id)
    for unknown in ("file:f-" + "0" * 32, "file:../droidft.sqlite3", "file:"):
        with pytest.raises(DroidftError) as missing:
            roots.data_source("spec.train_data_path", unknown)
        assert reason(missing) == "FILE_NOT_FOUND", unknown
    # The files area itself stays out of reach by path.
    with pytest.raises(DroidftError) as private:
        roots.data_source("path", str(store.path(uploaded.file_id)))
    assert reason(private) == "PATH_OUTSIDE_ROOTS"


def test_artifacts_are_regular_files_inside_the_job_directory(tmp_path):
    job_dir = tmp_path / "jobs" / "job-1"
    (job_dir / "checkpoints" / "0000001").mkdir(parents=True)
    (job_dir / "checkpoints" / "0000001" / "adapters.safetensors").write_bytes(b"weights")
    os.symlink(job_dir / "checkpoints" / "0000001" / "adapters.safetensors", job_dir / "latest")
    os.mkfifo(job_dir / "pipe")
    assert artifact_file("job-1", job_dir, "latest").read_bytes() == b"weights"  # a link that stays inside
    with pytest.raises(DroidftError) as fifo:
        artifact_file("job-1", job_dir, "pipe")
    assert reason(fifo) == "ARTIFACT_NOT_FOUND"
    for outside in ("..", "../job-2/adapters.safetensors", "/etc/passwd", "checkpoints/../../.."):
        with pytest.raises(DroidftError) as escape:
            artifact_file("job-1", job_dir, outside)
        assert reason(escape) == "PATH_OUTSIDE_ROOTS", outside


def test_a_download_sends_the_file_as_it_was_when_the_call_started(tmp_path):
    log = tmp_path / "worker.log"
    log.write_bytes(b"a" * 10)
    messages = stream_file("job-1", "worker.log", log, 4, lambda: True)
    first = next(messages)
    with open(log, "ab") as growing:
        growing.write(b"b" * 10)
    data = first.data + b"".join(m.data for m in messages)
    assert first.info.size_bytes == 10 and first.info.offset == 4 and data == b"a" * 6
    assert first.info.sha256 == hashlib.sha256(b"a" * 10).hexdigest()
    with pytest.raises(DroidftError) as past_end:
        list(stream_file("job-1", "worker.log", Path(log), 21, lambda: True))
    assert past_end.value.kind.name == "OUT_OF_RANGE"
