"""The ranks of a distributed job: one worker process per rank, started, watched and stopped together.

The server starts each rank itself, as mlx.launch would but without it (mlx.launch exits 0 when a rank
fails, and a rank that never starts leaves the others waiting forever): it picks a free port on each rank's
address, writes MLX's ring host file, and starts every rank with its number and that file. Rank 0 is the
job's worker (its events are the job's progress); every rank reports when it started and joined the ring
(RankStatus events, the ranks' liveness). Any rank failing fails the job: the other ranks are stopped at
once (a rank that lost its ring neighbour ends by itself within about a second anyway), and a job whose
ranks have not all joined the ring within the start timeout fails too. No rank outlives the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from droidft.v1 import distributed_pb2, progress_pb2

from ..domain.checkpoints import RANKS_DIR, WORKER_LOG, last_log_lines, rank_dir
from ..domain.distributed import is_local, ring_addresses, ring_ports, write_ring_hostfile
from ..domain.errors import Reason
from ..domain.spec import DistributedSettings
from ..worker.entry import run_worker
from ..worker.process import PR_SET_PDEATHSIG
from ..worker.protocol import Connected, Event, Failed, Finished, Started, WorkerJob

logger = logging.getLogger(__name__)

RING_HOSTFILE = "ring.json"  # in the job's ranks directory
LOG_LINES = 8  # of a failed rank's log, in the job's error
STOP_SECONDS = 3.0  # for a rank asked to end (SIGTERM) before it is killed
FINISH_SECONDS = 30.0  # for the other ranks to exit once rank 0 finished (they have nothing left to write)
# After a first failure, for the other ranks to end by themselves: how each ended tells which failed first.
SETTLE_SECONDS = 1.0


@dataclass
class Rank:
    rank: int
    host: str
    process: Any  # a spawn-context Process
    receiver: Connection
    result: Finished | Failed | None = None
    started: bool = False
    connected: bool = False
    ended: bool = False  # its pipe closed


@dataclass(frozen=True)
class RankFailure:
    reason: int  # Reason.RANK_FAILED, RANKS_DID_NOT_START, or TRAINING_ERROR (rank 0's own error)
    message: str


def exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def start_ranks(
    context: Any,
    job: WorkerJob,
    distributed: DistributedSettings,
    stop: Any,
    output_dir: Path,
    launcher: tuple[str, ...],
) -> list[Rank]:
    """Start every rank: a worker process here for an address of this machine, the rank launcher for another's."""
    ports = ring_ports(distributed)
    addresses = ring_addresses(distributed.hosts, ports)
    hostfile = output_dir / RANKS_DIR / RING_HOSTFILE
    hostfile.parent.mkdir(parents=True, exist_ok=True)
    write_ring_hostfile(hostfile, distributed.hosts, ports)
    local = [is_local(host) for host in distributed.hosts]
    # The ranks on this machine share the job's cores.
    threads = max(1, job.blas_threads // sum(local))
    ranks = []
    try:
        for rank, host in enumerate(distributed.hosts):
            rank_job = dataclasses.replace(job, rank=rank, ring_hostfile=str(hostfile), blas_threads=threads)
            if local[rank]:
                receiver, sender = context.Pipe(duplex=False)
                name = f"droidft-worker-{job.job_id}-{rank}"
                process = context.Process(target=run_worker, args=(rank_job, sender, stop), name=name, daemon=True)
                process.start()
                sender.close()  # only the child holds the sending end: its death reads as end-of-file here
            else:
                rank_job = dataclasses.replace(rank_job, blas_threads=job.blas_threads)  # that machine's cores
                process, receiver = _launch(launcher, host, rank_job, addresses, output_dir)
            ranks.append(Rank(rank, host, process, receiver))
    except BaseException:
        stop_ranks(ranks)
        raise
    return ranks


class RemoteProcess:
    """The launcher's process of a rank on another machine, seen as a multiprocessing Process. Ending it ends the
    rank: the launcher's connection closes, and with it the rank's stdin (worker/remote_rank.py)."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self._popen = popen
        self.pid = popen.pid

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout)
        if self._popen.poll() is not None and self._popen.stdin is not None:
            self._popen.stdin.close()


def _die_with_this_process() -> None:
    """In the launcher's child: the kernel kills it when the server dies (Linux), as it does the local workers."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _launch(
    launcher: tuple[str, ...], host: str, job: WorkerJob, addresses: list[list[str]], output_dir: Path
) -> tuple[RemoteProcess, Connection]:
    command = [part.replace("{host}", host) for part in launcher]
    command += [sys.executable, "-m", "droidft_server.worker.remote_rank"]
    log_dir = rank_dir(output_dir, job.rank)
    log_dir.mkdir(parents=True, exist_ok=True)
    # The launcher's own errors (ssh's "connection refused") land in the rank's log here, which a failed job quotes.
    with open(log_dir / WORKER_LOG, "ab") as log:
        popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            preexec_fn=_die_with_this_process if sys.platform.startswith("linux") else None,
        )
    receiver = Connection(os.dup(popen.stdout.fileno()), writable=False)
    popen.stdout.close()
    # A launcher that failed at once (no route, refused login) took nothing: its exit and its log tell the relay.
    with contextlib.suppress(BrokenPipeError):
        Connection(os.dup(popen.stdin.fileno()), readable=False).send((job, addresses))
    return RemoteProcess(popen), receiver


def stop_ranks(ranks: list[Rank]) -> None:
    """End every rank still running: SIGTERM, then SIGKILL after STOP_SECONDS; returns once all have exited."""
    for rank in ranks:
        if rank.process.is_alive():
            rank.process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for rank in ranks:
        rank.process.join(max(0.0, deadline - time.monotonic()))
        if rank.process.is_alive():
            rank.process.kill()
            rank.process.join()


def _status(rank: Rank, ranks: int, state: int, message: str = "") -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(
        rank_status=distributed_pb2.RankStatus(
            rank=rank.rank, ranks=ranks, state=state, host=rank.host, message=message
        )
    )


class RankRelay:
    """Passes rank 0's messages on and watches every rank until all have ended (or one failed)."""

    def __init__(
        self,
        ranks: list[Rank],
        output_dir: Path,
        start_timeout_s: float,
        on_started: Callable[[str], None],
        on_event: Callable[[progress_pb2.TrainingProgress], None],
    ) -> None:
        self._ranks = ranks
        self._output_dir = output_dir
        self._start_timeout_s = start_timeout_s
        self._on_started = on_started
        self._on_event = on_event

    def run(self) -> tuple[Finished | Failed | None, RankFailure | None]:
        """Rank 0's result and, when any rank failed or did not start, the failure; every rank has exited."""
        failure = None
        try:
            failure = self._watch()
        finally:
            if failure is not None:
                self._settle()
            stop_ranks(self._ranks)
            for rank in self._ranks:
                rank.receiver.close()
        if failure is not None and failure.reason == Reason.RANK_FAILED:
            failure = self._describe_failure()
        return self._ranks[0].result, failure

    def _watch(self) -> RankFailure | None:
        start_deadline = time.monotonic() + self._start_timeout_s
        finish_deadline = None  # once rank 0 is done, the others end with it
        while open_ranks := {rank.receiver: rank for rank in self._ranks if not rank.ended}:
            if self._ranks[0].ended and finish_deadline is None:
                finish_deadline = time.monotonic() + FINISH_SECONDS
            deadline = finish_deadline or (None if all(r.connected for r in self._ranks) else start_deadline)
            ready = wait(list(open_ranks), None if deadline is None else max(0.0, deadline - time.monotonic()))
            if not ready and self._ranks[0].ended:
                logger.warning("ranks of a finished job did not exit within %ss; stopping them", FINISH_SECONDS)
                return None
            if not ready:
                return self._late()
            for receiver in ready:
                if failure := self._receive(open_ranks[receiver]):
                    return failure
        return None

    def _late(self) -> RankFailure:
        unstarted = [str(rank.rank) for rank in self._ranks if not rank.started]
        waiting = [str(rank.rank) for rank in self._ranks if rank.started and not rank.connected]
        what = [f"rank(s) {', '.join(unstarted)} did not start"] if unstarted else []
        what += [f"rank(s) {', '.join(waiting)} started but found no ring to join"] if waiting else []
        return RankFailure(
            Reason.RANKS_DID_NOT_START,
            f"not every one of the {len(self._ranks)} ranks joined the ring within {self._start_timeout_s:g}s "
            f"(spec.distributed.start_timeout_seconds): {'; '.join(what)}; every rank was stopped",
        )

    def _receive(self, rank: Rank) -> RankFailure | None:
        try:
            message = rank.receiver.recv()
        except (EOFError, OSError):
            rank.ended = True
            rank.process.join(STOP_SECONDS)  # it closed its pipe: it is exiting (stop_ranks waits for it at the end)
            if not isinstance(rank.result, Finished) or rank.process.exitcode not in (0, None):
                return RankFailure(Reason.RANK_FAILED, "")
            self._on_event(_status(rank, len(self._ranks), distributed_pb2.RANK_STATE_EXITED, "finished"))
            return None
        if isinstance(message, Started):
            rank.started = True
            self._on_event(_status(rank, len(self._ranks), distributed_pb2.RANK_STATE_STARTED, message.device))
            if rank.rank == 0:
                self._on_started(f"{message.device}; {len(self._ranks)} ranks")
        elif isinstance(message, Connected):
            rank.connected = True
            self._on_event(_status(rank, len(self._ranks), distributed_pb2.RANK_STATE_CONNECTED))
        elif isinstance(message, Event):
            self._on_event(progress_pb2.TrainingProgress.FromString(message.progress))
        else:
            rank.result = message
            if isinstance(message, Failed):
                return RankFailure(Reason.RANK_FAILED, "")
        return None

    def _settle(self) -> None:
        """Collect what the other ranks say as they end by themselves, for at most SETTLE_SECONDS."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while open_ranks := {rank.receiver: rank for rank in self._ranks if not rank.ended}:
            ready = wait(list(open_ranks), max(0.0, deadline - time.monotonic()))
            if not ready:
                return
            for receiver in ready:
                with contextlib.suppress(Exception):
                    self._receive(open_ranks[receiver])

    def _ending(self, rank: Rank) -> str:
        if isinstance(rank.result, Failed):
            return f"failed: {rank.result.message}"
        if rank.result is None:
            return f"{exit_description(rank.process.exitcode)} before reporting a result"
        return "finished"

    def _describe_failure(self) -> RankFailure:
        """Name the rank that failed first: one that died (a crash makes its neighbours fail over the ring),
        else the first that reported an error; rank 0's own error is the job's training error."""
        failed = [rank for rank in self._ranks if rank.result is None or isinstance(rank.result, Failed)]
        died = [rank for rank in failed if rank.result is None and rank.process.exitcode not in (0, -signal.SIGTERM)]
        culprit = (died or failed or self._ranks)[0]
        for rank in self._ranks:
            if rank is not culprit and not (rank.ended and isinstance(rank.result, Finished)):
                self._on_event(_status(rank, len(self._ranks), distributed_pb2.RANK_STATE_FAILED, self._ending(rank)))
        ending = self._ending(culprit)
        self._on_event(_status(culprit, len(self._ranks), distributed_pb2.RANK_STATE_FAILED, ending))
        if culprit.rank == 0 and isinstance(culprit.result, Failed):
            return RankFailure(Reason.TRAINING_ERROR, culprit.result.message)
        message = f"rank {culprit.rank} of {len(self._ranks)} ({culprit.host}) {ending}; the other ranks were stopped"
        if lines := last_log_lines(rank_dir(self._output_dir, culprit.rank), LOG_LINES):
            message += "; its last lines:\n" + "\n".join(lines)
        return RankFailure(Reason.RANK_FAILED, message)
