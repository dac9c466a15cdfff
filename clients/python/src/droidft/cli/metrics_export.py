"""`droidft jobs metrics JOB --format csv|jsonl`: a job's train and validation reports as rows that tools read.

One row per report, from the job's stored progress events: `kind` (train or eval), the iteration, the time,
the report's figures and each method metric as a column of its own (a CSV has the union of the columns, empty
where a report has none).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from droidft.cli.plot import stored_events
from droidft.cli.session import CommandError, Session
from droidft.v1 import progress_pb2

FORMATS = ("csv", "jsonl")
TRAIN_FIGURES = (
    "total_iterations",
    "loss",
    "learning_rate",
    "iterations_per_second",
    "tokens_per_second",
    "trained_tokens",
    "peak_memory_bytes",
)
EVAL_FIGURES = ("val_loss", "seconds")


def report_rows(events: Iterable[progress_pb2.TrainingProgress]) -> list[dict]:
    rows = []
    for event in events:
        kind = event.WhichOneof("event")
        if kind not in ("train_report", "eval_report"):
            continue
        report = getattr(event, kind)
        figures = TRAIN_FIGURES if kind == "train_report" else EVAL_FIGURES
        row = {
            "kind": kind.removesuffix("_report"),
            "iteration": report.iteration,
            "time": event.time.ToJsonString() if event.HasField("time") else "",
        }
        row.update({name: getattr(report, name) for name in figures})
        row.update(sorted(report.metrics.items()))
        rows.append(row)
    return rows


def to_csv(rows: list[dict]) -> str:
    columns = ["kind", "iteration", "time", *TRAIN_FIGURES, *EVAL_FIGURES]
    columns += sorted({name for row in rows for name in row} - set(columns))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def to_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def register(commands) -> None:
    parser = commands.add_parser("metrics", help="a job's train and validation reports as CSV or JSON Lines")
    parser.add_argument("job_id", metavar="JOB")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="file to write (default: standard output)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, session: Session) -> int:
    job = session.client.get_training_job(args.job_id)
    rows = report_rows(stored_events(session, job.job_id, job.last_sequence))
    if not rows:
        raise CommandError(f"job {job.job_id} has no training reports yet")
    text = to_csv(rows) if args.format == "csv" else to_jsonl(rows)
    if args.output is None:
        session.print(text.rstrip("\n"))
    else:
        args.output.write_text(text, encoding="utf-8")
        session.print(f"wrote {len(rows)} reports to {args.output}")
    return 0
