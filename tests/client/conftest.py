import pytest

from droidft import Client
from fake_training_service import NO_WAIT, RunningFake


@pytest.fixture
def fake():
    running = RunningFake()
    yield running
    running.stop()


@pytest.fixture
def client(fake):
    with Client(fake.address, timeout=10, retry_policy=NO_WAIT) as client:
        yield client
