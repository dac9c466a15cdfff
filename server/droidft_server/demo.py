"""`make demo`: build the tiny model and sample data, start a server on a free port, train an SFT job
while streaming its progress to the terminal, print where the adapter is, and stop the server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from droidft import Client
from droidft.v1 import job_pb2

from .tinymodel import build_tiny_model

DEMO_DIR = Path("var/demo")
SERVER_START_TIMEOUT_S = 120


def _sample_chat_data(path: Path) -> Path:
    records = [
        {"messages": [{"role": "user", "content": f"What is {a} + {b}?"}, {"role": "assistant", "content": f"{a + b}"}]}
        for a in range(1, 10)
        for b in range(1, 10)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _start_server(state_dir: Path, port_file: Path) -> tuple[subprocess.Popen, int]:
    port_file.unlink(missing_ok=True)
    log = open(DEMO_DIR / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "droidft_server.main", "--listen", "127.0.0.1:0", "--port-file", str(port_file),
         "--state-dir", str(state_dir)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    # The server writes the port file only once it serves; until then there is nothing to connect to.
    while not port_file.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start; see {DEMO_DIR / 'server.log'}")
        time.sleep(0.1)
    return server, int(port_file.read_text())


def _print_progress(client: Client, job_id: str) -> None:
    for event in client.stream_progress(job_id):
        kind = event.WhichOneof("event")
        if kind == "train_report":
            r = event.train_report
            print(f"  iter {r.iteration:>3}/{r.total_iterations}  loss {r.loss:.3f}  "
                  f"{r.iterations_per_second:.1f} it/s  {r.tokens_per_second:,.0f} tok/s  "
                  f"peak {r.peak_memory_bytes / 2**20:.0f} MiB")
        elif kind == "eval_report":
            print(f"  eval after {event.eval_report.iteration}: val loss {event.eval_report.val_loss:.3f}")
        elif kind == "checkpoint_saved":
            print(f"  checkpoint: {event.checkpoint_saved.path}")
        elif kind == "log":
            print(f"  {event.log.message}")
        elif kind == "state_change":
            print(f"  state: {job_pb2.JobState.Name(event.state_change.state)} ({event.state_change.message})")


def main() -> None:
    print("building the tiny model and sample data ...")
    model = build_tiny_model(DEMO_DIR / "tiny-model", seed=0)
    data = _sample_chat_data(DEMO_DIR / "data" / "train.jsonl")
    server, port = _start_server(DEMO_DIR / "state", DEMO_DIR / "server.port")
    print(f"server listening on 127.0.0.1:{port} (log: {DEMO_DIR / 'server.log'})")
    try:
        with Client(f"127.0.0.1:{port}") as client:
            spec = {
                "modelPath": str(model.resolve()), "trainDataPath": str(data.resolve()), "iterations": 30,
                "batchSize": 4, "learningRate": 1e-4, "maxSeqLength": 512, "reportEvery": 5,
                "checkpointEvery": 10, "sft": {"maskPrompt": True},
            }
            job = client.create_training_job(spec)
            print(f"job {job.job_id} created; streaming its progress:")
            _print_progress(client, job.job_id)
            job = client.get_training_job(job.job_id)
            if job.state != job_pb2.JOB_STATE_SUCCEEDED:
                raise SystemExit(f"job ended {job_pb2.JobState.Name(job.state)}: {job.error.message}")
            print(f"\ndone: adapter saved at {job.adapter_path}")
            print(f"load it with: mlx_lm.load({str(model.resolve())!r}, adapter_path={job.output_dir!r})")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
