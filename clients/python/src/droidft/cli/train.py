"""`droidft train`: create a training job from flags and/or a proto JSON spec file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from droidft.cli.arguments import METHOD_METAVAR, method_argument
from droidft.cli.session import CommandError, Session
from droidft.cli.watch import watch_job
from droidft.enums import job_state_name, method_name
from droidft.request_builders import training_job_spec, with_method
from droidft.v1 import job_pb2

# Flag destination -> TrainingJobSpec field it sets.
SPEC_FLAGS = {
    "model": "model_path",
    "data": "train_data_path",
    "val_data": "val_data_path",
    "iters": "iterations",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
}
REQUIRED_FIELDS = {"--model": "model_path", "--data": "train_data_path"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="start a training job",
        description="Start a training job. Paths are on the server. Flags override the --spec file.",
    )
    parser.add_argument("--model", metavar="PATH", help="model directory (Hugging Face layout)")
    parser.add_argument("--data", metavar="PATH", help="training data: a JSONL file or a directory with train.jsonl")
    parser.add_argument("--val-data", metavar="PATH", help="validation data (JSONL)")
    parser.add_argument("--method", type=method_argument, metavar=METHOD_METAVAR)
    parser.add_argument("--iters", type=int, metavar="N", help="optimizer steps")
    parser.add_argument("--batch-size", type=int, metavar="N")
    parser.add_argument("--learning-rate", type=float, metavar="X")
    parser.add_argument("--spec", type=Path, metavar="FILE", help="TrainingJobSpec as proto JSON")
    parser.add_argument("--request-id", default="", metavar="ID", help="idempotency key: a retry returns the same job")
    parser.add_argument("--validate-only", action="store_true", help="check everything, create nothing")
    parser.add_argument("--watch", action="store_true", help="follow the job until it ends (exit code as `watch`)")
    parser.set_defaults(handler=run)


def build_spec(args: argparse.Namespace) -> job_pb2.TrainingJobSpec:
    """The spec file (if any) with the flags laid over it."""
    spec = training_job_spec(json.loads(args.spec.read_text())) if args.spec else job_pb2.TrainingJobSpec()
    for flag, field in SPEC_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            setattr(spec, field, value)
    if args.method:
        with_method(spec, args.method)
    missing = [flag for flag, field in REQUIRED_FIELDS.items() if not getattr(spec, field)]
    if spec.WhichOneof("method") is None:
        missing.append("--method")
    if missing:
        raise CommandError(f"missing {', '.join(missing)} (give the flag or set it in --spec)")
    return spec


def run(args: argparse.Namespace, session: Session) -> int:
    spec = build_spec(args)
    job = session.client.create_training_job(spec, request_id=args.request_id, validate_only=args.validate_only)
    if args.validate_only:
        session.print(f"The {spec.WhichOneof('method')} job is valid; nothing was created.")
        return 0
    session.print(f"Created job {job.job_id} ({method_name(job.method)}, {job_state_name(job.state)})")
    if args.watch:
        return watch_job(session, job.job_id)
    session.print(f"Follow it with: droidft watch {job.job_id}")
    return 0
