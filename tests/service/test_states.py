import pytest

from droidft_server.domain import states


@pytest.mark.parametrize(
    "current,new",
    [
        (states.QUEUED, states.RUNNING),
        (states.QUEUED, states.CANCELLED),
        (states.QUEUED, states.FAILED),
        (states.RUNNING, states.SUCCEEDED),
        (states.RUNNING, states.FAILED),
        (states.RUNNING, states.CANCELLED),
    ],
)
def test_allowed_transitions(current, new):
    states.check_transition(current, new)


@pytest.mark.parametrize(
    "current,new",
    [
        (states.QUEUED, states.SUCCEEDED),
        (states.PAUSED, states.RUNNING),  # a resume queues it first
        (states.SUCCEEDED, states.QUEUED),  # a finished job is never resumed: from_checkpoint continues it
        (states.PAUSING, states.QUEUED),
        (states.SUCCEEDED, states.RUNNING),
        (states.CANCELLED, states.FAILED),
        (states.FAILED, states.SUCCEEDED),
    ],
)
def test_forbidden_transitions(current, new):
    with pytest.raises(states.IllegalTransition):
        states.check_transition(current, new)


def test_terminal_states():
    assert {
        s
        for s in (states.QUEUED, states.RUNNING, states.SUCCEEDED, states.FAILED, states.CANCELLED)
        if states.is_terminal(s)
    } == {states.SUCCEEDED, states.FAILED, states.CANCELLED}
