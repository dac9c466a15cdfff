"""A store that cannot write is never silent: creates answer UNAVAILABLE, health says NOT_SERVING, a
running job is stopped with a reason and its events are kept and written once the disk frees up;
a state directory that lost its database is refused at start, and a damaged one is reported plainly.

A full disk is made with SQLite's own limit (PRAGMA max_page_count), which fails writes exactly as
a full disk does ("database or disk is full").
"""

import subprocess
import sys

import grpc
import pytest
from fakes import FakeRunner
from grpc_health.v1 import health_pb2, health_pb2_grpc
from test_contract import call_error, details

from droidft.v1 import job_pb2, service_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer
from droidft_server.domain import states
from droidft_server.persistence.sqlite_store import StateDirError

REPORTS = 200


def _fill_disk(server: DroidftServer, full: bool) -> None:
    database = server._store._db  # fault injection: SQLite refuses to grow past this many pages
    pages = database.execute("PRAGMA page_count").fetchone()[0]
    database.execute(f"PRAGMA max_page_count = {pages if full else 2**30}")


def _health_changes(channel):
    return health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=60)


def test_a_full_disk_stops_the_job_with_a_reason_refuses_creates_and_loses_nothing(make_server, spec):
    runner = FakeRunner()
    server = make_server(runner)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = service_pb2_grpc.TrainingServiceStub(channel)
            health = _health_changes(channel)
            assert next(health).status == health_pb2.HealthCheckResponse.SERVING
            job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
            runner.wait_started(job.job_id)
            watcher = stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id))
            assert next(watcher).sequence == 1
            _fill_disk(server, full=True)
            for iteration in range(1, REPORTS + 1):  # more than the last page has room for
                runner.report(job.job_id, iteration, loss=1.0)
            assert job.job_id in runner.cancelled  # stopped: training on unrecorded would be worse
            assert next(health).status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.RpcError) as ended:
                list(watcher)
            assert (ended.value.code(), details(ended.value)["ErrorInfo"].reason) == (
                grpc.StatusCode.UNAVAILABLE,
                "STORAGE_UNAVAILABLE",
            )
            refused = call_error(stub.CreateTrainingJob, service_pb2.CreateTrainingJobRequest(spec=spec))
            assert (refused.code(), details(refused)["ErrorInfo"].reason) == (
                grpc.StatusCode.UNAVAILABLE,
                "STORAGE_UNAVAILABLE",
            )
            assert "disk is full" in refused.details()
            runner.finish(job.job_id, states.CANCELLED)  # the worker stops as asked
            shown = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id))
            assert (shown.state, shown.error.reason) == (job_pb2.JOB_STATE_FAILED, "STORAGE_UNAVAILABLE")

            _fill_disk(server, full=False)
            assert next(health).status == health_pb2.HealthCheckResponse.SERVING  # the retry wrote it all
            events = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)))
            assert [e.sequence for e in events] == list(range(1, len(events) + 1))
            reported = [e.train_report.iteration for e in events if e.HasField("train_report")]
            assert reported == list(range(1, REPORTS + 1))
            assert events[-1].state_change.error.reason == "STORAGE_UNAVAILABLE"
            stored = server._store.get(job.job_id)
            assert (stored.state, stored.last_sequence) == (job_pb2.JOB_STATE_FAILED, events[-1].sequence)
            assert stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec)).job_id
    finally:
        server.stop(grace=0)


def test_a_state_directory_whose_database_is_gone_or_empty_is_refused(make_server, tmp_path, spec):
    server = make_server()
    job = server.jobs.create(spec)
    server.stop(grace=0)
    (tmp_path / "state" / "jobs" / job.job_id).mkdir(parents=True, exist_ok=True)  # its worker's directory
    database = tmp_path / "state" / "droidft.sqlite3"
    for suffix in ("-wal", "-shm"):
        (tmp_path / "state" / f"droidft.sqlite3{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"")
    with pytest.raises(StateDirError, match=r"is empty, but .* holds 1 job directories"):
        make_server()
    database.unlink()
    with pytest.raises(StateDirError, match="is missing"):
        make_server()


def test_a_damaged_database_is_reported_without_a_traceback(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "droidft.sqlite3").write_bytes(b"this is not a database" * 100)
    refused = subprocess.run(
        [f"{sys.executable.rsplit('/', 1)[0]}/droidft-server", "serve", "--listen", "127.0.0.1:0",
         "--state-dir", str(state)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "cannot be opened" in refused.stderr and "Traceback" not in refused.stderr
