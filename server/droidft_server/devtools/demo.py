"""`droidft-server demo` (`make demo`): build the tiny model, start a server on a free port (and its web
console on another), then drive it with the `droidft` CLI exactly as a user would: sample data, validate
it, train an SFT job while streaming its progress to the terminal, list the job and its checkpoints. In a
terminal the server then keeps serving the console until Ctrl-C; otherwise it stops."""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from droidft import Client
from droidft.cli.main import main as droidft_cli

from .tiny_model import build_tiny_model

DEMO_DIR = Path("var/demo").resolve()
SERVER_START_TIMEOUT_S = 120
SPEC = {
    "maxSeqLength": 512,
    "batchSize": 4,
    "learningRate": 1e-4,
    "reportEvery": 3,
    "evalEvery": 10,
    "checkpointEvery": 10,
    "seed": 0,
    "sft": {"maskPrompt": True},
}


def _start_server(
    state_dir: Path, port_file: Path, http_port_file: Path, data_root: Path, model_root: Path
) -> tuple[subprocess.Popen, int, int]:
    port_file.unlink(missing_ok=True)
    http_port_file.unlink(missing_ok=True)
    log = open(DEMO_DIR / "server.log", "w")  # noqa: SIM115 (the server process writes it until the demo ends)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "droidft_server.main",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--port-file",
            str(port_file),
            "--http-listen",
            "127.0.0.1:0",
            "--http-port-file",
            str(http_port_file),
            "--state-dir",
            str(state_dir),
            "--data-root",
            str(data_root),
            "--model-root",
            str(model_root),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    # The server writes the port file only once it serves; until then there is nothing to connect to.
    while not (port_file.exists() and http_port_file.exists()):
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start; see {DEMO_DIR / 'server.log'}")
        time.sleep(0.1)
    return server, int(port_file.read_text()), int(http_port_file.read_text())


def _droidft(server: str, *args: str) -> int:
    print(f"\n$ droidft {shlex.join(args)}", flush=True)
    code = droidft_cli(["--server", server, *args])
    if code not in (0, 1) or (code == 1 and args[0] == "train"):
        raise SystemExit(f"`droidft {args[0]}` failed with exit code {code}")
    return code


def main() -> None:
    print("building the tiny model (random weights, local tokenizer) ...")
    model = build_tiny_model(DEMO_DIR / "tiny-model", seed=0)
    data_dir = DEMO_DIR / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    spec_file = DEMO_DIR / "spec.json"
    spec_file.write_text(json.dumps(SPEC, indent=2))
    server_process, port, http_port = _start_server(
        DEMO_DIR / "state", DEMO_DIR / "server.port", DEMO_DIR / "http.port", data_dir, model
    )
    server = f"127.0.0.1:{port}"
    # The link fills in the demo's model and data, so the console can train at once.
    console = f"http://127.0.0.1:{http_port}/?" + urlencode({"model": str(model), "data": str(data_dir)})
    print(f"server listening on {server} (state: {DEMO_DIR / 'state'}, log: {DEMO_DIR / 'server.log'})")
    print(f"web console: {console}")
    try:
        _droidft(
            server,
            "data",
            "sample",
            "--format",
            "chat_messages",
            "-n",
            "200",
            "--seed",
            "0",
            "--overwrite",
            "-o",
            str(data_dir / "train.jsonl"),
        )
        _droidft(
            server,
            "data",
            "sample",
            "--format",
            "chat_messages",
            "-n",
            "24",
            "--seed",
            "1",
            "--overwrite",
            "-o",
            str(data_dir / "valid.jsonl"),
        )
        _droidft(server, "data", "validate", str(data_dir), "--method", "sft", "--model", str(model))
        _droidft(
            server,
            "train",
            "--model",
            str(model),
            "--data",
            str(data_dir),
            "--method",
            "sft",
            "--iters",
            "30",
            "--spec",
            str(spec_file),
            "--watch",
        )
        _droidft(server, "jobs", "list")
        with Client(server) as client:
            job = client.list_training_jobs(page_size=1).jobs[0]
        print(f"\nadapter: {job.adapter_path}")
        print(f"load it with: mlx_lm.load({str(model)!r}, adapter_path={job.output_dir!r})")
        if sys.stdin.isatty():
            print(f"\nthe server keeps serving the web console at {console}\npress Ctrl-C to stop it")
            with contextlib.suppress(KeyboardInterrupt):
                server_process.wait()
    finally:
        server_process.terminate()
        server_process.wait(timeout=60)
