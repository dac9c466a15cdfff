"""A rank of a distributed job on another machine, started there by the server's rank launcher:

    <launcher> <python> -m droidft_server.worker.remote_rank

It reads its WorkerJob and the ring's addresses from stdin, speaks the worker protocol on stdout (the
framing of multiprocessing's connections, as a local worker does over its pipe) and ends when stdin
closes: the server, or the launcher's connection to it, is gone. Its log is the job's ranks/<rank>/worker.log
where the job's directory can be written on this machine (the same path, e.g. a shared state directory),
else in a temporary directory here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from ..domain.checkpoints import rank_dir
from .entry import run_worker
from .process import EXIT_ORPHANED


class _NoStop:
    """The stop a rank other than 0 reads: none (rank 0's is every rank's, worker/distributed.py)."""

    value = 0


def _exit_when_closed(inbound: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        inbound.recv()  # nothing more is sent: this returns when the server's end closes
    os._exit(EXIT_ORPHANED)


def main() -> None:
    inbound = Connection(os.dup(0), writable=False)
    outbound = Connection(os.dup(1), readable=False)
    job, addresses = inbound.recv()
    scratch = Path(tempfile.mkdtemp(prefix=f"droidft-{job.job_id}-rank{job.rank}-"))
    try:
        rank_dir(Path(job.output_dir), job.rank).mkdir(parents=True, exist_ok=True)
    except OSError:
        job = dataclasses.replace(job, output_dir=str(scratch))
    hostfile = scratch / "ring.json"
    hostfile.write_text(json.dumps(addresses), encoding="utf-8")
    threading.Thread(target=_exit_when_closed, args=(inbound,), name="droidft-server-watch", daemon=True).start()
    run_worker(dataclasses.replace(job, ring_hostfile=str(hostfile)), outbound, _NoStop())


if __name__ == "__main__":
    main()
