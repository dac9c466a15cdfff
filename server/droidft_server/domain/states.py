"""The job state machine (AIP-216 states)."""

from __future__ import annotations

from droidft.v1 import job_pb2

QUEUED = job_pb2.JOB_STATE_QUEUED
RUNNING = job_pb2.JOB_STATE_RUNNING
SUCCEEDED = job_pb2.JOB_STATE_SUCCEEDED
FAILED = job_pb2.JOB_STATE_FAILED
CANCELLED = job_pb2.JOB_STATE_CANCELLED
PAUSING = job_pb2.JOB_STATE_PAUSING
PAUSED = job_pb2.JOB_STATE_PAUSED

# At rest: no worker runs and none will until a client acts (resume). A job's progress stream ends at the change
# to one of these; FAILED, CANCELLED and PAUSED jobs with a resumable checkpoint can be resumed.
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, PAUSED})
RESUMABLE = frozenset({PAUSED, FAILED, CANCELLED})

_ALLOWED = {
    job_pb2.JOB_STATE_UNSPECIFIED: frozenset({QUEUED}),
    QUEUED: frozenset({RUNNING, FAILED, CANCELLED, PAUSED}),
    # QUEUED again: the server stopped, the job checkpointed and goes on at the next start.
    RUNNING: frozenset({SUCCEEDED, FAILED, CANCELLED, PAUSING, QUEUED}),
    PAUSING: frozenset({PAUSED, SUCCEEDED, FAILED, CANCELLED}),
    PAUSED: frozenset({QUEUED, CANCELLED}),
    FAILED: frozenset({QUEUED}),
    CANCELLED: frozenset({QUEUED}),
}


class IllegalTransition(Exception):
    pass


def is_terminal(state: int) -> bool:
    return state in TERMINAL


def check_transition(current: int, new: int) -> None:
    if new not in _ALLOWED.get(current, frozenset()):
        raise IllegalTransition(f"{name(current)} -> {name(new)}")


def name(state: int) -> str:
    return job_pb2.JobState.Name(state).removeprefix("JOB_STATE_")
