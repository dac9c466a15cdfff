import grpc
import pytest
from fakes import FakeRunner

from droidft.v1 import job_pb2, service_pb2_grpc

from droidft_server.app import DroidftServer, ServerConfig


@pytest.fixture()
def model_dir(tmp_path):
    # The fake runner never loads it; the preflight only needs the directory to look like a model.
    path = tmp_path / "model"
    path.mkdir()
    (path / "config.json").write_text("{}")
    return path


@pytest.fixture()
def spec(model_dir, sft_data):
    return job_pb2.TrainingJobSpec(
        model_path=str(model_dir), train_data_path=str(sft_data), iterations=5, sft=job_pb2.TrainingJobSpec().sft
    )


@pytest.fixture()
def fake_runner():
    return FakeRunner()


@pytest.fixture()
def server(tmp_path, fake_runner):
    started = DroidftServer(ServerConfig(state_dir=tmp_path / "state", listen="127.0.0.1:0"), runner=fake_runner)
    yield started
    started.stop(grace=0)


@pytest.fixture()
def stub(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield service_pb2_grpc.TrainingServiceStub(channel)
