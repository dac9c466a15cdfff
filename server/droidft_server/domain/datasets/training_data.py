"""What a job trains on: the files its spec names and their records, as its trainer takes them.

The file rule and the reader are the validator's own (reader.py), and each record is decoded
into the format validation decided at create (the job's DataPlan) and converted by that format
(Format.to_example), so the worker trains exactly what validation checked: no second reader, no
second detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .data_keys import NO_KEYS, DataKeys, keyed, keyed_candidates
from .detect import detect
from .formats import FORMATS, formats_for_method, get_format
from .reader import RecordError, iter_records, layout_of, open_stream, record_batches, split_files


@dataclass(frozen=True)
class DataFiles:
    train: Path | None  # None: the directory holds no train split
    valid: Path | None


def data_files(train_data_path: str, val_data_path: str | None = None) -> DataFiles:
    """train_data_path is a file, or a directory with a train file (train.jsonl, .parquet, ...: see
    reader.split_files) and maybe a valid one;
    val_data_path, when given, is the validation file whatever the directory holds."""
    train = Path(train_data_path)
    valid = Path(val_data_path) if val_data_path else None
    if train.is_dir():
        splits = split_files(train)
        valid = valid or splits.get("valid")
        train = splits.get("train")
    return DataFiles(train=train, valid=valid)


@dataclass(frozen=True)
class DataPlan:
    """The data a job trains on, as create checked it: the files, their one format, their records."""

    format: str
    train: Path
    valid: Path | None
    train_records: int | None  # None: not counted (a plan found again for a job accepted without one)
    valid_records: int | None
    data_keys: DataKeys = NO_KEYS  # the keys the records use for the format's fields (the job's spec.data_keys)


class DataChanged(ValueError):
    """A record no longer decodes as the format validation found: the file changed after the job was accepted."""


def read_examples(path: Path, format_name: str, keys: DataKeys = NO_KEYS) -> list[dict]:
    """Every record of a file, decoded as `format_name` (its fields under these keys) and converted for its trainer."""
    fmt = keyed(get_format(format_name), keys)
    try:
        return [fmt.to_example(record) for _, record in iter_records(path, fmt.record_type)]
    except RecordError as error:
        raise DataChanged(
            f"{error.path}:{error.line}: no longer {format_name} data ({error.reason}); "
            "the file changed after the job was accepted"
        ) from None


def decided_format(path: Path, method: str, keys: DataKeys = NO_KEYS) -> str:
    """The format validation decides for this file and method: the same detection over the same candidates."""
    candidates = keyed_candidates([FORMATS[name] for name in formats_for_method(method)], keys)
    with open_stream(path) as stream:
        fmt = detect(record_batches(stream, layout_of(path.name, stream)), candidates).format
    if fmt is None:
        raise DataChanged(f"{path}: no longer holds {method} data; the file changed after the job was accepted")
    return fmt.name


def detected_plan(train_data_path: str, val_data_path: str | None, method: str, keys: DataKeys = NO_KEYS) -> DataPlan:
    """The plan of a job accepted before create kept one (stored jobs outlive server versions and are
    resumed): its files and format found again as create found them, its records not counted."""
    files = data_files(train_data_path, val_data_path)
    if files.train is None:
        raise DataChanged(f"{train_data_path}: holds no train file; the directory changed after the job was accepted")
    return DataPlan(decided_format(files.train, method, keys), files.train, files.valid, None, None, keys)


@dataclass(frozen=True)
class JobData:
    format: str
    train: list[dict]
    valid: list[dict] | None


def read_job_data(plan: DataPlan) -> JobData:
    """A job's training and validation examples, read in the plan's format."""
    valid = _read_planned(plan.valid, plan, plan.valid_records) if plan.valid is not None else None
    return JobData(plan.format, _read_planned(plan.train, plan, plan.train_records), valid)


def _read_planned(path: Path, plan: DataPlan, records: int | None) -> list[dict]:
    examples = read_examples(path, plan.format, plan.data_keys)
    if records is not None and len(examples) != records:
        raise DataChanged(
            f"{path}: holds {len(examples)} records, {records} when the job was accepted; "
            "the file changed after the job was accepted"
        )
    return examples
