"""A runner the test drives by hand, for fast tests of the service layer (real training is tested elsewhere)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from droidft.v1 import progress_pb2
from droidft_server.domain import states
from droidft_server.domain.runs import FROM_THE_BEGINNING, RunListener, RunOutcome, RunStart, StopKind


@dataclass
class FakeRunner:
    started: dict[str, RunListener] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    starts: dict[str, RunStart] = field(default_factory=dict)
    data: dict[str, object] = field(default_factory=dict)  # job id -> the TrainingData its run was started with
    start_signal: threading.Condition = field(default_factory=threading.Condition)
    shut_down: bool = False

    def start(
        self,
        job_id: str,
        spec,
        output_dir: Path,
        listener: RunListener,
        start: RunStart = FROM_THE_BEGINNING,
        data=None,
    ) -> None:
        with self.start_signal:
            self.started[job_id] = listener
            self.starts[job_id] = start
            self.data[job_id] = data
            self.start_signal.notify_all()

    def stop(self, job_id: str, kind: StopKind) -> None:
        (self.cancelled if kind == StopKind.CANCEL else self.paused).append(job_id)

    def shutdown(self) -> None:
        self.shut_down = True

    def wait_started(self, job_id: str, timeout: float = 10) -> RunListener:
        with self.start_signal:
            assert self.start_signal.wait_for(lambda: job_id in self.started, timeout), f"{job_id} never started"
            return self.started[job_id]

    def report(self, job_id: str, iteration: int, loss: float) -> None:
        event = progress_pb2.TrainingProgress(train_report=progress_pb2.TrainReport(iteration=iteration, loss=loss))
        self.started[job_id].on_event(job_id, event)

    def finish(self, job_id: str, state: int = states.SUCCEEDED, **outcome) -> None:
        self.started[job_id].on_finished(job_id, RunOutcome(state=state, **outcome))
