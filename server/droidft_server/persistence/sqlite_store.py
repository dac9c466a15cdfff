"""Jobs and their event logs in SQLite (WAL). A job row and the event that changed it commit together."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from droidft.v1 import job_pb2, progress_pb2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    request_id TEXT UNIQUE,
    create_time_us INTEGER NOT NULL,
    state INTEGER NOT NULL,
    job BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_age ON jobs (create_time_us DESC, job_id DESC);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL REFERENCES jobs (job_id),
    sequence INTEGER NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (job_id, sequence)
) WITHOUT ROWID;
"""


class SqliteJobStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert_job(self, job: job_pb2.TrainingJob, events: Iterable[progress_pb2.TrainingProgress]) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO jobs (job_id, request_id, create_time_us, state, job) VALUES (?, ?, ?, ?, ?)",
                (
                    job.job_id,
                    job.request_id or None,
                    job.create_time.ToMicroseconds(),
                    job.state,
                    job.SerializeToString(),
                ),
            )
            self._insert_events(job.job_id, events)

    def save(self, job: job_pb2.TrainingJob, events: Iterable[progress_pb2.TrainingProgress] = ()) -> None:
        """Store the job's new version together with the events that produced it."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE jobs SET state = ?, job = ? WHERE job_id = ?", (job.state, job.SerializeToString(), job.job_id)
            )
            self._insert_events(job.job_id, events)

    def _insert_events(self, job_id: str, events: Iterable[progress_pb2.TrainingProgress]) -> None:
        self._db.executemany(
            "INSERT INTO events (job_id, sequence, event) VALUES (?, ?, ?)",
            [(job_id, e.sequence, e.SerializeToString()) for e in events],
        )

    def get(self, job_id: str) -> job_pb2.TrainingJob | None:
        return self._one("SELECT job FROM jobs WHERE job_id = ?", (job_id,))

    def find_by_request_id(self, request_id: str) -> job_pb2.TrainingJob | None:
        return self._one("SELECT job FROM jobs WHERE request_id = ?", (request_id,))

    def _one(self, query: str, args: tuple) -> job_pb2.TrainingJob | None:
        with self._lock:
            row = self._db.execute(query, args).fetchone()
        return job_pb2.TrainingJob.FromString(row[0]) if row else None

    def list_jobs(
        self, *, states: Iterable[int] = (), limit: int, before: tuple[int, str] | None = None
    ) -> list[job_pb2.TrainingJob]:
        """Newest first; `before` is the (create_time_us, job_id) key of the previous page's last job."""
        clauses, args = [], []
        states = list(states)
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        if before is not None:
            clauses.append("(create_time_us, job_id) < (?, ?)")
            args.extend(before)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT job FROM jobs {where} ORDER BY create_time_us DESC, job_id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*args, limit)).fetchall()
        return [job_pb2.TrainingJob.FromString(r[0]) for r in rows]

    def count_by_state(self) -> dict[int, int]:
        """How many jobs are in each state (JobState value -> count)."""
        with self._lock:
            return dict(self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())

    def jobs_in_states(self, states: Iterable[int]) -> list[job_pb2.TrainingJob]:
        states = list(states)
        query = f"SELECT job FROM jobs WHERE state IN ({','.join('?' * len(states))}) ORDER BY create_time_us, job_id"
        with self._lock:
            rows = self._db.execute(query, states).fetchall()
        return [job_pb2.TrainingJob.FromString(r[0]) for r in rows]

    def events_after(self, job_id: str, after_sequence: int, limit: int = 1000) -> list[progress_pb2.TrainingProgress]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM events WHERE job_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                (job_id, after_sequence, limit),
            ).fetchall()
        return [progress_pb2.TrainingProgress.FromString(r[0]) for r in rows]
