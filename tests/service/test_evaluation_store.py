"""Evaluations in the job database: stored with their job, listed oldest first, deleted with it; a database
from before evaluations gains their table when it is opened."""

import sqlite3

from droidft.v1 import evaluation_pb2, job_pb2
from droidft_server.persistence.sqlite_store import SqliteJobStore


def evaluation(evaluation_id: str, job_id: str, seconds: int) -> evaluation_pb2.Evaluation:
    made = evaluation_pb2.Evaluation(evaluation_id=evaluation_id, job_id=job_id, loss=1.5)
    made.create_time.FromSeconds(seconds)
    return made


def test_evaluations_are_listed_by_job_oldest_first_and_deleted_with_their_job(tmp_path):
    store = SqliteJobStore(tmp_path / "db.sqlite3")
    job = job_pb2.TrainingJob(job_id="j1")
    job.create_time.FromSeconds(1)
    store.insert_job(job, [])
    for made in (evaluation("b", "j1", 20), evaluation("a", "j1", 10), evaluation("c", "j2", 5)):
        store.insert_evaluation(made)
    assert [e.evaluation_id for e in store.list_evaluations("j1")] == ["a", "b"]
    store.delete_job("j1")
    assert store.list_evaluations("j1") == [] and len(store.list_evaluations("j2")) == 1
    store.close()


def test_a_database_from_before_evaluations_gains_their_table(tmp_path):
    path = tmp_path / "db.sqlite3"
    SqliteJobStore(path).close()
    with sqlite3.connect(path) as old:
        old.execute("DROP TABLE evaluations")  # as a database written before evaluations existed
    store = SqliteJobStore(path)
    store.insert_evaluation(evaluation("a", "j1", 1))
    assert [e.evaluation_id for e in store.list_evaluations("j1")] == ["a"]
    store.close()
