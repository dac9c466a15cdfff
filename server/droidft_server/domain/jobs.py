"""The job manager: accepts jobs, schedules them onto a runner, and records what becomes of them.

One lock guards the in-memory view; every change is written to the store together with the event
that caused it (through the event log, which also serves watchers), so the event log and the job
row never disagree.

When the store cannot write, nothing is dropped: creates answer UNAVAILABLE, a running job whose
events cannot be recorded is stopped (FAILED, STORAGE_UNAVAILABLE) with its events held in memory,
and `retry_storage()` writes them once the store takes writes again. `on_storage` hears each change.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog

from droidft.v1 import job_pb2, progress_pb2

from . import events, states
from .checkpoints import ADAPTER_FILE, checkpoint_dir, is_resumable
from .errors import (
    DroidftError,
    ErrorKind,
    FieldViolation,
    Reason,
    StorageError,
    invalid_argument,
    job_error,
    job_not_found,
    shutting_down,
    storage_unavailable,
)
from .event_log import EventLog
from .preflight import Accepted
from .runs import Runner, RunOutcome, RunStart, StopKind
from .spec import METHOD_OF_CONFIG, method_name, resolve

log = structlog.get_logger("droidft.jobs")

DEFAULT_PAGE_SIZE = 50
DEFAULT_MAX_QUEUED_JOBS = 1000

# Raises DroidftError for a spec that cannot run; returns what it accepted (preflight.Accepted): warnings
# to record in the job's log and the data plan kept with the job.
Preflight = Callable[[job_pb2.TrainingJobSpec, Callable[[object], None] | None], Accepted]


class JobStore(Protocol):
    def insert_job(self, job: job_pb2.TrainingJob, events: Iterable[progress_pb2.TrainingProgress]) -> None: ...
    def save(self, job: job_pb2.TrainingJob, events: Iterable[progress_pb2.TrainingProgress] = ()) -> None: ...
    def get(self, job_id: str) -> job_pb2.TrainingJob | None: ...
    def find_by_request_id(self, request_id: str) -> job_pb2.TrainingJob | None: ...
    def list_jobs(
        self, *, states: Iterable[int], limit: int, before: tuple[int, str] | None
    ) -> list[job_pb2.TrainingJob]: ...
    def jobs_in_states(self, states: Iterable[int]) -> list[job_pb2.TrainingJob]: ...
    def count_by_state(self) -> dict[int, int]: ...
    def delete_job(self, job_id: str) -> None: ...
    def probe(self) -> None:
        """Raise StorageError unless a write would succeed now."""

    def events_after(
        self, job_id: str, after_sequence: int, limit: int = 1000
    ) -> list[progress_pb2.TrainingProgress]: ...


@dataclass(frozen=True)
class JobsOverview:
    by_state: dict[int, int]  # JobState value -> jobs
    queued: int
    running: list[job_pb2.TrainingJob]


def _remove_job_dir(jobs_dir: Path, output_dir: Path) -> int:
    """Remove a job's directory, only ever one inside the server's jobs directory; the bytes it held."""
    jobs_dir, output_dir = jobs_dir.resolve(), output_dir.resolve()
    if output_dir.parent != jobs_dir or not output_dir.is_dir():
        return 0
    freed = sum(f.stat().st_size for f in output_dir.rglob("*") if f.is_file() and not f.is_symlink())
    shutil.rmtree(output_dir, ignore_errors=True)
    return freed


def _new_job_id() -> str:
    return f"job-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def _encode_page_token(job: job_pb2.TrainingJob) -> str:
    key = f"{job.create_time.ToMicroseconds()}:{job.job_id}"
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode_page_token(token: str) -> tuple[int, str]:
    try:
        micros, job_id = base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)
        decoded = int(micros), job_id
    except (ValueError, UnicodeDecodeError) as error:
        raise _bad_page_token() from error
    if not 0 <= decoded[0] < 2**63:  # what a stored create_time can be; more would overflow the store's integers
        raise _bad_page_token()
    return decoded


def _bad_page_token():
    return invalid_argument([FieldViolation("page_token", "not a token from a previous page", "page_token.valid")])


class JobManager:
    def __init__(
        self,
        store: JobStore,
        runner: Runner,
        jobs_dir: Path,
        *,
        available_methods: Iterable[str],
        max_concurrent_jobs: int = 1,
        max_queued_jobs: int = DEFAULT_MAX_QUEUED_JOBS,
        preflight: Preflight | None = None,
        resume_on_restart: bool = True,
    ):
        self._store = store
        self._runner = runner
        self._jobs_dir = jobs_dir
        self._available = frozenset(available_methods)
        self._max_concurrent = max_concurrent_jobs
        self._max_queued = max_queued_jobs
        self._preflight = preflight or (lambda spec, on_progress: Accepted([], None))
        self._lock = threading.RLock()
        self._log = EventLog(store)
        self._active: dict[str, job_pb2.TrainingJob] = {}  # queued and running jobs, the authoritative copy
        self._queue: deque[str] = deque()
        self._running: set[str] = set()
        self._cancel_requested: set[str] = set()
        self._stopped_for_storage: set[str] = set()
        self._unrecorded: dict[str, job_pb2.TrainingJob] = {}  # finished, but the store has not taken it yet
        self._storage_error: StorageError | None = None
        self.on_storage: Callable[[bool], None] = lambda writable: None
        # Runs when a job's run succeeded, before the job does (the final evaluation); it may add to its log.
        self.before_success: Callable[[job_pb2.TrainingJob], None] | None = None
        self._closed = False
        self._resume_on_restart = resume_on_restart
        self._last_resumable: dict[str, int] = {}  # running jobs: the iteration of their last full-state checkpoint

    # -- life cycle ---------------------------------------------------------------------------

    def recover(self) -> None:
        """Adopt the jobs a previous server left unfinished: queued ones wait again; running ones go on from
        their last full-state checkpoint (or from the beginning, if they had none), or with resume_on_restart
        off fail, keeping their last checkpoint as their adapter; a pausing one is paused at that checkpoint."""
        with self._lock:
            for job in self._store.jobs_in_states([states.QUEUED, states.RUNNING, states.PAUSING]):
                self._active[job.job_id] = job
                if job.state == states.QUEUED:
                    self._queue.append(job.job_id)
                elif job.state == states.PAUSING or self._resume_on_restart:
                    self._go_on_after_restart(job)
                else:
                    self._fail_after_restart(job)
            self._schedule()

    def _go_on_after_restart(self, job: job_pb2.TrainingJob) -> None:
        """A job the server's death interrupted goes on from its last resumable checkpoint: queued again, or
        paused when a pause had been asked for."""
        job.resume_iteration = self._last_resumable_checkpoint(job) or 0
        was, state = ("pausing", states.PAUSED) if job.state == states.PAUSING else ("running", states.QUEUED)
        self._transition(job, state, f"the server stopped while the job was {was}; {_goes_on(job)}")
        if state == states.QUEUED:
            self._queue.append(job.job_id)

    def _fail_after_restart(self, job: job_pb2.TrainingJob) -> None:
        """--on-restart fail: the interrupted job ends FAILED, its last checkpoint listed as its adapter."""
        message = "the server stopped while the job was running"
        checkpoint = self._last_checkpoint(job.job_id)
        if checkpoint is not None:  # what it had trained is kept: listed as its adapter
            job.adapter_path = checkpoint.path
            message += f"; its checkpoint of iteration {checkpoint.iteration} is kept"
        error = job_error(Reason.SERVER_RESTARTED, message)
        self._transition(job, states.FAILED, error.message, error)

    def shutdown(self) -> None:
        """Stop accepting work, stop running jobs (each writes a full-state checkpoint and goes back to the queue,
        to go on at the next start) and release watchers."""
        with self._lock:
            self._closed = True
        self._log.close()
        self._runner.shutdown()

    # -- requests -----------------------------------------------------------------------------

    def create(
        self,
        spec: job_pb2.TrainingJobSpec,
        *,
        request_id: str = "",
        validate_only: bool = False,
        creator: str = "",
        on_progress: Callable[[object], None] | None = None,
    ) -> job_pb2.TrainingJob:
        """Accept a job after its preflight; `creator` names the caller's token (empty without tokens);
        `on_progress` is told as the preflight reads the data, and may raise to stop it (the caller left)."""
        self._check_method(spec)
        if spec.HasField("from_checkpoint"):
            self._check_start_weights(spec)
        # A retry is answered before the (slow) preflight, and again under the lock in case a twin won the race.
        if (earlier := self._earlier_job(request_id, spec)) is not None:
            return earlier
        if not validate_only:
            self._check_storage()
            self._check_queue_room()  # before the (slow) preflight, and again under the lock
        checked = self._preflight(spec, on_progress)
        settings = resolve(spec, checked.data.train_records_used if checked.data is not None else None)
        with self._lock:
            if self._closed:
                raise shutting_down()
            if (earlier := self._earlier_job(request_id, spec)) is not None:
                return earlier
            job = job_pb2.TrainingJob(
                spec=spec,
                method=METHOD_OF_CONFIG[method_name(spec)],
                state=states.QUEUED,
                request_id=request_id,
                creator=creator,
            )
            job.metrics.total_iterations = settings.iterations
            if checked.data is not None:
                job.data.CopyFrom(checked.data)
            if validate_only:
                return job
            self._check_queue_room()
            job.job_id = _new_job_id()
            job.create_time.CopyFrom(events.now())
            job.output_dir = str(self._jobs_dir / job.job_id)
            accepted = progress_pb2.StateChange(
                previous_state=job_pb2.JOB_STATE_UNSPECIFIED, state=states.QUEUED, message="accepted"
            )
            first = [progress_pb2.TrainingProgress(state_change=accepted)]
            first += [events.log(progress_pb2.LOG_LEVEL_WARNING, warning) for warning in checked.warnings]
            try:
                self._log.insert(job, [self._log.number(job, event) for event in first])
            except StorageError as error:
                self._storage_failed(error)
                raise storage_unavailable(error) from None
            self._active[job.job_id] = job
            self._queue.append(job.job_id)
            self._schedule()
            return self._copy(job)

    def _check_start_weights(self, spec: job_pb2.TrainingJobSpec) -> None:
        """spec.from_checkpoint must name an adapter that exists and fits this job's model and adapter."""
        source = spec.from_checkpoint
        where = {"field": "spec.from_checkpoint", "job_id": source.job_id, "iteration": str(source.iteration)}

        def unusable(why: str) -> DroidftError:
            return DroidftError(ErrorKind.FAILED_PRECONDITION, Reason.CHECKPOINT_UNUSABLE,
                                f"spec.from_checkpoint: {why}", where)  # fmt: skip

        try:
            path = self.start_weights_of(source)
        except DroidftError:
            raise unusable(f"no job {source.job_id!r}") from None
        if not path.is_file():
            what = "final adapter" if source.iteration == 0 else f"checkpoint of iteration {source.iteration}"
            raise unusable(f"job {source.job_id} has no {what} ({path})")
        earlier, ours = resolve(self.get(source.job_id).spec), resolve(spec)
        if earlier.model_path != ours.model_path:
            raise unusable(f"job {source.job_id} trained {earlier.model_path}, not {ours.model_path}")
        shape = lambda adapter: (adapter.fine_tune_type, adapter.rank, adapter.num_layers)  # noqa: E731
        if shape(earlier.adapter) != shape(ours.adapter):
            raise unusable(
                f"job {source.job_id} trained a {earlier.adapter.fine_tune_type} adapter of rank "
                f"{earlier.adapter.rank} on {earlier.adapter.num_layers or 'all'} blocks; set spec.adapter the same"
            )

    def _check_queue_room(self) -> None:
        """A job that would wait behind --max-queued-jobs others is refused; one that starts at once never is."""
        with self._lock:
            would_wait = len(self._running) >= self._max_concurrent or self._queue
            if would_wait and len(self._queue) >= self._max_queued:
                raise DroidftError(
                    ErrorKind.RESOURCE_EXHAUSTED,
                    Reason.QUEUE_FULL,
                    f"{len(self._queue)} jobs are already waiting, the most this server queues; "
                    "retry once some have started, or cancel queued ones",
                    {"max_queued_jobs": str(self._max_queued)},
                )

    def _earlier_job(self, request_id: str, spec: job_pb2.TrainingJobSpec) -> job_pb2.TrainingJob | None:
        """The job an earlier request with this request_id created, if any (idempotent retries)."""
        if not request_id:
            return None
        with self._lock:
            existing = self._store.find_by_request_id(request_id)
            if existing is None:
                return None
            if existing.spec != spec:
                raise DroidftError(
                    ErrorKind.ALREADY_EXISTS,
                    Reason.REQUEST_ID_REUSED,
                    f"request_id {request_id!r} was used for job {existing.job_id} with a different spec",
                    {"job_id": existing.job_id, "request_id": request_id},
                )
            return self._copy(self._active.get(existing.job_id, existing))

    def get_at_once(self, job_id: str) -> job_pb2.TrainingJob | None:
        """The job when memory holds it and the lock is free right now; None when get() must wait for the lock
        (a store write in progress) or read the store. For an event loop, which must not wait."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            job = self._active.get(job_id, self._unrecorded.get(job_id))
            return self._copy(job) if job is not None else None
        finally:
            self._lock.release()

    def get(self, job_id: str) -> job_pb2.TrainingJob:
        with self._lock:
            if job_id in self._active:
                return self._copy(self._active[job_id])
            if job_id in self._unrecorded:
                return self._copy(self._unrecorded[job_id])
        job = self._store.get(job_id)
        if job is None:
            raise job_not_found(job_id)
        return job

    def list(
        self, *, states_filter: Iterable[int] = (), page_size: int = 0, page_token: str = ""
    ) -> tuple[list[job_pb2.TrainingJob], str]:
        limit = page_size or DEFAULT_PAGE_SIZE
        before = _decode_page_token(page_token) if page_token else None
        with self._lock:
            jobs = self._store.list_jobs(states=states_filter, limit=limit + 1, before=before)
        next_token = _encode_page_token(jobs[limit - 1]) if len(jobs) > limit else ""
        return jobs[:limit], next_token

    def cancel(self, job_id: str) -> job_pb2.TrainingJob:
        with self._lock:
            job = self._active.get(job_id)
            if job is None:
                stored = self._store.get(job_id)
                if stored is None:
                    raise job_not_found(job_id)
                if stored.state == states.PAUSED:  # no worker to stop: its checkpoint stays, resumable
                    self._active[job_id] = stored
                    self._transition(stored, states.CANCELLED, "cancelled while paused")
                    return self._copy(stored)
                raise DroidftError(
                    ErrorKind.FAILED_PRECONDITION,
                    Reason.JOB_ALREADY_FINISHED,
                    f"job {job_id} already finished as {states.name(stored.state)}",
                    {"job_id": job_id, "state": states.name(stored.state)},
                )
            if job.state == states.QUEUED:
                self._queue.remove(job_id)
                self._transition(job, states.CANCELLED, "cancelled before it started")
            elif job_id not in self._cancel_requested:
                self._cancel_requested.add(job_id)
                self._runner.stop(job_id, StopKind.CANCEL)
                self._append(
                    job,
                    events.log(progress_pb2.LOG_LEVEL_INFO, "cancel requested; stopping after the current iteration"),
                )
            return self._copy(job)

    def pause(self, job_id: str) -> job_pb2.TrainingJob:
        """A running job checkpoints after its current iteration and its worker exits (PAUSING, then PAUSED);
        a queued one is paused at once."""
        with self._lock:
            job = self._active.get(job_id)
            if job is None or job.state not in (states.QUEUED, states.RUNNING, states.PAUSING):
                raise self._state_conflict(job_id, job, "pause", "only a queued or running job can be paused")
            if job.state == states.QUEUED:
                self._queue.remove(job_id)
                self._transition(job, states.PAUSED, "paused before it started")
            elif job.state == states.RUNNING:
                self._runner.stop(job_id, StopKind.PAUSE)
                self._transition(job, states.PAUSING, "pause requested; checkpointing after the current iteration")
            return self._copy(job)

    def resume(self, job_id: str, from_iteration: int | None = None) -> job_pb2.TrainingJob:
        """A paused job, or a failed or cancelled one with a resumable checkpoint, goes back to the queue to go on
        from its last resumable checkpoint (or that of `from_iteration`), keeping its id and its event log."""
        self._check_storage()
        with self._lock:
            job = None if job_id in self._active else self._store.get(job_id)
            if job is None or job.state not in states.RESUMABLE:
                rule = "only a paused, failed or cancelled job can be resumed"
                raise self._state_conflict(job_id, job or self._active.get(job_id), "resume", rule)
            self._check_queue_room()
            resumable = self._resumable_iterations(job)
            if from_iteration is not None:
                if from_iteration not in resumable:
                    why = f"no resumable checkpoint of iteration {from_iteration}"
                    raise self._no_checkpoint(job_id, resumable, why)
                resume_at = from_iteration
            elif resumable:
                resume_at = resumable[-1]
            elif job.state == states.PAUSED and not job.HasField("start_time"):
                resume_at = 0  # paused while queued: it starts from the beginning
            else:
                raise self._no_checkpoint(job_id, resumable, "it saved no resumable checkpoint")
            self._active[job_id] = job
            job.resume_iteration = resume_at
            job.ClearField("error")
            job.ClearField("end_time")
            self._transition(job, states.QUEUED, f"resumed; {_goes_on(job)}")
            self._queue.append(job_id)
            self._schedule()
            return self._copy(job)

    def _resumable_iterations(self, job: job_pb2.TrainingJob) -> list[int]:
        """Iterations of the job's full-state checkpoints whose files still check out, in the order saved."""
        output_dir = Path(job.output_dir)
        saved = [
            e.checkpoint_saved.iteration
            for e in self._all_events(job.job_id)
            if e.WhichOneof("event") == "checkpoint_saved" and e.checkpoint_saved.resumable
        ]
        seen: dict[int, None] = {}
        for iteration in saved:  # the latest save of an iteration counts: a resume may have written it again
            seen.pop(iteration, None)
            seen[iteration] = None
        return [i for i in seen if is_resumable(checkpoint_dir(output_dir, i))]

    def _last_resumable_checkpoint(self, job: job_pb2.TrainingJob) -> int | None:
        resumable = self._resumable_iterations(job)
        return resumable[-1] if resumable else None

    def _state_conflict(self, job_id: str, job: job_pb2.TrainingJob | None, action: str, rule: str) -> DroidftError:
        if job is None:
            job = self._store.get(job_id)
            if job is None:
                return job_not_found(job_id)
        state = states.name(job.state)
        return DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.JOB_STATE_CONFLICT,
            f"job {job_id} is {state}: {rule}",
            {"job_id": job_id, "state": state, "action": action},
        )

    @staticmethod
    def _no_checkpoint(job_id: str, resumable: list[int], why: str) -> DroidftError:
        listed = ", ".join(map(str, resumable)) or "none"
        return DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.NO_RESUMABLE_CHECKPOINT,
            f"job {job_id} cannot be resumed: {why} (resumable iterations: {listed})",
            {"job_id": job_id, "resumable_iterations": ",".join(map(str, resumable))},
        )

    def start_weights_of(self, source: job_pb2.FromCheckpoint) -> Path:
        """The adapter file spec.from_checkpoint names: a job's final adapter (iteration 0) or a checkpoint's."""
        job = self.get(source.job_id)
        output_dir = Path(job.output_dir)
        if source.iteration == 0:
            return Path(job.adapter_path) if job.adapter_path else output_dir / ADAPTER_FILE
        return checkpoint_dir(output_dir, source.iteration) / ADAPTER_FILE

    # -- storage faults ------------------------------------------------------------------------

    def _check_storage(self) -> None:
        with self._lock:
            error = self._storage_error
        if error is not None:
            raise storage_unavailable(error)

    def _storage_failed(self, error: StorageError) -> None:
        with self._lock:
            first = self._storage_error is None
            self._storage_error = error
        if first:
            log.error("storage_unwritable", error=str(error))
            self.on_storage(False)

    def retry_storage(self) -> bool:
        """Write what is held once the store can take it; True when it is writable (and nothing is held) again."""
        try:
            self._store.probe()
            written = self._log.flush()
        except StorageError as error:
            with self._lock:
                self._storage_error = error
            return False
        with self._lock:
            for job_id in written:
                self._unrecorded.pop(job_id, None)
            recovered = self._storage_error is not None and not self._log.holding()
            if recovered:
                self._storage_error = None
        if recovered:
            log.info("storage_writable_again", written_jobs=written)
            self.on_storage(True)
        return self._storage_error is None

    def delete(self, job_id: str) -> int:
        """Delete a finished job: its row and events first (one transaction), then its directory.
        Returns the bytes of files removed; a queued or running job is refused (cancel it first)."""
        with self._lock:
            job = self._active.get(job_id) or self._unrecorded.get(job_id)
            if job is not None:
                raise DroidftError(
                    ErrorKind.FAILED_PRECONDITION,
                    Reason.JOB_NOT_FINISHED,
                    f"job {job_id} is {states.name(job.state)}: cancel it, then delete it once it has ended",
                    {"job_id": job_id, "state": states.name(job.state)},
                )
            stored = self._store.get(job_id)
            if stored is None:
                raise job_not_found(job_id)
            try:
                self._store.delete_job(job_id)
            except StorageError as error:
                self._storage_failed(error)
                raise storage_unavailable(error) from None
        return _remove_job_dir(self._jobs_dir, Path(stored.output_dir))

    def overview(self) -> JobsOverview:
        """What the metrics show: jobs by state, the queue's length, and the figures of running jobs."""
        with self._lock:
            running = [self._copy(self._active[job_id]) for job_id in sorted(self._running)]
            queued = len(self._queue)
        return JobsOverview(self._store.count_by_state(), queued, running)

    def checkpoints(self, job_id: str) -> list[job_pb2.Checkpoint]:
        self.get(job_id)
        found = []
        for event in self._all_events(job_id):
            if event.WhichOneof("event") == "checkpoint_saved":
                saved = event.checkpoint_saved
                path = Path(saved.path)
                present = path.is_file()
                found.append(
                    job_pb2.Checkpoint(
                        iteration=saved.iteration,
                        path=saved.path,
                        final=saved.final,
                        create_time=event.time,
                        size_bytes=path.stat().st_size if present else 0,
                        removed=not present,
                        resumable=saved.resumable and present and is_resumable(path.parent),
                    )
                )
        return found

    def _last_checkpoint(self, job_id: str) -> progress_pb2.CheckpointSaved | None:
        saved = [e.checkpoint_saved for e in self._all_events(job_id) if e.WhichOneof("event") == "checkpoint_saved"]
        return saved[-1] if saved else None

    def _all_events(self, job_id: str) -> Iterator[progress_pb2.TrainingProgress]:
        after = 0
        while batch := self._store.events_after(job_id, after):
            yield from batch
            after = batch[-1].sequence

    def events_after(self, job_id: str, after_sequence: int = 0) -> list[progress_pb2.TrainingProgress]:
        """The job's stored events after `after_sequence` (a batch; none when there are no more)."""
        self.get(job_id)
        return self._store.events_after(job_id, after_sequence)

    async def follow(self, job_id: str, after_sequence: int) -> AsyncIterator[progress_pb2.TrainingProgress]:
        """The job's stored events after `after_sequence`, then live ones, ending after the terminal event."""
        job = await asyncio.to_thread(self.get, job_id)
        if after_sequence > job.last_sequence:
            raise DroidftError(
                ErrorKind.OUT_OF_RANGE,
                Reason.SEQUENCE_PAST_END,
                f"after_sequence {after_sequence} is past job {job_id}'s last event, {job.last_sequence}: "
                "resume from a sequence number the job has sent",
                {"job_id": job_id, "last_sequence": str(job.last_sequence)},
            )
        if states.is_terminal(job.state) and after_sequence == job.last_sequence:
            return
        async for event in self._log.follow(job_id, after_sequence):
            yield event

    # -- RunListener --------------------------------------------------------------------------

    def on_started(self, job_id: str, device: str) -> None:
        with self._lock:
            job = self._active[job_id]
            job.device = device
            self._append(job, events.log(progress_pb2.LOG_LEVEL_INFO, f"training on {device}"))

    def on_event(self, job_id: str, event: progress_pb2.TrainingProgress) -> None:
        with self._lock:
            job = self._active[job_id]
            _update_metrics(job.metrics, event)
            if event.WhichOneof("event") == "checkpoint_saved" and event.checkpoint_saved.resumable:
                self._last_resumable[job_id] = event.checkpoint_saved.iteration
            self._append(job, event)

    def on_finished(self, job_id: str, outcome: RunOutcome) -> None:
        if outcome.state == states.SUCCEEDED and self.before_success is not None:
            self.before_success(self.get(job_id))
        with self._lock:
            job = self._active[job_id]
            job.adapter_path = outcome.adapter_path
            error = None
            if job_id in self._stopped_for_storage:
                self._stopped_for_storage.discard(job_id)
                message = "stopped: its events could not be recorded (the job database cannot be written)"
                outcome = RunOutcome(states.FAILED, outcome.adapter_path, Reason.STORAGE_UNAVAILABLE, message)
            if outcome.state == states.FAILED:
                error = job_error(outcome.error_reason, outcome.message)
            self._running.discard(job_id)
            self._cancel_requested.discard(job_id)
            resume_at = self._last_resumable.pop(job_id, 0)
            if outcome.state == states.PAUSED:
                job.resume_iteration = resume_at
            # A run the server's stop ended (paused, or killed when it did not stop in time) goes on at the next start.
            if self._closed and job.state == states.RUNNING and outcome.state in (states.PAUSED, states.FAILED):
                job.resume_iteration = resume_at
                self._transition(job, states.QUEUED, f"the server stopped; at its next start {_goes_on(job)}")
                return
            self._transition(job, outcome.state, outcome.message or "finished", error)
            self._schedule()

    # -- internals ----------------------------------------------------------------------------

    def _check_method(self, spec: job_pb2.TrainingJobSpec) -> None:
        name = method_name(spec)
        if name not in self._available:
            raise DroidftError(
                ErrorKind.UNIMPLEMENTED,
                Reason.METHOD_NOT_AVAILABLE,
                f"method {name!r} is not available on this server yet "
                f"(available: {', '.join(sorted(self._available))})",
                {"method": name},
            )

    def _schedule(self) -> None:
        while self._queue and len(self._running) < self._max_concurrent and not self._closed:
            job = self._active[self._queue.popleft()]
            self._running.add(job.job_id)
            output_dir = Path(job.output_dir)
            if job.resume_iteration:
                start = RunStart(resume_from=checkpoint_dir(output_dir, job.resume_iteration))
                message = f"started; going on after iteration {job.resume_iteration}"
            elif job.spec.HasField("from_checkpoint"):
                start = RunStart(start_weights=self.start_weights_of(job.spec.from_checkpoint))
                message = f"started from the weights of job {job.spec.from_checkpoint.job_id}"
            else:
                start, message = RunStart(), "started"
            self._transition(job, states.RUNNING, message)
            try:
                self._runner.start(
                    job.job_id, job.spec, output_dir, self, start, job.data if job.HasField("data") else None
                )
            except Exception as error:  # a runner that cannot start must not wedge the queue
                self._running.discard(job.job_id)
                failure = job_error(Reason.WORKER_START_FAILED, f"could not start the worker: {error}")
                self._transition(job, states.FAILED, failure.message, failure)

    def _transition(
        self, job: job_pb2.TrainingJob, new_state: int, message: str, error: job_pb2.JobError | None = None
    ) -> None:
        states.check_transition(job.state, new_state)
        previous = job.state
        job.state = new_state
        now = events.now()
        if new_state == states.RUNNING and not job.HasField("start_time"):
            job.start_time.CopyFrom(now)
        if states.is_terminal(new_state):
            job.end_time.CopyFrom(now)
            if error is not None:
                job.error.CopyFrom(error)
        change = progress_pb2.StateChange(previous_state=previous, state=new_state, message=message, error=error)
        self._append(job, progress_pb2.TrainingProgress(state_change=change))
        if states.is_terminal(new_state):
            del self._active[job.job_id]
            if self._storage_error is not None and self._log.holding():
                self._unrecorded[job.job_id] = job  # shown as it is until the store has it

    def _append(self, job: job_pb2.TrainingJob, event: progress_pb2.TrainingProgress) -> None:
        """Record the event; when the store cannot, the event is held and a running job is stopped:
        training on without a record of it would be worse than stopping with its adapter saved."""
        try:
            self._log.append(job, event)
        except StorageError as error:
            self._storage_failed(error)
            if job.job_id in self._running and job.job_id not in self._stopped_for_storage:
                self._stopped_for_storage.add(job.job_id)
                self._runner.stop(job.job_id, StopKind.CANCEL)

    @staticmethod
    def _copy(job: job_pb2.TrainingJob) -> job_pb2.TrainingJob:
        copy = job_pb2.TrainingJob()
        copy.CopyFrom(job)
        return copy


def _goes_on(job: job_pb2.TrainingJob) -> str:
    """Where a job resumes, for its state change's message."""
    if job.resume_iteration:
        return f"it goes on from its checkpoint of iteration {job.resume_iteration}"
    return "it goes on from the beginning"


def _update_metrics(metrics: job_pb2.JobMetrics, event: progress_pb2.TrainingProgress) -> None:
    kind = event.WhichOneof("event")
    if kind == "train_report":
        report = event.train_report
        metrics.iteration = report.iteration
        metrics.train_loss = report.loss
        metrics.learning_rate = report.learning_rate
        metrics.iterations_per_second = report.iterations_per_second
        metrics.tokens_per_second = report.tokens_per_second
        metrics.trained_tokens = report.trained_tokens
        metrics.peak_memory_bytes = max(metrics.peak_memory_bytes, report.peak_memory_bytes)
        metrics.method_metrics.clear()
        metrics.method_metrics.update(report.metrics)
    elif kind == "eval_report":
        metrics.val_loss = event.eval_report.val_loss
