import pytest
from fake_training_service import NO_WAIT, RunningFake

from droidft import Client


@pytest.fixture
def fake():
    running = RunningFake()
    yield running
    running.stop()


@pytest.fixture
def client(fake):
    with Client(fake.address, timeout=10, retry_policy=NO_WAIT) as client:
        yield client
