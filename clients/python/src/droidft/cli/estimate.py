"""`droidft estimate`: predicted peak memory and time of a job, without running it."""

from __future__ import annotations

import argparse

from droidft.cli.estimate_view import estimate_report
from droidft.cli.render import message_json
from droidft.cli.session import Session
from droidft.cli.spec_arguments import add_spec_arguments, build_spec

DOES_NOT_FIT_EXIT_CODE = 1


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="predict a job's peak memory and time (exit code 1 when it would not fit)",
        description="Predict a job's peak memory and time without running it. Takes the same spec flags as train.",
    )
    add_spec_arguments(parser)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, session: Session) -> int:
    estimate = session.client.estimate_resources(build_spec(args)).estimate
    session.print(message_json(estimate) if args.json else estimate_report(estimate))
    return 0 if estimate.fits else DOES_NOT_FIT_EXIT_CODE
