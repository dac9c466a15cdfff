import grpc
import pytest
from fakes import FakeRunner
from fixed_device import device_profile

from droidft.v1 import job_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig


@pytest.fixture()
def spec(tiny_model, sft_data):
    spec = job_pb2.TrainingJobSpec(model_path=str(tiny_model), train_data_path=str(sft_data), iterations=5)
    spec.sft.SetInParent()
    return spec


@pytest.fixture()
def fake_runner():
    return FakeRunner()


@pytest.fixture()
def make_server(tmp_path, roots, build_check):
    """Starts a server on a free port, its state under tmp_path; `options` override ServerConfig's fields."""

    def make(runner=None, **options) -> DroidftServer:
        settings = {
            "state_dir": tmp_path / "state",
            "listen": "127.0.0.1:0",
            "device_profile": device_profile,
            "build_check": build_check,
        }
        return DroidftServer(ServerConfig(**{**settings, **roots, **options}), runner=runner or FakeRunner())

    return make


@pytest.fixture()
def server(make_server, fake_runner):
    started = make_server(fake_runner)
    yield started
    started.stop(grace=0)


@pytest.fixture()
def stub(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield service_pb2_grpc.TrainingServiceStub(channel)
