"""droidft-server: the command that runs the service, and the tools that work on the server's machine.

`droidft-server serve` (also what a bare `droidft-server --listen ...` runs) serves the API;
`demo`, `tiny-model` and `convert-data` work on local files and need no running server.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import sys
from pathlib import Path

from .domain.files import DEFAULT_MAX_UPLOAD_BYTES

COMMANDS = ("serve", "demo", "tiny-model", "convert-data")
# Exit code of convert-data when it refuses a conversion (the droidft CLI's code for a refused request).
REFUSED = 3
USAGE = 2  # options that cannot serve as given, as argparse answers a bad flag


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="droidft-server", description="Fine-tune language models with MLX over gRPC.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve_arguments(commands.add_parser("serve", help="serve the API (the default command)"))
    commands.add_parser("demo", help="build the tiny model, start a server and train a job through the droidft CLI")
    tiny_model = commands.add_parser("tiny-model", help="write a tiny random llama model in the Hugging Face layout")
    tiny_model.add_argument("output_dir", type=Path, metavar="OUTPUT_DIR")
    tiny_model.add_argument("--seed", type=int, default=0, help="the same seed writes byte-identical files")
    convert = commands.add_parser(
        "convert-data",
        help="convert a data set file to another format, without losing "
        "or inventing information (refused otherwise, exit code 3)",
    )
    convert.add_argument(
        "source", type=Path, metavar="SRC", help="data file to read (JSON Lines, JSON array, CSV or Parquet; gzip too)"
    )
    convert.add_argument("destination", type=Path, metavar="DST", help="JSONL file to write")
    convert.add_argument("--to", dest="to_format", required=True, metavar="FORMAT", help="e.g. chat_messages")
    convert.add_argument(
        "--from",
        dest="from_format",
        default="",
        metavar="FORMAT",
        help="source format (default: detected from the first record)",
    )
    return parser


def _add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT to serve on; port 0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once serving")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("DROIDFT_STATE_DIR", "var/state")),
        help="jobs database, adapters and checkpoints (default: var/state)",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a directory requests may read data from and write generated data to (repeatable; "
        "relative request paths start at the first; default: the working directory)",
    )
    parser.add_argument(
        "--model-root",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a directory requests may read models from (repeatable; relative model paths start at the first; "
        "default: the working directory)",
    )
    parser.add_argument("--max-concurrent-jobs", type=int, default=1, help="jobs training at the same time")
    parser.add_argument(
        "--max-queued-jobs",
        type=int,
        default=1000,
        help="jobs waiting QUEUED at most; past it CreateTrainingJob answers RESOURCE_EXHAUSTED (QUEUE_FULL)",
    )
    parser.add_argument(
        "--rpc-threads", type=int, default=64, help="threads running the blocking work of calls (streams hold none)"
    )
    parser.add_argument(
        "--max-streams",
        type=int,
        default=10_000,
        help="open streams at most; past it a new stream answers RESOURCE_EXHAUSTED (TOO_MANY_STREAMS)",
    )
    parser.add_argument(
        "--reward-plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="Python module registering extra reward functions (repeatable)",
    )
    parser.add_argument(
        "--rank-launcher",
        metavar="COMMAND",
        help="the command that starts a rank of a distributed job on another machine, {host} standing for its "
        'address, e.g. "ssh -o BatchMode=yes {host}"; without it every rank runs on this machine',
    )
    parser.add_argument(
        "--on-restart",
        choices=["resume", "fail"],
        default="resume",
        help="jobs that were running when the server stopped or died: go on from their last full-state checkpoint "
        "(resume), or end FAILED with reason SERVER_RESTARTED, resumable later by ResumeTrainingJob (fail)",
    )
    parser.add_argument(
        "--on-insufficient-memory",
        choices=["refuse", "warn"],
        default="refuse",
        help="when a job's predicted peak memory does not fit the device: refuse it "
        "(RESOURCE_EXHAUSTED) or accept it with a warning in its events",
    )
    parser.add_argument(
        "--auth-token-file",
        type=Path,
        metavar="PATH",
        help="bearer tokens, one a line (name:token names one); every call but health needs one; re-read on SIGHUP",
    )
    parser.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="serve an address beyond loopback without --auth-token-file (refused otherwise)",
    )
    parser.add_argument("--tls-cert", type=Path, metavar="PEM", help="the server's certificate chain: serve TLS")
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca", type=Path, metavar="PEM", help="CA of client certificates: mutual TLS, others refused"
    )
    parser.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (no tokens there: keep it on a private address)",
    )
    parser.add_argument(
        "--http-listen",
        metavar="HOST:PORT",
        help="also serve the web console and the service for browsers (Connect, gRPC-Web) here; port 0 picks one",
    )
    parser.add_argument("--http-port-file", type=Path, help="write the bound --http-listen port here once serving")
    parser.add_argument(
        "--max-upload-bytes",
        type=int,
        default=DEFAULT_MAX_UPLOAD_BYTES,
        metavar="N",
        help=f"largest file UploadFile takes, in bytes (default {DEFAULT_MAX_UPLOAD_BYTES}: 10 GiB)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _write_port_file(path: Path, port: int) -> None:
    # Written whole then renamed, so a reader never sees a partial number.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n")
    partial.replace(path)


def _leave_rich_out() -> None:
    """structlog imports rich when it is installed (typer, a dependency of a dependency, brings it) for console
    tracebacks and pretty-printing that a server never makes: its logs are JSON lines. That import is about 70 ms
    of the server's start-up. A serving process marks rich absent before structlog's first import; nothing else in
    it uses rich, and its workers are fresh interpreters (spawned), which import what they need."""
    sys.modules.setdefault("rich", None)


def _serve(args: argparse.Namespace) -> int:
    _leave_rich_out()
    from . import logging as droidft_logging
    from .app import DroidftServer, ServerConfig
    from .persistence.sqlite_store import StateDirError
    from .transport.auth import TokenFileError
    from .transport.security import SecurityConfigError

    droidft_logging.configure(args.log_level)
    config = ServerConfig(
        state_dir=args.state_dir.resolve(),
        listen=args.listen,
        max_concurrent_jobs=args.max_concurrent_jobs,
        max_queued_jobs=args.max_queued_jobs,
        rpc_threads=args.rpc_threads,
        max_streams=args.max_streams,
        reward_plugins=args.reward_plugin,
        refuse_when_memory_short=args.on_insufficient_memory == "refuse",
        resume_on_restart=args.on_restart == "resume",
        data_roots=args.data_root,
        model_roots=args.model_root,
        auth_token_file=args.auth_token_file,
        allow_unauthenticated=args.allow_unauthenticated,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        metrics_listen=args.metrics_listen,
        http_listen=args.http_listen,
        rank_launcher=shlex.split(args.rank_launcher or ""),
        max_upload_bytes=args.max_upload_bytes,
    )
    # Signals are taken from before the server starts: it logs "serving" as soon as it listens, and a SIGTERM or
    # SIGHUP sent on that cue must not meet the default action (the end of the process).
    with _SignalInbox() as inbox:
        try:
            server = DroidftServer(config)
        except (SecurityConfigError, TokenFileError, StateDirError) as refused:
            print(f"droidft-server: {refused}", file=sys.stderr)
            return USAGE
        if args.port_file:
            _write_port_file(args.port_file, server.port)
        if args.http_port_file and server.http_port is not None:
            _write_port_file(args.http_port_file, server.http_port)
        while not inbox.wait() & _STOP_SIGNALS:
            server.reload_tokens()  # SIGHUP, the only other signal taken
        server.stop()
    return 0


_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class _SignalInbox:
    """The signals the server takes (SIGTERM, SIGINT, SIGHUP), for the main thread to act on outside any handler.

    Their Python handlers do nothing, because Python runs a handler between any two bytecodes of the main thread,
    inside a held lock or another handler too: a SIGHUP that came while the stop wrote its log line, and whose
    handler reloaded the tokens and logged in turn, waited on the log's lock for ever. Instead Python's C handler
    writes each signal's number to the wake-up socket, from whichever thread the kernel handed the signal to
    (often one of gRPC's), and `wait` reads them there. Signals that come before the first `wait`, while the
    server starts, wait in the socket. When the inbox closes the process is ending, and these signals are ignored
    from then on: a late one must not turn a clean exit into a kill (Python's own exit would restore the default
    action of a signal that has a Python handler, which ends the process)."""

    def __enter__(self) -> _SignalInbox:
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)  # the C handler must never block
        self._previous_wakeup = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        for signum in (*_STOP_SIGNALS, signal.SIGHUP):
            signal.signal(signum, _taken_by_the_inbox)
        return self

    def wait(self) -> set[int]:
        """Sleep until at least one signal has come, and return those that have."""
        return set(self._read.recv(4096))

    def __exit__(self, *_) -> None:
        for signum in (*_STOP_SIGNALS, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        signal.set_wakeup_fd(self._previous_wakeup)
        self._read.close()
        self._write.close()


def _taken_by_the_inbox(signum, frame) -> None:
    """A signal's Python handler, there only so that the signal is caught and reaches `_SignalInbox`."""


def _demo(args: argparse.Namespace) -> int:
    from .devtools import demo

    demo.main()
    return 0


def _tiny_model(args: argparse.Namespace) -> int:
    from .devtools.tiny_model import build_tiny_model

    print(build_tiny_model(args.output_dir, seed=args.seed))
    return 0


def _convert_data(args: argparse.Namespace) -> int:
    from .domain.datasets import ConversionError, convert_file

    try:
        written = convert_file(args.source, args.destination, args.to_format, from_format=args.from_format)
    except ConversionError as refused:
        print(f"droidft-server convert-data: {refused}", file=sys.stderr)
        return REFUSED
    print(f"Wrote {written} {args.to_format} records to {args.destination}.")
    return 0


HANDLERS = {"serve": _serve, "demo": _demo, "tiny-model": _tiny_model, "convert-data": _convert_data}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv.insert(0, "serve")  # `droidft-server --listen ...` serves, as it always has
    args = _parser().parse_args(argv)
    return HANDLERS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
