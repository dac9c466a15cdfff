"""The job-spec flags shared by `train` and `estimate`: a proto JSON file with flags laid over it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from droidft.cli.arguments import DATA_KEY_HELP, METHOD_METAVAR, data_key_argument, method_argument
from droidft.cli.session import CommandError
from droidft.specs import training_job_spec, with_method
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


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="PATH", help="model directory (Hugging Face layout)")
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="training data: a JSONL file or a directory with train.jsonl on the server, or file:<id> (droidft upload)",
    )
    parser.add_argument("--val-data", metavar="PATH", help="validation data (JSONL)")
    parser.add_argument("--method", type=method_argument, metavar=METHOD_METAVAR)
    parser.add_argument("--iters", type=int, metavar="N", help="optimizer steps")
    parser.add_argument("--batch-size", type=int, metavar="N")
    parser.add_argument("--learning-rate", type=float, metavar="X")
    parser.add_argument(
        "--from-checkpoint",
        type=checkpoint_argument,
        metavar="JOB[:ITERATION]",
        help="start from the weights of another job: its final adapter, or its checkpoint of ITERATION",
    )
    parser.add_argument(
        "--ranks", type=int, metavar="N", help="train with N processes data-parallel (batch size: a multiple of N)"
    )
    parser.add_argument(
        "--data-key", type=data_key_argument, action="append", default=[], metavar="FIELD=KEY", help=DATA_KEY_HELP
    )
    parser.add_argument("--spec", type=Path, metavar="FILE", help="TrainingJobSpec as proto JSON; flags override it")


def checkpoint_argument(value: str) -> job_pb2.FromCheckpoint:
    job_id, _, iteration = value.partition(":")
    if not job_id or (iteration and not iteration.isdigit()):
        raise argparse.ArgumentTypeError(f"{value!r} is not JOB or JOB:ITERATION")
    return job_pb2.FromCheckpoint(job_id=job_id, iteration=int(iteration or 0))


def build_spec(args: argparse.Namespace) -> job_pb2.TrainingJobSpec:
    """The spec file (if any) with the flags laid over it."""
    spec = training_job_spec(json.loads(args.spec.read_text())) if args.spec else job_pb2.TrainingJobSpec()
    for flag, field in SPEC_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            setattr(spec, field, value)
    if args.ranks is not None:
        spec.distributed.ranks = args.ranks
    if args.from_checkpoint is not None:
        spec.from_checkpoint.CopyFrom(args.from_checkpoint)
    spec.data_keys.fields.update(dict(args.data_key))
    if args.method:
        with_method(spec, args.method)
    missing = [flag for flag, field in REQUIRED_FIELDS.items() if not getattr(spec, field)]
    if spec.WhichOneof("method") is None:
        missing.append("--method")
    if missing:
        raise CommandError(f"missing {', '.join(missing)} (give the flag or set it in --spec)")
    return spec
