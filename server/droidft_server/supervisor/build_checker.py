"""BuildChecker: the server's handle on the build-check worker (worker/build_check.py), the BuildCheck that create
and EstimateResources use (domain/model_check.py).

The worker starts on the first check (importing mlx-lm takes it over a second, which the first create waits
for) and again after it died. Checks take turns on its pipe: each takes milliseconds.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import structlog

from ..domain.checkpoints import WORKER_LOG
from ..domain.errors import DroidftError, ErrorKind, Reason, shutting_down
from ..worker.build_check import READY, run_build_checker

log = structlog.get_logger("droidft.build_check")

# A build reads headers and config only. One that takes this long is stuck (a hung network mount, a file that is
# never written): its worker is ended and the model refused, as its training would hang the same way.
BUILD_SECONDS = 120.0
START_SECONDS = 120.0  # for the worker to import mlx-lm (about 1.3 s here)
STOP_SECONDS = 5.0


class BuildChecker:
    def __init__(self, log_dir: Path, timeout: float = BUILD_SECONDS) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._log_dir = log_dir
        self.timeout = timeout  # seconds one build may take
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Any = None
        self._closed = False

    def __call__(self, model_dir: Path, reward_model: bool) -> str | None:
        """None when mlx-lm builds the model at model_dir as the training worker loads it, else why it does not."""
        with self._lock:
            # A worker that ends during a check may have died before it (nothing watches it between checks):
            # the check is tried once more on a fresh worker, and a model that ends that one too is refused.
            for _ in range(2):
                connection = self._started()
                try:
                    connection.send((str(model_dir), reward_model))
                    if connection.poll(self.timeout):
                        return connection.recv()
                except (EOFError, OSError):
                    code = self._ended(model_dir, timed_out=False)
                    continue
                self._ended(model_dir, timed_out=True)
                return f"building it took over {self.timeout:.0f} s (the build check reads only headers)"
        return f"building it ended the process that tried (exit code {code}): its training would end so too"

    @property
    def pid(self) -> int | None:
        """The worker's process id; None before the first check, or after it ended (read without waiting for a
        check in progress)."""
        process = self._process
        return process.pid if process is not None else None

    def _started(self) -> Any:
        """The worker's connection, the worker started if it is not running (under the lock)."""
        if self._closed:
            raise shutting_down()
        if self._process is not None and self._process.is_alive():
            return self._connection
        self._end()
        self._log_dir.mkdir(parents=True, exist_ok=True)
        ours, theirs = self._context.Pipe(duplex=True)
        self._process = self._context.Process(
            target=run_build_checker, args=(theirs, str(self._log_dir)), name="droidft-build-check", daemon=True
        )
        self._process.start()
        theirs.close()
        self._connection = ours
        try:
            if ours.poll(START_SECONDS) and ours.recv() == READY:
                log.info("build_check_started", pid=self._process.pid)
                return ours
        except (EOFError, OSError):
            pass
        code = self._process.exitcode
        self._process.kill()
        self._end()
        if self._closed:
            raise shutting_down()
        log.error("build_check_did_not_start", exit_code=code, log=str(self._log_dir / WORKER_LOG))
        raise DroidftError(
            ErrorKind.UNAVAILABLE,
            Reason.BUILD_CHECK_UNAVAILABLE,
            f"the server's build check did not start (exit code {code}); its log is {WORKER_LOG} in the server's "
            "build-check directory: not the model's fault, retry once the server's installation is mended",
        )

    def _ended(self, model_dir: Path, *, timed_out: bool) -> int | None:
        """End the worker, stuck or gone already, and return its exit code (under the lock); a check that a
        shutdown ended answers that the server is shutting down."""
        process = self._process
        process.kill()
        self._end()
        if self._closed:
            raise shutting_down()
        log.warning("build_check_worker_ended", model=str(model_dir), exit_code=process.exitcode, timed_out=timed_out)
        return process.exitcode

    def _end(self) -> None:
        """Close the pipe, so that the worker reads end-of-file and exits; kill it if it does not (under the lock).
        A worker that outlives even that (stuck in the kernel on a hung mount) is left to die with the server."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is not None:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join(STOP_SECONDS)
            if process.is_alive():
                log.warning("build_check_worker_left", pid=process.pid)

    def shutdown(self) -> None:
        """End the worker; a check in progress ends at once, its caller told that the server is shutting down."""
        self._closed = True
        process = self._process
        if process is not None:
            process.kill()
        with self._lock:
            self._end()
