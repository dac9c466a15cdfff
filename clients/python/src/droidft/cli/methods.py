"""`droidft methods`: the training methods the server offers, with their parameters."""

from __future__ import annotations

import argparse

from droidft.cli.method_view import method_section, methods_overview
from droidft.cli.render import message_json
from droidft.cli.session import Session
from droidft.enums import parse_method
from droidft.v1 import service_pb2


def register(subparsers) -> None:
    parser = subparsers.add_parser("methods", help="list training methods and their parameters")
    parser.add_argument("method", nargs="?", help="show only this method (e.g. sft, gspo)")
    parser.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, session: Session) -> int:
    wanted = parse_method(args.method) if args.method else None
    methods = [m for m in session.client.list_training_methods().methods if wanted in (None, m.method)]
    if args.json:
        session.print(message_json(service_pb2.ListTrainingMethodsResponse(methods=methods)))
    else:
        session.print("\n\n".join([methods_overview(methods)] + [method_section(m) for m in methods]))
    return 0
