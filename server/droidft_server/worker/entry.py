"""The worker process of one job: trains, and reports over a pipe.

Runs in a process of its own (multiprocessing "spawn"), so the server never loads MLX and a
crash in training cannot take it down; the server imports this module only to name the entry point.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from droidft.v1 import job_pb2, progress_pb2

from ..domain import events
from ..domain.rewards import load_reward_plugins
from ..domain.spec import resolve
from . import blas
from .contract import TrainingContext
from .protocol import WORKER_LOG, Event, Failed, Finished, Started, WorkerJob
from .trainers import trainer_for

TRACEBACK_LINES = 12  # of a training error, sent as a log event
PR_SET_PDEATHSIG = 1  # prctl(2): the signal the kernel sends this process when its parent dies
ORPHAN_CHECK_SECONDS = 0.5
EXIT_ORPHANED = 75  # the server is gone: nobody to train for


def _redirect_output(log_path: Path) -> None:
    """Send fd 1 and 2 to the log so that native (MLX) output lands there too."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # New line-buffered streams: the inherited ones may be missing (a server without a terminal).
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115


def _seed(seed: int) -> None:
    import mlx.core as mx
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    mx.random.seed(seed)


def _quiet_mlx_lm() -> None:
    """mlx-lm draws a terminal progress UI; progress reaches the server as events instead."""
    from mlx_lm.cli_ui import make_console

    make_console().quiet = True


def _send_event(send: Any, event: progress_pb2.TrainingProgress) -> None:
    send(Event(events.stamped(event).SerializeToString()))


def run_job(job: WorkerJob, send: Callable[[Any], None], should_stop: Callable[[], bool]) -> Finished:
    """Train the job in this process; `send` gets each protocol message but the last, which is returned."""
    spec = job_pb2.TrainingJobSpec.FromString(job.spec)
    settings = resolve(spec)
    load_reward_plugins(list(job.reward_plugins))
    trainer = trainer_for(settings.method)
    _seed(settings.seed)
    _quiet_mlx_lm()
    ctx = TrainingContext(
        job_id=job.job_id,
        spec=spec,
        settings=settings,
        output_dir=Path(job.output_dir),
        emit=partial(_send_event, send),
        should_stop=should_stop,
    )
    result = trainer(ctx)
    return Finished(result.adapter_path, result.stopped_early, result.message)


def _die_with_the_server() -> None:
    """A worker must not outlive its server: a restarted server would run another job beside it (two
    trainings under --max-concurrent-jobs 1), or this job twice. On Linux the kernel kills the worker
    when the server dies; elsewhere a watchdog thread sees the worker orphaned and ends it."""
    server = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:  # it died before prctl took effect
        os._exit(EXIT_ORPHANED)

    def watch() -> None:
        while True:
            time.sleep(ORPHAN_CHECK_SECONDS)  # a timer: nothing signals a parent's death portably
            if os.getppid() != server:
                os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="droidft-orphan-watch", daemon=True).start()


def run_worker(job: WorkerJob, connection: Connection, cancel: Any) -> None:
    """Process entry point; `cancel` is a multiprocessing Event set when the job should stop."""
    _die_with_the_server()
    _redirect_output(Path(job.output_dir) / WORKER_LOG)
    try:
        blas.load(job.blas_threads)  # before MLX is imported, or it keeps its own BLAS
        connection.send(Started(blas.describe_device()))
        connection.send(run_job(job, connection.send, cancel.is_set))
    except Exception as error:
        lines = traceback.format_exc()
        print(lines, file=sys.stderr)
        tail = "\n".join(lines.rstrip().splitlines()[-TRACEBACK_LINES:])
        _send_event(connection.send, events.log(progress_pb2.LOG_LEVEL_ERROR, tail))
        connection.send(Failed(f"{type(error).__name__}: {error}"))
    finally:
        connection.close()
