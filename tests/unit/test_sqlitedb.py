"""The stores kept in one SQLite file share one connection per process (vodai.sqlitedb): they take
turns on its lock instead of meeting SQLite's busy handler, which sleeps (1 ms and up) when two
connections of one process want the write lock at once."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
import time

import pytest

from vodai.idempotency import COMPLETED, INPROGRESS, job_key
from vodai.idempotency.backends.sqlite import SqliteStore
from vodai.exceptions import IdempotencyError
from vodai.sqlitedb import open_database
from vodai.tracking import PENDING, TrackedJob, TrackingError
from vodai.tracking.backends.sqlite import SqliteTracking

T = time.time()


def _job(n: int) -> TrackedJob:
    return TrackedJob(job_id=f"job-{n}", action="SubmitAIImageJob", region="cn-shanghai", media_id=f"v-{n}")


def test_the_idempotency_and_tracking_stores_of_one_file_share_its_connection(tmp_path):
    path = str(tmp_path / "vodai.sqlite3")
    store, tracking = SqliteStore(path), SqliteTracking(path)
    other_file = SqliteStore(str(tmp_path / "other.sqlite3"))
    own = SqliteStore(path, shared=False)
    try:
        assert store._db is tracking._db and store._lock is tracking._lock
        assert other_file._db is not store._db and own._db is not store._db
        # Both tables are in the file, whichever store opened it first.
        tables = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"vodai_jobs", "vodai_tracked_jobs"} <= tables
    finally:
        for s in (store, tracking, other_file, own):
            s.close()


def test_stores_of_one_process_never_meet_the_busy_handler(tmp_path):
    # busy_timeout=0: a second connection wanting the write lock while another holds it fails at
    # once with "database is locked". Threads claiming, saving, tracking and completing on the one
    # file through both stores must all succeed.
    path = str(tmp_path / "vodai.sqlite3")
    store, tracking = SqliteStore(path, busy_timeout=0), SqliteTracking(path, busy_timeout=0)
    errors, per_thread, threads = [], 150, 4

    def work(t: int) -> None:
        try:
            for i in range(per_thread):
                key = job_key("t", "SubmitAIImageJob", f"v-{t}-{i}", "tpl")
                assert store.claim(key, now=T, lock_until=T + 60, expires_at=T + 1000).acquired
                store.save_job(key, job_id=f"job-{t}-{i}", request_id="r", message="m", now=T)
                assert tracking.track(_job(t * per_thread + i), now=T)
                assert store.complete(key, message_id="m", now=T).status == COMPLETED
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    try:
        assert errors == []
        assert len(tracking.pending(10_000)) == threads * per_thread
    finally:
        store.close(), tracking.close()


def test_two_connections_of_one_process_do_meet_it(tmp_path):
    # What the sharing avoids, shown deterministically: one connection in a write transaction,
    # another of the same process refused (busy_timeout=0) rather than waiting its turn.
    path = str(tmp_path / "vodai.sqlite3")
    store, tracking = SqliteStore(path, busy_timeout=0, shared=False), SqliteTracking(path, busy_timeout=0, shared=False)
    try:
        store._db.execute("BEGIN IMMEDIATE")
        with pytest.raises(Exception, match="locked"):
            tracking.track(_job(1), now=T)
        store._db.execute("ROLLBACK")
        assert tracking.track(_job(1), now=T)
    finally:
        store.close(), tracking.close()


def test_the_connection_closes_with_the_last_store(tmp_path):
    path = str(tmp_path / "vodai.sqlite3")
    store, tracking = SqliteStore(path), SqliteTracking(path)
    connection = store._db
    key = job_key("t", "SubmitAIImageJob", "v-1", "tpl")
    tracking.close()
    tracking.close()  # twice: released once
    with pytest.raises(TrackingError, match="closed database"):  # a closed store fails as on a closed connection
        tracking.get("job-1")
    assert store.claim(key, now=T, lock_until=T + 60, expires_at=T + 1000).acquired  # the other still works
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        connection.execute("SELECT 1")
    with pytest.raises(IdempotencyError):
        store.claim(key, now=T, lock_until=T + 60, expires_at=T + 1000)
    reopened = SqliteStore(path)  # a new connection, the record still there
    try:
        assert reopened._db is not connection and reopened.get(key).status == INPROGRESS
    finally:
        reopened.close()


def test_in_memory_databases_are_never_shared():
    a, b = open_database(":memory:", ["CREATE TABLE t (x)"]), open_database(":memory:", ["CREATE TABLE t (x)"])
    try:
        assert a.connection is not b.connection
    finally:
        a.release(), b.release()


def _connection_in_child(path: str, parent_connection_id: int, answer) -> None:
    database = open_database(path, [])
    answer.put(id(database.connection) != parent_connection_id and database.users == 1)
    database.release()


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_forked_process_opens_its_own_connection(tmp_path):
    path = str(tmp_path / "vodai.sqlite3")
    store = SqliteStore(path)
    try:
        ctx = mp.get_context("fork")
        answer = ctx.Queue()
        child = ctx.Process(target=_connection_in_child, args=(path, id(store._db), answer))
        child.start()
        child.join(30)
        assert child.exitcode == 0 and answer.get(timeout=5) is True
        beside = SqliteTracking(path)  # and the parent's connection is still its own, open
        assert beside._db is store._db and beside.pending(10) == []
        beside.close()
    finally:
        store.close()


def test_tracked_rows_written_through_the_shared_connection_are_committed(tmp_path):
    # Another process (here: a connection of its own) sees what the shared one wrote: no
    # transaction is left open between the stores' turns.
    path = str(tmp_path / "vodai.sqlite3")
    store, tracking = SqliteStore(path), SqliteTracking(path)
    try:
        tracking.track(_job(7), now=T)
        store.claim(job_key("t", "SubmitAIImageJob", "v-7", "tpl"), now=T, lock_until=T + 60, expires_at=T + 1000)
        reader = sqlite3.connect(path)
        try:
            assert reader.execute("SELECT status FROM vodai_tracked_jobs WHERE job_id = 'job-7'").fetchone() == (PENDING,)
            assert reader.execute("SELECT COUNT(*) FROM vodai_jobs").fetchone() == (1,)
        finally:
            reader.close()
    finally:
        store.close(), tracking.close()


def _open_in_child(path: str, answer) -> None:
    database = open_database(path, [])
    answer.put(database.users == 1)
    database.release()


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_process_forked_while_the_registry_is_busy_can_still_open_a_database(tmp_path):
    # The child gets a copy of the registry's lock as it was: held, by a thread it does not have.
    import vodai.sqlitedb as sqlitedb

    ctx = mp.get_context("fork")
    answer = ctx.Queue()
    with sqlitedb._registry_lock:
        child = ctx.Process(target=_open_in_child, args=(str(tmp_path / "vodai.sqlite3"), answer))
        child.start()
    child.join(20)
    if child.exitcode is None:
        child.kill()
    assert child.exitcode == 0 and answer.get(timeout=5) is True


def test_a_store_closed_by_two_threads_at_once_is_released_once(tmp_path):
    path = str(tmp_path / "vodai.sqlite3")
    for _ in range(50):
        store, tracking = SqliteStore(path), SqliteTracking(path)
        start = threading.Barrier(2)

        def close():
            start.wait()
            store.close()

        threads = [threading.Thread(target=close) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert tracking.track(_job(1), now=T) in (True, False)  # the other store's connection is still open
        tracking.close()
