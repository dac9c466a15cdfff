"""One worker per job, ever: a worker dies with its server (kill -9) at once, not at its next report,
so a restarted server never trains beside a leftover worker."""

import os
import select
import signal
import time
from pathlib import Path

import pytest
from server_process import serve

from droidft import Client


def _serve(state: Path, roots: Path, *options: str):
    return serve("--state-dir", str(state), "--data-root", str(roots), "--model-root", str(roots), *options)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs Linux pidfds to wait for a process it did not start")
def test_kill_9_of_the_server_takes_its_worker_along_at_once(tmp_path, tiny_model, sft_data):
    roots = tmp_path.parent  # pytest's base temp dir: the tiny model and the data are below it
    server, target = _serve(tmp_path / "state", roots)
    try:
        with Client(target) as client:
            # Nothing to report for a long while: a worker that only noticed its server's death when it next
            # wrote to it would train on, unseen, for minutes.
            spec = {"model_path": str(tiny_model), "train_data_path": str(sft_data), "iterations": 100_000,
                    "batch_size": 2, "report_every": 100_000, "eval_every": 100_000, "checkpoint_every": 100_000,
                    "sft": {}}  # fmt: skip
            job = client.start_training_job(spec)
            # The adapter's log line is the worker's last word before its training loop.
            next(e for e in job.progress() if e.HasField("log") and e.log.message.startswith("sft: "))
        workers = [pid for pid in _children(server.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert workers, "the job's worker process"
        watched = [os.pidfd_open(pid) for pid in workers]
        server.send_signal(signal.SIGKILL)
        server.wait()
        # The job's worker, and the build check's (started by create). A pidfd turns readable when its process ends.
        deadline = time.monotonic() + 30
        while watched and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(watched, [], [], left)
            watched = [pidfd for pidfd in watched if pidfd not in ready]
        assert not watched, "a worker outlived its server"
    finally:
        if server.poll() is None:
            server.kill()
    again, target = _serve(tmp_path / "state", roots, "--on-restart", "fail")
    try:
        with Client(target) as client:
            assert client.get_training_job(job.id).error.reason == "SERVER_RESTARTED"
    finally:
        again.terminate()
        again.wait(timeout=60)
