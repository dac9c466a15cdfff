"""ProcessRunner: runs each job in a worker process of its own and relays what it reports.

The worker's entry point imports MLX only inside the child process.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from droidft.v1 import job_pb2, progress_pb2

from ..domain.checkpoints import last_log_lines
from ..domain.errors import Reason
from ..domain.runs import FROM_THE_BEGINNING, STOPPED_STATE, RunListener, RunOutcome, RunStart, StopKind
from ..domain.spec import resolve
from ..worker.blas import worker_threads
from ..worker.entry import run_worker
from ..worker.protocol import Event, Failed, Finished, Started, WorkerJob
from .ranks import Rank, RankFailure, RankRelay, exit_description, start_ranks, stop_ranks

logger = logging.getLogger(__name__)


CRASH_LOG_LINES = 8  # of the worker's log, in the error of a worker that died


@dataclass
class _Run:
    job_id: str
    process: Any  # a spawn-context Process
    receiver: Connection
    stop: Any  # a spawn-context Value: StopKind, what the worker is asked to do after its iteration
    listener: RunListener
    output_dir: Path
    relay: threading.Thread | None = None
    ranks: list[Rank] | None = None  # of a distributed job (supervisor/ranks.py): rank 0 is `process`
    start_timeout_s: float = 0.0  # of a distributed job: for every rank to join the ring


class ProcessRunner:
    """A Runner with one worker process per job; the job manager decides how many run at once."""

    def __init__(
        self,
        grace_period_s: float = 30.0,
        reward_plugins: tuple[str, ...] = (),
        blas_threads: int | None = None,
        rank_launcher: tuple[str, ...] = (),
    ) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._reward_plugins = reward_plugins
        self._blas_threads = blas_threads or worker_threads(1)  # default: one worker has every core
        self._grace_period_s = grace_period_s  # for a worker to stop by itself before it is terminated
        self._rank_launcher = rank_launcher  # starts a rank of a distributed job on another machine
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def start(
        self,
        job_id: str,
        spec: job_pb2.TrainingJobSpec,
        output_dir: Path,
        listener: RunListener,
        start: RunStart = FROM_THE_BEGINNING,
        data: job_pb2.TrainingData | None = None,
    ) -> None:
        with self._lock:
            if job_id in self._runs:
                raise ValueError(f"job {job_id} is already running")
            output_dir.mkdir(parents=True, exist_ok=True)
            receiver, sender = self._context.Pipe(duplex=False)
            stop = self._context.Value("i", StopKind.NONE, lock=False)
            job = WorkerJob(
                job_id=job_id,
                spec=spec.SerializeToString(),
                output_dir=str(output_dir),
                reward_plugins=self._reward_plugins,
                blas_threads=self._blas_threads,
                resume_from=str(start.resume_from or ""),
                start_weights=str(start.start_weights or ""),
                data=data.SerializeToString() if data is not None else b"",
            )
            distributed = resolve(spec).distributed
            if distributed.ranks > 1:
                receiver.close()
                sender.close()
                ranks = start_ranks(self._context, job, distributed, stop, output_dir, self._rank_launcher)
                run = _Run(job_id, ranks[0].process, ranks[0].receiver, stop, listener, output_dir, ranks=ranks)
                run.start_timeout_s = distributed.start_timeout_seconds
            else:
                process = self._context.Process(
                    target=run_worker, args=(job, sender, stop), name=f"droidft-worker-{job_id}", daemon=True
                )
                process.start()
                # Only the child may hold the sending end, so that its death reads as end-of-file here.
                sender.close()
                run = _Run(job_id, process, receiver, stop, listener, output_dir)
            run.relay = threading.Thread(target=self._relay, args=(run,), name=f"droidft-relay-{job_id}", daemon=True)
            self._runs[job_id] = run
        run.relay.start()

    def stop(self, job_id: str, kind: StopKind) -> None:
        """Ask a started run to stop after its current iteration, writing a full-state checkpoint of it."""
        with self._lock:
            run = self._runs.get(job_id)
        if run is not None:
            run.stop.value = kind

    def shutdown(self) -> None:
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop.value = StopKind.PAUSE  # a server stop: each job is resumed on the next start
        for run in runs:
            run.relay.join(self._grace_period_s)
        for run in runs:
            if run.relay.is_alive():
                logger.warning(
                    "worker of job %s did not stop within %ss; terminating it", run.job_id, self._grace_period_s
                )
                for process in [rank.process for rank in run.ranks] if run.ranks else [run.process]:
                    process.terminate()
        for run in runs:
            run.relay.join()

    def _relay(self, run: _Run) -> None:
        """Pass the worker's messages to the listener until it exits, then report how it ended, once
        (also when it died before it could report on_started)."""
        if run.ranks:
            self._relay_ranks(run)
            return
        result: Finished | Failed | None = None
        try:
            while True:
                try:
                    message = run.receiver.recv()
                except EOFError:
                    break
                if isinstance(message, Started):
                    self._notify(run, "on_started", message.device)
                elif isinstance(message, Event):
                    self._notify(run, "on_event", progress_pb2.TrainingProgress.FromString(message.progress))
                else:
                    result = message
        except Exception:
            logger.exception("lost the connection to the worker of job %s", run.job_id)
        finally:
            run.receiver.close()
            self._reap(run)
            with self._lock:
                del self._runs[run.job_id]
            self._notify(run, "on_finished", self._outcome(run, result))

    def _relay_ranks(self, run: _Run) -> None:
        """_relay for the ranks of a distributed job: rank 0 speaks for the job, any rank failing fails it."""
        result, failure = None, RankFailure(Reason.RANK_FAILED, "the ranks could not be watched")
        try:
            relay = RankRelay(
                run.ranks,
                run.output_dir,
                run.start_timeout_s,
                lambda device: self._notify(run, "on_started", device),
                lambda event: self._notify(run, "on_event", event),
            )
            result, failure = relay.run()
        except Exception:
            logger.exception("lost the connection to the ranks of job %s", run.job_id)
            stop_ranks(run.ranks)
        finally:
            with self._lock:
                del self._runs[run.job_id]
            if failure is not None:
                outcome = RunOutcome(job_pb2.JOB_STATE_FAILED, error_reason=failure.reason, message=failure.message)
            else:
                outcome = self._outcome(run, result)
            self._notify(run, "on_finished", outcome)

    def _reap(self, run: _Run) -> None:
        run.process.join(self._grace_period_s)
        if run.process.is_alive():
            logger.warning("worker of job %s closed its pipe but did not exit; terminating it", run.job_id)
            run.process.terminate()
            run.process.join()

    @staticmethod
    def _outcome(run: _Run, result: Finished | Failed | None) -> RunOutcome:
        if isinstance(result, Finished):
            # A stop that came after the last iteration changed nothing: the job did all it was asked.
            stopped = result.stopped_early and run.stop.value != StopKind.NONE
            state = STOPPED_STATE[run.stop.value] if stopped else job_pb2.JOB_STATE_SUCCEEDED
            return RunOutcome(state=state, adapter_path=result.adapter_path, message=result.message)
        if isinstance(result, Failed):
            return RunOutcome(
                state=job_pb2.JOB_STATE_FAILED, error_reason=Reason.TRAINING_ERROR, message=result.message
            )
        message = f"the worker process {exit_description(run.process.exitcode)} before reporting a result"
        if lines := last_log_lines(run.output_dir, CRASH_LOG_LINES):
            message += "; its last lines:\n" + "\n".join(lines)
        return RunOutcome(state=job_pb2.JOB_STATE_FAILED, error_reason=Reason.WORKER_CRASHED, message=message)

    @staticmethod
    def _notify(run: _Run, method: str, *args: Any) -> None:
        try:
            getattr(run.listener, method)(run.job_id, *args)
        except Exception:
            logger.exception("listener %s failed for job %s", method, run.job_id)
