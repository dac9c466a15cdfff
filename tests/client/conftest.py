import pytest

from droidft import Client, RetryPolicy
from fake_training_service import RunningFake

# Reconnect at once in tests: the fake server is ready immediately.
NO_WAIT = RetryPolicy(max_attempts=3, initial_backoff=0.0)


@pytest.fixture
def fake():
    running = RunningFake()
    yield running
    running.stop()


@pytest.fixture
def client(fake):
    with Client(fake.address, timeout=10, retry_policy=NO_WAIT) as client:
        yield client
