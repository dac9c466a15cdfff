"""Each job's numbered events: sequence numbers, time stamps, storing, and waking that job's watchers.

The job manager appends under its own lock; watchers are coroutines that read what is new and then
wait on a wake-up of their job alone, so a thousand idle watchers cost a thousand parked futures,
not threads, and an event of one job wakes none of another's. The last events of every active job
are kept in memory, so watchers that keep up never touch the store; one that falls behind (or
starts from the beginning) reads the store in a worker thread.

An event the store cannot take (a full disk) is held, in order, with every later event of its job,
and written by flush() once the store takes writes again; until then that job's watchers end with
UNAVAILABLE, and resume from what they got once the events are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from droidft.v1 import job_pb2, progress_pb2

from . import events, states
from .errors import StorageError, shutting_down, storage_unavailable

RECENT_EVENTS = 1024  # per active job: a watcher that keeps up reads only these
STORE_BATCH = 1000


def is_terminal_event(event: progress_pb2.TrainingProgress) -> bool:
    return event.WhichOneof("event") == "state_change" and states.is_terminal(event.state_change.state)


class EventStore(Protocol):
    """What the event log needs of the job store (jobs.JobStore has it all)."""

    def insert_job(self, job: job_pb2.TrainingJob, events: Iterable[progress_pb2.TrainingProgress]) -> None: ...
    def save(self, job: job_pb2.TrainingJob, events: Iterable[progress_pb2.TrainingProgress] = ()) -> None: ...
    def events_after(
        self, job_id: str, after_sequence: int, limit: int = STORE_BATCH
    ) -> list[progress_pb2.TrainingProgress]: ...


@dataclass
class _Recent:
    """The last events of an active job: events[i] has sequence first + i."""

    first: int
    events: list[progress_pb2.TrainingProgress] = field(default_factory=list)

    def extend(self, new: list[progress_pb2.TrainingProgress]) -> None:
        self.events.extend(new)
        if len(self.events) > 2 * RECENT_EVENTS:  # trimmed by halves: appending stays O(1) amortised
            drop = len(self.events) - RECENT_EVENTS
            del self.events[:drop]
            self.first += drop

    def after(self, sequence: int) -> list[progress_pb2.TrainingProgress] | None:
        start = sequence + 1 - self.first
        return self.events[start:] if start >= 0 else None


class EventLog:
    def __init__(self, store: EventStore):
        self._store = store
        self._lock = threading.Lock()
        self._recent: dict[str, _Recent] = {}
        self._last: dict[str, int] = {}  # the last sequence published since start, by job
        # Parked watchers by job: each future with the loop it belongs to.
        self._waiters: dict[str, dict[asyncio.Future, asyncio.AbstractEventLoop]] = {}
        # Numbered events the store has not taken yet, by job, in order, with the job row to store them with.
        self._held: dict[str, tuple[job_pb2.TrainingJob, list[progress_pb2.TrainingProgress], StorageError]] = {}
        self._closed = False

    # -- writing (the job manager, under its lock) ---------------------------------------------

    def number(self, job: job_pb2.TrainingJob, event: progress_pb2.TrainingProgress) -> progress_pb2.TrainingProgress:
        """The event as the job's next: its sequence number, job id and time."""
        job.last_sequence += 1
        event.job_id = job.job_id
        event.sequence = job.last_sequence
        return events.stamped(event)

    def insert(self, job: job_pb2.TrainingJob, first: list[progress_pb2.TrainingProgress]) -> None:
        """A new job with its first events (numbered already), stored together."""
        self._store.insert_job(job, first)
        self._published(job.job_id, first)

    def append(self, job: job_pb2.TrainingJob, event: progress_pb2.TrainingProgress) -> None:
        """Number the event, store it with the job's row, and wake the job's watchers.

        Raises StorageError when the store cannot take it; the event is then held (see flush)."""
        numbered = self.number(job, event)
        with self._lock:
            held = self._held.get(job.job_id)
        if held is None:
            try:
                self._store.save(job, [numbered])
            except StorageError as error:
                self._hold(job, [numbered], error)
                raise
            self._published(job.job_id, [numbered])
            return
        self._hold(job, [numbered], held[2])
        raise held[2]

    def _hold(self, job: job_pb2.TrainingJob, new: list[progress_pb2.TrainingProgress], error: StorageError) -> None:
        row = job_pb2.TrainingJob()
        row.CopyFrom(job)
        with self._lock:
            earlier = self._held.get(job.job_id, (row, [], error))[1]
            self._held[job.job_id] = (row, earlier + new, error)
            waiters = self._waiters.pop(job.job_id, {})
        _wake(waiters)  # they end with UNAVAILABLE rather than wait for events that are not written

    def holding(self) -> bool:
        with self._lock:
            return bool(self._held)

    def flush(self) -> list[str]:
        """Write the held events, job by job; returns the jobs whose events are all written now.
        Raises StorageError (keeping the rest held) when the store still cannot take them."""
        with self._lock:
            held = dict(self._held)
        written = []
        for job_id, (row, pending, _) in held.items():
            self._store.save(row, pending)
            with self._lock:
                now = self._held.pop(job_id)
                if len(now[1]) > len(pending):  # more came while writing: keep those
                    self._held[job_id] = (now[0], now[1][len(pending) :], now[2])
            self._published(job_id, pending)
            written.append(job_id)
        return written

    def _published(self, job_id: str, new: list[progress_pb2.TrainingProgress]) -> None:
        with self._lock:
            self._recent.setdefault(job_id, _Recent(first=new[0].sequence)).extend(new)
            self._last[job_id] = new[-1].sequence
            if is_terminal_event(new[-1]):
                del self._recent[job_id]  # the store has it all, and no more events will come
            waiters = self._waiters.pop(job_id, {})
        _wake(waiters)

    def close(self) -> None:
        """Watchers end with UNAVAILABLE (the server is shutting down)."""
        with self._lock:
            self._closed = True
            waiters = {future: loop for job_waiters in self._waiters.values() for future, loop in job_waiters.items()}
            self._waiters.clear()
        _wake(waiters)

    # -- watching (coroutines on the server's event loop) --------------------------------------

    async def follow(self, job_id: str, after_sequence: int) -> AsyncIterator[progress_pb2.TrainingProgress]:
        """The job's events after `after_sequence`, stored then live, ending after its terminal event (the last
        one: a resumed job's log goes on past the pause, failure or cancel it was resumed from)."""
        after = after_sequence
        while True:
            self._raise_if_held(job_id)
            batch = self._from_memory(job_id, after)
            if batch is None:
                batch = await asyncio.to_thread(self._store.events_after, job_id, after, STORE_BATCH)
            for event in batch:
                yield event
            if batch and is_terminal_event(batch[-1]) and not await self._resumed_since(job_id, batch[-1]):
                return
            if batch:
                after = batch[-1].sequence
                continue
            await self._changed(job_id, after)

    async def _resumed_since(self, job_id: str, event: progress_pb2.TrainingProgress) -> bool:
        """A job at rest can be resumed, and its log then goes on: a change to a resting state ends a stream only
        when nothing came after it."""
        with self._lock:
            if self._last.get(job_id, 0) > event.sequence:
                return True
        return bool(await asyncio.to_thread(self._store.events_after, job_id, event.sequence, 1))

    def _raise_if_held(self, job_id: str) -> None:
        with self._lock:
            held = self._held.get(job_id)
        if held is not None:
            raise storage_unavailable(held[2])

    def _from_memory(self, job_id: str, after: int) -> list[progress_pb2.TrainingProgress] | None:
        """The events after `after` when memory holds all of them; None when the store must be read."""
        with self._lock:
            recent = self._recent.get(job_id)
            return recent.after(after) if recent is not None else None

    async def _changed(self, job_id: str, after: int) -> None:
        """Return once the job has an event after `after`; raise when the log closes."""
        loop = asyncio.get_running_loop()
        woken = loop.create_future()
        with self._lock:
            if self._closed:
                raise shutting_down()
            # Published since the caller read? Then it is there to read now. A job with nothing published
            # since start can only get events through _published, which takes this lock and wakes us.
            if self._last.get(job_id, 0) > after:
                return
            self._waiters.setdefault(job_id, {})[woken] = loop
        try:
            await woken
        finally:
            self._forget(job_id, woken)
        with self._lock:
            if self._closed:
                raise shutting_down()
        self._raise_if_held(job_id)

    def _forget(self, job_id: str, future: asyncio.Future) -> None:
        with self._lock:
            self._waiters.get(job_id, {}).pop(future, None)


def _wake(waiters: dict[asyncio.Future, asyncio.AbstractEventLoop]) -> None:
    """Resolve the futures, with one call into each loop: a thousand watchers cost one wake-up, not a thousand."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
    for future, loop in waiters.items():
        by_loop.setdefault(loop, []).append(future)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: its watchers are gone
            loop.call_soon_threadsafe(_resolve_all, futures)


def _resolve_all(futures: list[asyncio.Future]) -> None:
    for future in futures:
        _resolve(future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
