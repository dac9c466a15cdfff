"""`droidft tiny-model build`: a tiny random model for trying the service out (needs the server package)."""

from __future__ import annotations

import argparse
from pathlib import Path

from droidft.cli.server_package import import_server_module
from droidft.cli.session import Session


def register(subparsers) -> None:
    parser = subparsers.add_parser("tiny-model", help="build a tiny random model (needs droidft-server)")
    commands = parser.add_subparsers(dest="tiny_model_command", required=True, metavar="COMMAND")
    build = commands.add_parser("build", help="write a tiny model in the Hugging Face layout, on this machine")
    build.add_argument("output_dir", type=Path, metavar="OUTPUT_DIR")
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(handler=build_model)


def build_model(args: argparse.Namespace, session: Session) -> int:
    tinymodel = import_server_module("droidft_server.tinymodel", "tiny-model")
    path = tinymodel.build_tiny_model(args.output_dir, seed=args.seed)
    session.print(f"Built a tiny model in {path}")
    return 0
