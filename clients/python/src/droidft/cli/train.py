"""`droidft train`: create a training job from flags and/or a proto JSON spec file."""

from __future__ import annotations

import argparse

from droidft.cli.session import Session
from droidft.cli.spec_arguments import add_spec_arguments, build_spec
from droidft.cli.watch import watch_job
from droidft.enums import job_state_name, method_name


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="start a training job",
        description="Start a training job. Paths are on the server. Flags override the --spec file.",
    )
    add_spec_arguments(parser)
    parser.add_argument("--request-id", default="", metavar="ID", help="idempotency key: a retry returns the same job")
    parser.add_argument("--validate-only", action="store_true", help="check everything, create nothing")
    parser.add_argument("--watch", action="store_true", help="follow the job until it ends (exit code as `watch`)")
    parser.set_defaults(handler=run)


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
