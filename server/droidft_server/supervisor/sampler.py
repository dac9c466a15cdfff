"""SamplerProcess: the one long-lived sampler worker, started on the first call and again after it dies.

Calls share its pipe: each has an id, and a reader thread hands every answer to its call's queue. The
worker runs calls one at a time in arrival order, so concurrent calls on one loaded model queue there.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import structlog

from ..domain.sampling import CANCELLED, EvaluationRequest, ModelKey, SamplerFailed, Sampling
from ..worker.sampler import run_sampler
from ..worker.sampler_protocol import CallDone, CallFailed, Cancel, EvaluateCall, GenerateCall, ModelLoaded

log = structlog.get_logger("droidft.sampler")

DEFAULT_CACHED_MODELS = 4
CANCEL_CHECK_SECONDS = 0.1  # how often a waiting call looks whether its caller went away
STOP_SECONDS = 5.0


class SamplerProcess:
    def __init__(self, log_dir: Path, blas_threads: int, cached_models: int = DEFAULT_CACHED_MODELS) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._log_dir = log_dir
        self._blas_threads = blas_threads
        self._cached_models = cached_models
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Any = None
        self._calls: dict[int, tuple[queue.Queue, Any]] = {}  # call id -> its answers, and the process it went to
        self._ids = itertools.count(1)
        self.loads = 0  # models the worker loaded (a cached model is not loaded again)
        self.cancelled = 0  # calls the worker stopped because their callers cancelled them
        self._cached: tuple[ModelKey, ...] = ()  # the models the worker holds, as it last told

    def _started(self) -> Any:
        """The worker's connection, the worker started if it is not running (under the lock)."""
        if self._process is None or not self._process.is_alive():
            self._log_dir.mkdir(parents=True, exist_ok=True)
            ours, theirs = self._context.Pipe(duplex=True)
            self._process = self._context.Process(
                target=run_sampler,
                args=(theirs, str(self._log_dir), self._blas_threads, self._cached_models),
                name="droidft-sampler",
                daemon=True,
            )
            self._process.start()
            theirs.close()
            self._connection = ours
            threading.Thread(
                target=self._read, args=(ours, self._process), name="droidft-sampler-relay", daemon=True
            ).start()
            log.info("sampler_started", pid=self._process.pid)
        return self._connection

    def _read(self, connection: Any, process: Any) -> None:
        try:
            while True:
                message = connection.recv()
                if isinstance(message, ModelLoaded):
                    self.loads += 1
                    self._cached = message.cached
                    log.info("sampler_model_loaded", model=message.model.model_path,
                             adapter=message.model.adapter_dir, loads=self.loads)  # fmt: skip
                    continue
                if isinstance(message, CallFailed) and message.message == CANCELLED:
                    self.cancelled += 1
                    log.info("sampler_call_cancelled", call=message.call_id)
                with self._lock:
                    call = self._calls.get(message.call_id)
                if call is not None:
                    call[0].put(message)
        except (EOFError, OSError):
            pass
        process.join(STOP_SECONDS)
        with self._lock:
            if self._process is process:
                self._process = None
                self._cached = ()
            pending = [(call_id, answers) for call_id, (answers, to) in self._calls.items() if to is process]
        for call_id, answers in pending:
            answers.put(CallFailed(call_id, f"the sampler process exited (code {process.exitcode})"))

    def kept_beside(self, models: list[ModelKey]) -> list[ModelKey]:
        """The other models the worker will still hold once it has loaded `models` (least recently used out)."""
        others = [key for key in self._cached if key not in models]
        room = max(self._cached_models - len(models), 0)
        return others[len(others) - room :] if room else []

    @property
    def pid(self) -> int | None:
        """The sampler worker's process id; None before the first call, or after it died."""
        with self._lock:
            return self._process.pid if self._process is not None else None

    def _call(self, make: Callable[[int], Any], is_active: Callable[[], bool]) -> Iterator[Any]:
        answers: queue.Queue = queue.Queue()
        with self._lock:
            call_id = next(self._ids)
            connection = self._started()
            self._calls[call_id] = (answers, self._process)
            connection.send(make(call_id))
        finished = cancelled = False
        try:
            while True:
                try:
                    message = answers.get(timeout=CANCEL_CHECK_SECONDS)
                except queue.Empty:
                    message = None
                if not cancelled and not is_active():
                    cancelled = True
                    self._cancel(connection, call_id)
                if message is None:
                    continue
                if isinstance(message, CallDone | CallFailed):
                    finished = True
                    if isinstance(message, CallFailed):
                        yield SamplerFailed(message.message)
                    return
                yield message
        finally:
            if not finished and not cancelled:  # the caller stopped reading
                self._cancel(connection, call_id)
            with self._lock:
                del self._calls[call_id]

    def _cancel(self, connection: Any, call_id: int) -> None:
        with self._lock, contextlib.suppress(OSError):  # a worker that is gone took the call with it
            connection.send(Cancel(call_id))

    def generate(
        self, model: ModelKey, sampling: Sampling, messages: tuple, prompt: str, is_active: Callable[[], bool]
    ) -> Iterator[Any]:
        return self._call(lambda call_id: GenerateCall(call_id, model, sampling, messages, prompt), is_active)

    def evaluate(self, request: EvaluationRequest, is_active: Callable[[], bool]) -> Iterator[Any]:
        return self._call(lambda call_id: EvaluateCall(call_id, request), is_active)

    def shutdown(self) -> None:
        with self._lock:
            process, connection = self._process, self._connection
            self._process = None
        if connection is not None:
            connection.close()  # the worker reads end-of-file and exits
        if process is not None:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.terminate()
                process.join()
