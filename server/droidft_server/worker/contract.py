"""What a trainer receives inside the worker process, and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from droidft.v1 import job_pb2, progress_pb2

from ..domain.spec import JobSettings

ADAPTER_FILE = "adapters.safetensors"
ADAPTER_CONFIG_FILE = "adapter_config.json"
CHECKPOINT_DIR = "checkpoints"


@dataclass
class TrainingContext:
    job_id: str
    spec: job_pb2.TrainingJobSpec
    settings: JobSettings
    output_dir: Path  # the final adapter goes to output_dir/ADAPTER_FILE, checkpoints to output_dir/CHECKPOINT_DIR
    emit: Callable[[progress_pb2.TrainingProgress], None]  # sends one event (oneof set) to the server
    should_stop: Callable[[], bool]  # True once a cancel was asked for: stop after this iteration


@dataclass(frozen=True)
class TrainingResult:
    adapter_path: str
    stopped_early: bool  # cancelled (should_stop) or early-stopped on validation loss
    message: str = ""
