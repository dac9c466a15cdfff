"""Short, case-insensitive names for the service's enums ("sft", "dr-grpo", "running").

Users type method and state names; the wire carries enum numbers. Every
conversion in both directions goes through here so that the CLI and the
clients accept and print the same spellings.
"""

from __future__ import annotations

from droidft.v1 import job_pb2, methods_pb2

MethodLike = int | str
StateLike = int | str

_METHOD_PREFIX = "TRAINING_METHOD_"
_STATE_PREFIX = "JOB_STATE_"

# At rest: no worker runs until a client acts, and the progress stream ends (PAUSED, FAILED and CANCELLED jobs
# with a resumable checkpoint can be resumed, and their stream then goes on).
TERMINAL_STATES = frozenset(
    {job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED, job_pb2.JOB_STATE_PAUSED}
)


def _parse(value: int | str, enum_type, prefix: str, kind: str) -> int:
    descriptor = enum_type.DESCRIPTOR
    if isinstance(value, bool):
        raise TypeError(f"{kind} must be a name or an enum value, not a bool")
    if isinstance(value, int):
        if value not in descriptor.values_by_number or value == 0:
            raise ValueError(f"unknown {kind} {value}; choose one of {', '.join(_short_names(enum_type, prefix))}")
        return value
    name = value.strip().upper().replace("-", "_")
    if not name.startswith(prefix):
        name = prefix + name
    found = descriptor.values_by_name.get(name)
    if found is None or found.number == 0:
        raise ValueError(f"unknown {kind} {value!r}; choose one of {', '.join(_short_names(enum_type, prefix))}")
    return found.number


def _short_name(number: int, enum_type, prefix: str) -> str:
    found = enum_type.DESCRIPTOR.values_by_number.get(number)
    if found is None:
        return str(number)
    return found.name.removeprefix(prefix).lower()


def _short_names(enum_type, prefix: str) -> list[str]:
    return [v.name.removeprefix(prefix).lower() for v in enum_type.DESCRIPTOR.values if v.number != 0]


def parse_method(method: MethodLike) -> int:
    """TrainingMethod value of `method`: an enum value, or a name like "sft", "dr-grpo", "TRAINING_METHOD_GSPO"."""
    return _parse(method, methods_pb2.TrainingMethod, _METHOD_PREFIX, "training method")


def method_name(method: int) -> str:
    """Short name of a TrainingMethod value, e.g. "dr_grpo"; it is also the spec's oneof field name."""
    return _short_name(method, methods_pb2.TrainingMethod, _METHOD_PREFIX)


def method_names() -> list[str]:
    """Short names of every defined method, in enum order."""
    return _short_names(methods_pb2.TrainingMethod, _METHOD_PREFIX)


def parse_job_state(state: StateLike) -> int:
    """JobState value of `state`: an enum value, or a name like "running", "JOB_STATE_QUEUED"."""
    return _parse(state, job_pb2.JobState, _STATE_PREFIX, "job state")


def job_state_name(state: int) -> str:
    """Short name of a JobState value, e.g. "succeeded"."""
    return _short_name(state, job_pb2.JobState, _STATE_PREFIX)


def job_state_names() -> list[str]:
    """Short names of every defined job state, in enum order."""
    return _short_names(job_pb2.JobState, _STATE_PREFIX)


def is_terminal(state: int) -> bool:
    """True for SUCCEEDED, FAILED, CANCELLED and PAUSED: the job changes again only if a client resumes it."""
    return state in TERMINAL_STATES
