"""Jobs and their event logs in SQLite (WAL). A job row and the event that changed it commit together.

Every failure of the database (a full disk, a read-only file, a corrupt page) leaves as the domain's
StorageError, which the job manager turns into answers and a health status; nothing is dropped
silently. Opening refuses a state directory whose database is missing or empty while job directories
exist (that would start with no jobs and lose every one), and a database that fails its check.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from droidft.v1 import evaluation_pb2, job_pb2, progress_pb2

from ..domain.errors import StorageError

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
CREATE TABLE IF NOT EXISTS write_probe (bytes BLOB);
CREATE TABLE IF NOT EXISTS evaluations (
    evaluation_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    create_time_us INTEGER NOT NULL,
    evaluation BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_by_job ON evaluations (job_id, create_time_us);
"""
PROBE_BYTES = 16_384  # about what a few events take: a probe that fits says events fit again


class StateDirError(RuntimeError):
    """The state directory cannot be used as it is; the message says why and what to do."""


def _check_before_open(path: Path, job_dirs: Path | None) -> None:
    if path.exists() and path.stat().st_size > 0:
        return
    kept = sorted(p.name for p in job_dirs.iterdir() if p.is_dir()) if job_dirs and job_dirs.is_dir() else []
    if kept:
        state = "is empty" if path.exists() else "is missing"
        raise StateDirError(
            f"the job database {path} {state}, but {job_dirs} holds {len(kept)} job directories: starting would "
            "forget every job. Restore the database from a backup, or move the job directories away to start afresh."
        )


class SqliteJobStore:
    def __init__(self, path: Path, job_dirs: Path | None = None):
        """Open (or create) the database at `path`; `job_dirs` is where the jobs' directories live."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _check_before_open(path, job_dirs)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            verdict = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise StateDirError(f"the job database {path} is damaged ({verdict}); restore it from a backup")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise StateDirError(
                f"the job database {path} cannot be opened: {error}; restore it from a backup"
            ) from None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            try:
                with self._db:
                    self._db.execute("BEGIN")
                    yield
            except sqlite3.Error as error:
                raise StorageError(f"the job database cannot be written: {error}") from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as error:
                raise StorageError(f"the job database cannot be read: {error}") from None

    def probe(self) -> None:
        """Raise StorageError unless a write of a few events' size would succeed now (nothing is kept)."""
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.execute("INSERT INTO write_probe (bytes) VALUES (zeroblob(?))", (PROBE_BYTES,))
            except sqlite3.Error as error:
                raise StorageError(f"the job database cannot be written: {error}") from None
            finally:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert_job(self, job: job_pb2.TrainingJob, events: Iterable[progress_pb2.TrainingProgress]) -> None:
        with self._writing():
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
        with self._writing():
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
        with self._reading():
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
        with self._reading():
            rows = self._db.execute(query, (*args, limit)).fetchall()
        return [job_pb2.TrainingJob.FromString(r[0]) for r in rows]

    def delete_job(self, job_id: str) -> None:
        """The job's row and its whole event log, in one transaction."""
        with self._writing():
            self._db.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            self._db.execute("DELETE FROM evaluations WHERE job_id = ?", (job_id,))
            self._db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))

    def insert_evaluation(self, evaluation: evaluation_pb2.Evaluation) -> None:
        with self._writing():
            self._db.execute(
                "INSERT INTO evaluations (evaluation_id, job_id, create_time_us, evaluation) VALUES (?, ?, ?, ?)",
                (
                    evaluation.evaluation_id,
                    evaluation.job_id,
                    evaluation.create_time.ToMicroseconds(),
                    evaluation.SerializeToString(),
                ),
            )

    def list_evaluations(self, job_id: str) -> list[evaluation_pb2.Evaluation]:
        """The job's evaluations, oldest first."""
        with self._reading():
            rows = self._db.execute(
                "SELECT evaluation FROM evaluations WHERE job_id = ? ORDER BY create_time_us, evaluation_id",
                (job_id,),
            ).fetchall()
        return [evaluation_pb2.Evaluation.FromString(row[0]) for row in rows]

    def count_by_state(self) -> dict[int, int]:
        """How many jobs are in each state (JobState value -> count)."""
        with self._reading():
            return dict(self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())

    def jobs_in_states(self, states: Iterable[int]) -> list[job_pb2.TrainingJob]:
        states = list(states)
        query = f"SELECT job FROM jobs WHERE state IN ({','.join('?' * len(states))}) ORDER BY create_time_us, job_id"
        with self._reading():
            rows = self._db.execute(query, states).fetchall()
        return [job_pb2.TrainingJob.FromString(r[0]) for r in rows]

    def events_after(self, job_id: str, after_sequence: int, limit: int = 1000) -> list[progress_pb2.TrainingProgress]:
        with self._reading():
            rows = self._db.execute(
                "SELECT event FROM events WHERE job_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                (job_id, after_sequence, limit),
            ).fetchall()
        return [progress_pb2.TrainingProgress.FromString(r[0]) for r in rows]
