"""The `droidft` command: argument parsing, dispatch and error reporting."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from google.protobuf import json_format

from droidft.call_options import DEFAULT_TARGET
from droidft.cli import data, estimate, jobs, methods, plot, train, watch
from droidft.cli.session import CommandError, Session
from droidft.errors import DroidftError, UnavailableError

SERVER_ENV = "DROIDFT_SERVER"
ERROR_EXIT_CODE = 3
INTERRUPTED_EXIT_CODE = 130
BROKEN_PIPE_EXIT_CODE = 141  # what a shell reports for a reader that went away (128 + SIGPIPE)
COMMAND_GROUPS = (methods, train, estimate, jobs, watch, plot, data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="droidft", description="Fine-tune language models on a droidft server.")
    parser.add_argument(
        "--server",
        metavar="HOST:PORT",
        default=os.environ.get(SERVER_ENV, DEFAULT_TARGET),
        help=f"server address (default: ${SERVER_ENV} or {DEFAULT_TARGET})",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (0 success, 3 error; watch: 1 failed, 2 cancelled)."""
    args = build_parser().parse_args(argv)
    session = Session(server=args.server, out=sys.stdout)
    try:
        return args.handler(args, session)
    except BrokenPipeError:
        # The reader (e.g. `| head`) has gone: stop quietly, and keep Python's exit-time flush from failing too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT_CODE
    except UnavailableError as error:
        return _report(f"{error}\n(is a droidft server listening on {args.server}?)")
    except (DroidftError, CommandError, ValueError, json_format.ParseError) as error:
        return _report(str(error))
    except OSError as error:
        return _report(f"{error.strerror or error}: {error.filename}" if error.filename else str(error))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    finally:
        session.close()


def _report(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return ERROR_EXIT_CODE
