"""Helpers of the execution tests: data, specs, in-process runs and a recording run listener."""

import json
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path

from droidft.v1 import job_pb2, methods_pb2, progress_pb2
from droidft_server.domain.runs import RunOutcome
from droidft_server.worker.protocol import Finished, WorkerJob

# Six records of one short chat each; the model learns them quickly.
CHATS = [
    {
        "messages": [
            {"role": "user", "content": f"What is {a} + 2?"},
            {"role": "assistant", "content": f"<answer>{a + 2}</answer>"},
        ]
    }
    for a in range(6)
]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def sft_spec(model: Path, train: Path, *, adapter=None, sft=None, **fields) -> job_pb2.TrainingJobSpec:
    """An SFT spec for the tiny model; fields override fast defaults."""
    values = dict(learning_rate=1e-4, batch_size=2, max_seq_length=512, iterations=4, report_every=2)
    values.update(fields)
    return job_pb2.TrainingJobSpec(
        model_path=str(model),
        train_data_path=str(train),
        adapter=adapter or methods_pb2.AdapterConfig(),
        sft=sft or methods_pb2.SftConfig(),
        **values,
    )


@dataclass
class InProcessRun:
    result: Finished
    events: list[progress_pb2.TrainingProgress]

    def of_kind(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.events if e.WhichOneof("event") == kind]

    @property
    def losses(self) -> list[float]:
        return [r.loss for r in self.of_kind("train_report")]


def train_in_process(
    spec: job_pb2.TrainingJobSpec,
    output_dir: Path,
    should_stop=lambda: False,
    resume_from: Path | None = None,
    data: job_pb2.TrainingData | None = None,
) -> InProcessRun:
    """What a worker process does, in this process (no grad_checkpoint here: it patches the model class);
    without `data` the worker finds the format itself, as for a job accepted before create kept its data."""
    from droidft_server.worker.entry import run_job

    events = []
    job = WorkerJob(
        job_id="job",
        spec=spec.SerializeToString(),
        output_dir=str(output_dir),
        resume_from=str(resume_from or ""),
        data=data.SerializeToString() if data is not None else b"",
    )
    result = run_job(job, lambda m: events.append(progress_pb2.TrainingProgress.FromString(m.progress)), should_stop)
    return InProcessRun(result, events)


@dataclass
class RecordingListener:
    """Records what a runner reports; waits on events, not on time."""

    started: list[str] = field(default_factory=list)
    events: list[progress_pb2.TrainingProgress] = field(default_factory=list)
    outcomes: list[RunOutcome] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)
    arrivals: queue.Queue = field(default_factory=queue.Queue)

    def on_started(self, job_id: str, device: str) -> None:
        self.started.append(device)
        self.arrivals.put("started")

    def on_event(self, job_id: str, event: progress_pb2.TrainingProgress) -> None:
        self.events.append(event)
        self.arrivals.put(event.WhichOneof("event"))

    def on_finished(self, job_id: str, outcome: RunOutcome) -> None:
        self.outcomes.append(outcome)
        self.finished.set()
        self.arrivals.put("finished")

    def wait_for(self, kind: str, timeout: float = 120) -> None:
        while (arrived := self.arrivals.get(timeout=timeout)) != kind:
            assert arrived != "finished", f"the run finished before any {kind}: {self.outcomes}"

    def outcome(self, timeout: float = 120) -> RunOutcome:
        assert self.finished.wait(timeout), "the run did not finish"
        assert len(self.outcomes) == 1
        return self.outcomes[0]

    def kinds(self) -> list[str]:
        return [e.WhichOneof("event") for e in self.events]
