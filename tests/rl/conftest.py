"""Shared pieces of the RL and preference tests: a tiny model, a toy task, and a recording context."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from droidft.v1 import job_pb2
from droidft_server.devtools.tiny_model import build_tiny_model
from droidft_server.domain.datasets.training_data import detected_plan
from droidft_server.domain.spec import resolve
from droidft_server.worker.contract import TrainingContext


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def addition_records(count: int, seed: int) -> list[dict]:
    """One-digit sums below 10: a verifiable task whose answer is a single token."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        a = rng.randrange(0, 5)
        b = rng.randrange(0, 5)
        records.append({"problem": f"{a} + {b} =", "reasoning_steps": [f"{a} + {b} = {a + b}"], "solution": str(a + b)})
    return records


class RecordingContext(TrainingContext):
    """A TrainingContext whose events are kept, and which asks to stop after `stop_after` should_stop calls."""

    def __init__(self, spec: job_pb2.TrainingJobSpec, output_dir: Path, stop_after: int | None = None):
        self.events = []
        self._calls = 0
        self._stop_after = stop_after
        settings = resolve(spec)
        super().__init__(
            job_id="job-1",
            spec=spec,
            settings=settings,
            data=detected_plan(settings.train_data_path, settings.val_data_path, settings.method),
            output_dir=output_dir,
            emit=self.events.append,
            should_stop=self._should_stop,
        )

    def _should_stop(self) -> bool:
        self._calls += 1
        return self._stop_after is not None and self._calls >= self._stop_after

    def of(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.events if e.WhichOneof("event") == kind]
