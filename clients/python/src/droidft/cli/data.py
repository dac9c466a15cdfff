"""`droidft data validate|sample`: check data sets and make sample data on the server.

Converting between formats works on local files, with the server's code: `droidft-server convert-data`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from droidft.cli.arguments import DATA_KEY_HELP, METHOD_METAVAR, data_key_argument, method_argument
from droidft.cli.data_view import progress_line, validation_report
from droidft.cli.render import message_json
from droidft.cli.session import CommandError, Session
from droidft.cli.watch import CLEAR_LINE
from droidft.v1 import data_pb2

INVALID_DATA_EXIT_CODE = 1


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="check data sets, make sample data")
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check every record of a data set (exit code 1 when not valid)",
        description="Check every record of a data set on the server (or, with --upload, a local file).",
    )
    validate.add_argument("path", metavar="PATH", help="JSONL file or directory with train/valid/test.jsonl")
    validate.add_argument("--method", type=method_argument, metavar=METHOD_METAVAR, help="the method the data is for")
    validate.add_argument("--format", default="", help="format to check against (default: detected)")
    validate.add_argument("--model", default="", metavar="PATH", help="model whose tokenizer measures lengths")
    validate.add_argument("--max-seq-length", type=int, metavar="N", help="token limit of the too_long check")
    validate.add_argument("--max-issues", type=int, metavar="N", help="list at most N issues (default 100)")
    validate.add_argument(
        "--data-key", type=data_key_argument, action="append", default=[], metavar="FIELD=KEY", help=DATA_KEY_HELP
    )
    validate.add_argument("--upload", action="store_true", help="send the local file's content instead of a path")
    validate.add_argument("--json", action="store_true")
    validate.set_defaults(handler=validate_data)

    sample = commands.add_parser("sample", help="generate deterministic sample data")
    sample.add_argument("--format", required=True, help="e.g. chat_messages, grpo, preference")
    sample.add_argument("-n", "--count", type=int, metavar="N", help="records (default 100)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument(
        "-o",
        "--output",
        default="",
        metavar="PATH",
        help="file the server writes, under its data roots; without it the JSONL is printed",
    )
    sample.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    sample.set_defaults(handler=sample_data)


def validate_data(args: argparse.Namespace, session: Session) -> int:
    source = {"content": Path(args.path).read_bytes()} if args.upload else {"path": args.path}
    check = dict(
        **source,
        method=args.method,
        format=args.format,
        model_path=args.model,
        max_seq_length=args.max_seq_length,
        max_issues=args.max_issues,
        data_keys=dict(args.data_key),
    )
    if session.interactive and not args.json:
        response = _validate_showing_progress(session, check)
    else:
        response = session.client.validate_dataset(**check)
    session.print(message_json(response) if args.json else validation_report(response))
    return 0 if response.valid else INVALID_DATA_EXIT_CODE


def _validate_showing_progress(session: Session, check: dict) -> data_pb2.ValidateDatasetResponse:
    """On a terminal, a big file's check shows how far it has read, on one line redrawn in place."""
    shown = False
    try:
        for progress in session.client.stream_dataset_validation(**check, progress_interval_seconds=0.5):
            if progress.HasField("result"):
                return progress.result
            session.out.write(CLEAR_LINE + progress_line(progress)[: session.width - 1])
            session.out.flush()
            shown = True
    finally:
        if shown:
            session.out.write(CLEAR_LINE)
            session.out.flush()
    raise CommandError("the server ended the data-set check without a result")


def sample_data(args: argparse.Namespace, session: Session) -> int:
    response = session.client.generate_sample_data(
        args.format, count=args.count, seed=args.seed, output_path=args.output, overwrite=args.overwrite
    )
    if response.path:
        session.print(f"Wrote {response.record_count} {response.format} records to {response.path} (on the server).")
    else:
        session.out.write(response.content.decode("utf-8"))
        session.out.flush()
    return 0
