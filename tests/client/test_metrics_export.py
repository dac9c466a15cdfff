"""`droidft jobs metrics`: a job's reports as CSV and JSON Lines."""

import csv
import io
import json

import pytest
from fake_training_service import Connection, make_job
from test_plot import grpo_events, sft_events

from droidft.cli import main
from droidft.v1 import job_pb2


def export(fake, capsys, events, *options: str) -> str:
    fake.service.jobs = [make_job("job-1", job_pb2.JOB_STATE_SUCCEEDED, last_sequence=len(events))]
    fake.service.connections = [Connection(events)]
    assert main(["--server", fake.address, "jobs", "metrics", "job-1", *options]) == 0
    return capsys.readouterr().out


def test_csv_has_a_row_per_report(fake, capsys):
    rows = list(csv.DictReader(io.StringIO(export(fake, capsys, sft_events(), "--format", "csv"))))
    assert [(row["kind"], int(row["iteration"])) for row in rows] == [
        ("eval", 0),
        *[("train", i) for i in range(2, 21, 2)],
        ("eval", 10),
        ("eval", 20),
    ]
    train = rows[1]
    assert train["val_loss"] == "" and float(train["loss"]) > 0 and float(train["learning_rate"]) == pytest.approx(4e-6)
    assert rows[0]["loss"] == "" and float(rows[0]["val_loss"]) == 3.2


def test_csv_has_a_column_per_method_metric(fake, capsys):
    rows = list(csv.DictReader(io.StringIO(export(fake, capsys, grpo_events()))))
    assert {"kl", "reward_mean", "reward/exact_answer_mean", "reward/format_std"} <= set(rows[0])
    assert float(rows[-1]["reward_mean"]) == 1.0


def test_jsonl_has_one_object_per_report(fake, capsys, tmp_path):
    output = tmp_path / "metrics.jsonl"
    assert "wrote 20 reports" in export(fake, capsys, grpo_events(), "--format", "jsonl", "-o", str(output))
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["iteration"] for row in rows] == list(range(1, 21))
    assert rows[0]["kind"] == "train" and rows[0]["reward_mean"] == 0.05 and "val_loss" not in rows[0]
