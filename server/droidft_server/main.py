"""droidft-server: the command that runs the service."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from . import logging as droidft_logging
from .app import DroidftServer, ServerConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="droidft-server", description="Fine-tune language models with MLX over gRPC.")
    parser.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT to serve on; port 0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once serving")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("DROIDFT_STATE_DIR", "var/state")),
                        help="jobs database, adapters and checkpoints (default: var/state)")
    parser.add_argument("--max-concurrent-jobs", type=int, default=1, help="jobs training at the same time")
    parser.add_argument("--rpc-threads", type=int, default=64,
                        help="threads serving RPCs; each open progress stream holds one")
    parser.add_argument("--reward-plugin", action="append", default=[], metavar="MODULE",
                        help="Python module registering extra reward functions (repeatable)")
    parser.add_argument("--on-insufficient-memory", choices=["refuse", "warn"], default="refuse",
                        help="when a job's predicted peak memory does not fit the device: refuse it "
                             "(RESOURCE_EXHAUSTED) or accept it with a warning in its events")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def _write_port_file(path: Path, port: int) -> None:
    # Written whole then renamed, so a reader never sees a partial number.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n")
    partial.replace(path)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    droidft_logging.configure(args.log_level)
    config = ServerConfig(
        state_dir=args.state_dir.resolve(),
        listen=args.listen,
        max_concurrent_jobs=args.max_concurrent_jobs,
        rpc_threads=args.rpc_threads,
        reward_plugins=args.reward_plugin,
        refuse_when_memory_short=args.on_insufficient_memory == "refuse",
    )
    server = DroidftServer(config)
    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_requested.set())
    if args.port_file:
        _write_port_file(args.port_file, server.port)
    stop_requested.wait()
    server.stop()


if __name__ == "__main__":
    main()
