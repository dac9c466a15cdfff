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
def server(tmp_path, fake_runner, roots):
    config = ServerConfig(state_dir=tmp_path / "state", listen="127.0.0.1:0", device_profile=device_profile, **roots)
    started = DroidftServer(config, runner=fake_runner)
    yield started
    started.stop(grace=0)


@pytest.fixture()
def stub(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield service_pb2_grpc.TrainingServiceStub(channel)
