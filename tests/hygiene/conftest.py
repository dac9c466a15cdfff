import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import buf_check  # noqa: E402


@pytest.fixture(scope="session")
def contract_files(tmp_path_factory) -> list[descriptor_pb2.FileDescriptorProto]:
    """The droidft.v1 files of the working tree's contract, with source info."""
    image = tmp_path_factory.mktemp("image") / "contract.binpb"
    buf_check.build_image(buf_check.PROTO_DIR, image)
    files = descriptor_pb2.FileDescriptorSet.FromString(image.read_bytes()).file
    return [f for f in files if f.name.startswith(buf_check.CONTRACT + "/")]


@pytest.fixture(scope="module")
def server_address(tmp_path_factory):
    """Host:port of the real droidft server, started as a user would start it, on a free port."""
    state = tmp_path_factory.mktemp("server")
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "droidft-server"),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--port-file",
            str(state / "port"),
            "--state-dir",
            str(state / "state"),
            "--data-root",
            str(tmp_path_factory.getbasetemp()),
            "--model-root",
            str(tmp_path_factory.getbasetemp()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        port = serving_port(process)
        # Keep reading so that the server never blocks on a full pipe.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def serving_port(process: subprocess.Popen) -> int:
    """The port from the server's "serving" log line (JSON logs, one a line)."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("event") == "serving":
            return int(record["port"])
    raise RuntimeError("server exited before serving:\n" + "".join(seen))
