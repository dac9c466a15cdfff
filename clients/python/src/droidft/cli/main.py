"""The `droidft` command: argument parsing, dispatch and error reporting."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import json_format

from droidft.call_options import DEFAULT_TARGET, Tls
from droidft.cli import data, estimate, jobs, methods, plot, sampling, train, transfers, watch
from droidft.cli.session import CommandError, Session
from droidft.errors import DroidftError, UnavailableError

SERVER_ENV = "DROIDFT_SERVER"
TOKEN_ENV = "DROIDFT_TOKEN"
ERROR_EXIT_CODE = 3
INTERRUPTED_EXIT_CODE = 130
BROKEN_PIPE_EXIT_CODE = 141  # what a shell reports for a reader that went away (128 + SIGPIPE)
COMMAND_GROUPS = (methods, train, estimate, jobs, watch, plot, data, transfers, sampling)


class _Parser(argparse.ArgumentParser):
    """argparse, with the closest known flags named for an unknown one ("did you mean")."""

    def error(self, message: str):
        if message.startswith("unrecognized arguments: "):
            known = [option for parser in _parsers(self) for option in parser._option_string_actions]
            for token in message.removeprefix("unrecognized arguments: ").split():
                close = difflib.get_close_matches(token.split("=")[0], known, n=3, cutoff=0.7)
                if close:
                    message += f"\n  {token}: did you mean {' or '.join(dict.fromkeys(close))}?"
        super().error(message)


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="droidft", description="Fine-tune language models on a droidft server.")
    parser.add_argument(
        "--server",
        metavar="HOST:PORT",
        default=os.environ.get(SERVER_ENV, DEFAULT_TARGET),
        help=f"server address (default: ${SERVER_ENV} or {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"bearer token of a server that asks for one (default: ${TOKEN_ENV}, which keeps it out of `ps`)",
    )
    parser.add_argument("--tls", action="store_true", help="speak TLS, trusting the system's CAs")
    parser.add_argument("--tls-ca", type=Path, metavar="PEM", help="speak TLS, trusting this CA (implies --tls)")
    parser.add_argument("--tls-cert", type=Path, metavar="PEM", help="client certificate for mutual TLS")
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="private key of --tls-cert")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def _tls(args: argparse.Namespace) -> Tls | None:
    if not (args.tls or args.tls_ca or args.tls_cert or args.tls_key):
        return None
    return Tls(ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (0 success, 3 error; watch: 1 failed, 2 cancelled)."""
    args = build_parser().parse_args(argv)
    session = Session(server=args.server, out=sys.stdout, token=args.token, tls=_tls(args))
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
