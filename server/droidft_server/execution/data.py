"""Where a job's JSONL data lives, and reading it (no MLX here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..domain.spec import JobSettings

TRAIN_FILE = "train.jsonl"
VALID_FILE = "valid.jsonl"


@dataclass(frozen=True)
class DataFiles:
    train: Path
    valid: Path | None


def data_files(settings: JobSettings) -> DataFiles:
    """train_data_path is a JSONL file or a directory with train.jsonl (and maybe valid.jsonl)."""
    train = Path(settings.train_data_path)
    valid = Path(settings.val_data_path) if settings.val_data_path else None
    if train.is_dir():
        if valid is None and (train / VALID_FILE).is_file():
            valid = train / VALID_FILE
        train = train / TRAIN_FILE
    for path in (train, valid):
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"data file not found: {path}")
    return DataFiles(train=train, valid=valid)


def read_jsonl(path: Path) -> list[dict]:
    """Every non-blank line as a JSON object; an empty file or a non-object line is an error."""
    records = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: a record must be a JSON object")
            records.append(record)
    if not records:
        raise ValueError(f"{path}: no records")
    return records
