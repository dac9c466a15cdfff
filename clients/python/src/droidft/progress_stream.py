"""Resumption of a job's progress stream across dropped connections.

Every progress event carries a per-job sequence number and the stream can
restart after any of them, so a dropped connection is repaired by asking again
from the last sequence seen. This module holds the decisions (what to ask for,
which events are new, when to give up); Client and AsyncClient only run the
loop with their own I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from droidft import rpcs
from droidft.call_options import seconds_left
from droidft.enums import is_terminal
from droidft.errors import DroidftError, UnavailableError
from droidft.v1 import job_pb2, progress_pb2, service_pb2


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a broken progress stream is reopened.

    `max_attempts` counts reconnects in a row without a new event; any new event
    resets the count, so a long job survives any number of well-spaced drops.
    """

    max_attempts: int = 6
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    multiplier: float = 2.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before reconnect number `attempt` (1-based)."""
        return min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))


def is_terminal_event(event: progress_pb2.TrainingProgress) -> bool:
    """True for a change to a state at rest (SUCCEEDED, FAILED, CANCELLED, PAUSED): the job's last event, unless
    the job was resumed after it."""
    return event.WhichOneof("event") == "state_change" and is_terminal(event.state_change.state)


class ProgressCursor:
    """Position in one job's progress stream, and the retry budget of its reconnects."""

    def __init__(self, first: service_pb2.StreamTrainingProgressRequest, policy: RetryPolicy) -> None:
        self.job_id = first.job_id
        self.last_sequence = first.after_sequence
        self.finished = False
        self._policy = policy
        self._failed_attempts = 0

    def request(self) -> service_pb2.StreamTrainingProgressRequest:
        """The request that resumes right after the last event seen."""
        return rpcs.stream_progress.build(self.job_id, self.last_sequence)

    def accept(self, event: progress_pb2.TrainingProgress) -> bool:
        """Record `event`; False when it was already seen (a replay after reconnecting)."""
        if event.sequence <= self.last_sequence:
            return False
        self.last_sequence = event.sequence
        self._failed_attempts = 0
        self.finished = is_terminal_event(event)
        return True

    def check_job(self, job: job_pb2.TrainingJob) -> None:
        """After the stream ended early: finish when the job is over and every event was already seen.

        This happens when the stream was opened after the terminal event
        (after_sequence at or past the job's last sequence).
        """
        if is_terminal(job.state) and job.last_sequence <= self.last_sequence:
            self.finished = True

    @staticmethod
    def is_retryable(error: DroidftError) -> bool:
        return error.code == grpc.StatusCode.UNAVAILABLE

    def ended_early_error(self) -> UnavailableError:
        return UnavailableError(
            grpc.StatusCode.UNAVAILABLE,
            f"progress stream of job {self.job_id} ended before the job finished (after event {self.last_sequence})",
            reason="STREAM_ENDED_EARLY",
        )

    def next_backoff(self, cause: DroidftError, deadline: float | None = None) -> float:
        """Seconds to wait before reconnecting after `cause`, ending by `deadline` at the latest.

        Raises `cause` once the retries are spent.
        """
        self._failed_attempts += 1
        if self._failed_attempts > self._policy.max_attempts:
            raise cause
        backoff = self._policy.backoff(self._failed_attempts)
        left = seconds_left(deadline)
        return backoff if left is None else min(backoff, left)
