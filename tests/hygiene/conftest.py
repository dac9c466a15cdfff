import sys
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
    from server_process import serve

    state, base = tmp_path_factory.mktemp("server"), str(tmp_path_factory.getbasetemp())
    process, target = serve("--state-dir", str(state / "state"), "--data-root", base, "--model-root", base)
    try:
        yield target
    finally:
        process.terminate()
        process.wait(timeout=30)
