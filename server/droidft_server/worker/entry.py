"""The worker process of one job: trains, and reports over a pipe.

Runs in a process of its own (multiprocessing "spawn"), so the server never loads MLX and a
crash in training cannot take it down; the server imports this module only to name the entry point.
"""

from __future__ import annotations

import fcntl
import os
import random
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from google.protobuf import text_format

from droidft.v1 import job_pb2, progress_pb2

from ..domain import events
from ..domain.checkpoints import WORKER_LOCK, WORKER_LOG, rank_dir
from ..domain.datasets.training_data import DataPlan, detected_plan
from ..domain.job_data import data_plan
from ..domain.rewards import load_reward_plugins
from ..domain.runs import StopKind
from ..domain.spec import JobSettings, resolve
from . import blas
from .contract import TrainingContext
from .metrics_loggers import logging_to
from .process import die_with_the_server, quiet_mlx_lm, redirect_output
from .protocol import Connected, Event, Failed, Finished, Started, WorkerJob
from .trainers import trainer_for

TRACEBACK_LINES = 12  # of a training error, sent as a log event


def _seed(seed: int) -> None:
    import mlx.core as mx
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    mx.random.seed(seed)


def _send_event(send: Any, event: progress_pb2.TrainingProgress) -> None:
    stamped = events.stamped(event)
    # Also one line in the worker's log: the last lines of a worker that dies tell how far it got.
    print(text_format.MessageToString(stamped, as_one_line=True))
    send(Event(stamped.SerializeToString()))


def run_job(job: WorkerJob, send: Callable[[Any], None], should_stop: Callable[[], bool]) -> Finished:
    """Train the job in this process; `send` gets each protocol message but the last, which is returned."""
    spec = job_pb2.TrainingJobSpec.FromString(job.spec)
    kept = job_pb2.TrainingData.FromString(job.data) if job.data else None
    settings = resolve(spec, kept.train_records_used if kept is not None else None)
    if settings.epochs is not None and kept is None:  # create keeps the plan of every job; epochs are newer than it
        raise ValueError("an epochs job needs its data plan (TrainingJob.data) to count its iterations")
    load_reward_plugins(list(job.reward_plugins))
    trainer = trainer_for(settings.method)
    _seed(settings.seed)
    quiet_mlx_lm()
    resume = None
    if job.resume_from:
        from .training_state import read_checkpoint

        resume = read_checkpoint(Path(job.resume_from))
    output_dir = Path(job.output_dir)
    emit = partial(_send_event, send)
    logging = settings.metrics_logging if job.rank == 0 else None  # one log per job: rank 0's reports
    with logging_to(logging, job.job_id, spec, output_dir, emit) as emit:
        ctx = TrainingContext(
            job_id=job.job_id,
            spec=spec,
            settings=settings,
            data=_data_plan(job, settings),
            output_dir=output_dir,
            emit=emit,
            should_stop=should_stop,
            resume=resume,
            start_weights=Path(job.start_weights) if job.start_weights else None,
            rank=job.rank,
        )
        result = trainer(ctx)
    return Finished(result.adapter_path, result.stopped_early, result.message)


def _data_plan(job: WorkerJob, settings: JobSettings) -> DataPlan:
    if job.data:
        return data_plan(job_pb2.TrainingData.FromString(job.data), settings.data_keys)
    # A job accepted before create kept its data plan (stored jobs are resumed after an upgrade): its
    # format is found again, as create found it.
    return detected_plan(settings.train_data_path, settings.val_data_path, settings.method, settings.data_keys)


STOP_WORDS = {StopKind.NONE: "", StopKind.CANCEL: "cancelled", StopKind.PAUSE: "paused"}
LOCK_WAIT_SECONDS = 30.0  # for a leftover worker of the same job to die (it dies with its server)


def _hold_job_lock(output_dir: Path) -> None:
    """One worker per job, ever: hold the job's lock for this process's life (the kernel drops it when the
    process dies, however it dies). A leftover worker of the same job still holding it is waited for."""
    output_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(output_dir / WORKER_LOCK, os.O_WRONLY | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return  # fd stays open, unclosed, until the process exits
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"another worker of this job still holds {output_dir / WORKER_LOCK}") from None
            time.sleep(0.1)  # flock has no timeout of its own


def run_worker(job: WorkerJob, connection: Connection, stop: Any) -> None:
    """Process entry point; `stop` is a shared integer, a StopKind the server sets when the job should stop.

    A rank of a distributed job joins the ring first; only rank 0's events reach the server (every rank
    trains the same iterations, and rank 0 speaks for them), and the stop rank 0 reads is every rank's."""
    die_with_the_server()
    own_dir = rank_dir(Path(job.output_dir), job.rank)
    redirect_output(own_dir / WORKER_LOG)
    send_event = connection.send if job.rank == 0 else _drop
    try:
        _hold_job_lock(own_dir)
        blas.load(job.blas_threads)  # before MLX is imported, or it keeps its own BLAS
        connection.send(Started(blas.describe_device()))
        asked = _read(stop)
        if job.ring_hostfile:
            from .distributed import agreed, join_ring

            join_ring(job.rank, job.ring_hostfile)
            connection.send(Connected())
            asked = agreed(asked)
        connection.send(run_job(job, send_event, lambda: STOP_WORDS[StopKind(asked())]))
    except Exception as error:
        lines = traceback.format_exc()
        print(lines, file=sys.stderr)
        tail = "\n".join(lines.rstrip().splitlines()[-TRACEBACK_LINES:])
        _send_event(send_event, events.log(progress_pb2.LOG_LEVEL_ERROR, tail))
        connection.send(Failed(f"{type(error).__name__}: {error}"))
    finally:
        connection.close()


def _read(value: Any) -> Callable[[], int]:
    return lambda: value.value


def _drop(message: Any) -> None:
    """The events of ranks other than 0: in their own log only."""
