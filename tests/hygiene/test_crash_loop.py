"""A job survives its server: killed (-9) five times at random iterations and stopped once (SIGTERM) during one
job, the server each time started again on the same state, the job ends SUCCEEDED with every iteration trained,
the database intact and the event log numbered 1..N with none missing or repeated. An iteration trained again
after a kill (it came after the last checkpoint) reports the very same loss: resume is exact."""

import random
import signal
import sqlite3
from collections import defaultdict

from server_process import serve

from droidft import Client
from droidft.v1 import job_pb2

ITERATIONS = 24
KILLS = 5


def test_a_job_survives_five_kill_9s_and_a_sigterm_of_its_server(tmp_path, tiny_model, sft_data):
    roots, state = str(tmp_path.parent), tmp_path / "state"
    options = ("--state-dir", str(state), "--data-root", roots, "--model-root", roots)
    spec = {"model_path": str(tiny_model), "train_data_path": str(sft_data), "iterations": ITERATIONS,
            "batch_size": 2, "report_every": 1, "checkpoint_every": 3, "seed": 3, "adapter": {"dropout": 0.1},
            "sft": {}}  # fmt: skip
    # After which reported iteration each server goes: five kill -9s, then a SIGTERM.
    stops = [(signal.SIGKILL, i) for i in sorted(random.Random(0).sample(range(2, ITERATIONS - 8), KILLS))]
    stops.append((signal.SIGTERM, ITERATIONS - 6))  # early enough that the stop lands before the last iteration
    job_id = ""
    for stop_signal, iteration in stops:
        server, target = serve(*options)
        try:
            with Client(target) as client:
                job_id = job_id or client.create_training_job(spec).job_id
                # Reports of iterations before the last stop are replayed first; this round's come after them.
                next(e for e in client.job(job_id).progress() if e.train_report.iteration >= iteration)
            server.send_signal(stop_signal)
            assert server.wait(timeout=60) == (0 if stop_signal == signal.SIGTERM else -signal.SIGKILL)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()

    server, target = serve(*options)
    try:
        with Client(target) as client:
            job = client.job(job_id)
            final = job.wait(timeout=300)
            events = list(job.progress())
    finally:
        server.terminate()
        server.wait(timeout=60)

    assert final.state == job_pb2.JOB_STATE_SUCCEEDED and final.metrics.iteration == ITERATIONS
    assert [e.sequence for e in events] == list(range(1, final.last_sequence + 1))
    losses = defaultdict(set)
    for event in events:
        if event.HasField("train_report"):
            losses[event.train_report.iteration].add(event.train_report.loss)
    assert sorted(losses) == list(range(1, ITERATIONS + 1))
    assert all(len(seen) == 1 for seen in losses.values()), {i: s for i, s in losses.items() if len(s) > 1}
    messages = [e.state_change.message for e in events if e.HasField("state_change")]
    assert sum("the server stopped while the job was running" in m for m in messages) == KILLS
    sigterm = "the server stopped; at its next start it goes on from its checkpoint"
    assert any(m.startswith(sigterm) for m in messages), messages
    with sqlite3.connect(state / "droidft.sqlite3") as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
