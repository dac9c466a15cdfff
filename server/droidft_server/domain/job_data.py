"""The one pass over a job's data at create, and the plan the worker trains by.

create reads the data once: every record of the training and validation files checked for the
job's method in one format (validation's), token lengths with the model's tokenizer, an evenly
spread sample of records for the chat template's tokens, and Dr. GRPO's domains counted. Every
preflight check and the memory estimate look at this one report; the plan (TrainingJob.data) is
kept with the job and hands the worker the files and the format, so it detects nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from droidft.v1 import job_pb2

from .datasets import FORMATS, formats_for_method, validate_files
from .datasets.data_keys import DataKeys, mapping_violations
from .datasets.progress import ProgressCallback
from .datasets.report import FileReport, ValidationReport
from .datasets.trained_tokens import SAMPLE_RECORDS, template_tokens
from .datasets.training_data import DataFiles, DataPlan, data_files
from .errors import invalid_argument
from .estimation import TokenLengths
from .record_selection import kept_domain, records_used
from .report_proto import file_report_to_proto
from .spec import JobSettings

TRAIN, VALID = "train", "valid"


@dataclass(frozen=True)
class JobDataCheck:
    """What the one pass found: the report of the job's files (the training file first)."""

    files: DataFiles
    report: ValidationReport
    settings: JobSettings

    @property
    def train(self) -> FileReport | None:
        return next((f for f in self.report.files if f.split == TRAIN), None)

    @property
    def valid(self) -> FileReport | None:
        return next((f for f in self.report.files if f.split == VALID), None)

    def records_used(self, file: FileReport) -> int:
        """Records of the file the job's method trains on (record_selection.py)."""
        return records_used(kept_domain(self.settings), file.record_count, file.tallied_values)

    def plan(self) -> job_pb2.TrainingData:
        """The plan kept with the job, for a valid data set."""
        plan = job_pb2.TrainingData(
            train=file_report_to_proto(self.train), train_records_used=self.records_used(self.train)
        )
        if self.valid is not None:
            plan.valid.CopyFrom(file_report_to_proto(self.valid))
            plan.valid_records_used = self.records_used(self.valid)
        return plan

    def token_lengths(self) -> TokenLengths | None:
        """Token lengths of the training records as trained (SFT and the preference methods: with the chat
        template's tokens), or None (the estimate then takes rows of max_seq_length) when they could not be
        measured."""
        train, settings = self.train, self.settings
        if train is None or train.token_statistics is None or not train.record_count:
            return None
        stats = train.token_statistics
        lengths = TokenLengths(mean=stats.mean, p95=stats.p95, max=stats.max)
        if not _templated(settings):
            return lengths
        extra = template_tokens(settings.model_path, train.format, train.sample)
        return lengths.plus(extra.mean, extra.max)


def _templated(settings: JobSettings) -> bool:
    """Its records train through the chat template (trained_tokens.py); the GRPO family's prompts are counted
    as their text."""
    return settings.sft is not None or settings.preference is not None


def check_job_data(settings: JobSettings, max_issues: int, on_progress: ProgressCallback | None = None) -> JobDataCheck:
    """Read the job's training and validation files once (see the module's docstring); the files that
    are missing are left out of the report (preflight.data_exists refuses them first). A spec.data_keys
    that no format of the method has is refused (INVALID_ARGUMENT) before anything is read."""
    violations = mapping_violations(
        settings.data_keys, [FORMATS[name] for name in formats_for_method(settings.method)], "spec.data_keys"
    )
    if violations:
        raise invalid_argument(violations)
    files = data_files(settings.train_data_path, settings.val_data_path)
    present = [(split, path) for split, path in ((TRAIN, files.train), (VALID, files.valid)) if path and path.is_file()]
    report = validate_files(
        present,
        method=settings.method,
        model_path=settings.model_path,
        max_seq_length=settings.max_seq_length,
        max_issues=max_issues,
        data_keys=settings.data_keys,
        # Records kept for the chat template's tokens (SFT, preference) and for create's check that the templates
        # render what the job sends through them (every method but SFT on text, preflight.chat_template_renders).
        sample_records=SAMPLE_RECORDS if _templated(settings) or settings.policy is not None else 0,
        on_progress=on_progress,
    )
    return JobDataCheck(files, report, settings)


def data_plan(data: job_pb2.TrainingData, keys: DataKeys) -> DataPlan:
    """The plan a job's worker reads its data by, its records under the keys of the job's spec.data_keys."""
    valid = data.valid if data.HasField("valid") else None
    return DataPlan(
        format=data.train.format,
        train=Path(data.train.path),
        valid=Path(valid.path) if valid is not None else None,
        train_records=data.train.record_count,
        valid_records=valid.record_count if valid is not None else None,
        data_keys=keys,
    )
