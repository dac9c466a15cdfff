"""Checks a job must pass before it is accepted: everything that would otherwise fail at iteration 500."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from droidft.v1 import job_pb2

from . import datasets, rewards
from .datasets.refusal import VIOLATIONS_LISTED, data_errors
from .errors import DroidftError, ErrorKind, FieldViolation, invalid_argument
from .spec import JobSettings, resolve

# A check raises DroidftError or returns warnings for the job's log.
Check = Callable[[job_pb2.TrainingJobSpec, JobSettings], list[str]]


def _missing(field: str, path: str, what: str, reason: str) -> DroidftError:
    return DroidftError(
        ErrorKind.FAILED_PRECONDITION, reason, f"{field}: {what} {path!r} not found on the server",
        {"field": field, "path": path},
    )


def model_exists(spec: job_pb2.TrainingJobSpec, settings: JobSettings) -> list[str]:
    if not (Path(settings.model_path) / "config.json").is_file():
        raise _missing("spec.model_path", settings.model_path, "model directory (with config.json)", "MODEL_NOT_FOUND")
    return []


def train_data_file(settings: JobSettings) -> Path:
    path = Path(settings.train_data_path)
    return path / "train.jsonl" if path.is_dir() else path


def validation_data_file(settings: JobSettings) -> Path | None:
    if settings.val_data_path is not None:
        return Path(settings.val_data_path)
    path = Path(settings.train_data_path)
    return path / "valid.jsonl" if path.is_dir() and (path / "valid.jsonl").is_file() else None


def data_exists(spec: job_pb2.TrainingJobSpec, settings: JobSettings) -> list[str]:
    if not train_data_file(settings).is_file():
        raise _missing("spec.train_data_path", settings.train_data_path, "training data (a JSONL file or a directory with train.jsonl)", "DATASET_NOT_FOUND")
    if settings.val_data_path is not None and not Path(settings.val_data_path).is_file():
        raise _missing("spec.val_data_path", settings.val_data_path, "validation data", "DATASET_NOT_FOUND")
    if settings.early_stop and validation_data_file(settings) is None:
        raise invalid_argument([FieldViolation(
            "spec.early_stop", "early_stop needs validation data: set val_data_path or give a directory with valid.jsonl",
            "spec.early_stop_needs_validation_data")])
    return []


def data_valid(spec: job_pb2.TrainingJobSpec, settings: JobSettings) -> list[str]:
    """Every record of the training (and validation) data, checked for the job's method before it runs."""
    paths = [settings.train_data_path] + ([settings.val_data_path] if settings.val_data_path else [])
    warnings = []
    for path in paths:
        report = datasets.validate_path(path, method=settings.method, max_seq_length=settings.max_seq_length,
                                        max_issues=VIOLATIONS_LISTED)
        if not report.valid:
            raise data_errors(report)
        warnings += [f"{path}: {count} record(s) with {code}" for code, count in sorted(report.issue_counts.items())]
    return warnings


def rewards_known(spec: job_pb2.TrainingJobSpec, settings: JobSettings) -> list[str]:
    if settings.policy is None:
        return []
    known = rewards.REWARDS
    unknown = [
        FieldViolation(f"spec.{settings.method}.rollout.rewards[{index}].name",
                       f"no reward function {name!r}; this server has: {', '.join(sorted(known))}", "reward.registered")
        for index, (name, _) in enumerate(settings.policy.rollout.rewards) if name not in known
    ]
    if unknown:
        raise invalid_argument(unknown)
    return []


def run_checks(checks: list[Check]) -> Callable[[job_pb2.TrainingJobSpec], list[str]]:
    def preflight(spec: job_pb2.TrainingJobSpec) -> list[str]:
        settings = resolve(spec)
        return [warning for check in checks for warning in check(spec, settings)]

    return preflight
