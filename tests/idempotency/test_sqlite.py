"""The SQLite store beyond the contract (test_contract.py): one winner among processes, and its
short paths (one INSERT for a new key, one compare-and-set UPDATE for the next steps) leaving what
the full read-modify-write leaves."""

import threading
from dataclasses import asdict
import time

import pytest

from vodai.idempotency import COMPLETED, INPROGRESS, SUBMITTED, job_key, open_store

KEY = job_key("test", "SubmitAIImageJob", "video-1", "tpl")
T = time.time()


def test_sqlite_from_separate_processes_has_one_winner(tmp_path):
    import multiprocessing as mp

    url = f"sqlite:///{tmp_path}/idem.sqlite3"
    open_store(url).close()  # create the schema first
    ctx = mp.get_context("spawn")
    with ctx.Pool(8) as pool:
        results = pool.map(_claim_in_process, [url] * 8)
    assert sum(results) == 1


def _claim_in_process(url: str) -> int:
    store = open_store(url)
    try:
        return int(store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 1000).acquired)
    finally:
        store.close()


def test_sqlite_claims_a_new_key_and_an_expired_one_alike(tmp_path):
    # A new key takes SQLite's one-INSERT path, a key whose old row has expired the full
    # read-modify-write: both must leave the same record and expiry behind.
    import sqlite3

    path = tmp_path / "idem.sqlite3"
    store = open_store(f"sqlite:///{path}")
    new, old = job_key("t", "A", "new", "tpl"), job_key("t", "A", "old", "tpl")
    store.claim(old, now=T, lock_until=T + 10, expires_at=T + 20)
    claims = [store.claim(k, now=T + 30, lock_until=T + 90, expires_at=T + 1000) for k in (new, old)]
    assert [c.acquired for c in claims] == [True, True]
    records = [store.get(k) for k in (new, old)]
    assert [asdict(c.record) for c in claims] == [asdict(r) for r in records]
    assert {**asdict(records[0]), "key": old} == asdict(records[1])
    assert (records[0].status, records[0].attempts, records[0].lock_until) == (INPROGRESS, 1, T + 90)
    rows = sqlite3.connect(path).execute("SELECT key, expires_at FROM vodai_jobs ORDER BY key").fetchall()
    assert sorted(rows) == sorted([(new, T + 1000), (old, T + 1000)])
    assert not store.claim(new, now=T + 31, lock_until=T + 91, expires_at=T + 1000).acquired  # held: not inserted again
    store.close()


def test_sqlite_steps_of_its_own_claim_leave_what_the_full_path_leaves(tmp_path):
    # save_job and complete on a key this store object claimed are one compare-and-set UPDATE each;
    # a second store object on the same file has nothing remembered and reads the row first. It has
    # a connection of its own (as another process would), so the trace holds only mine's statements.
    from vodai.idempotency.backends.sqlite import SqliteStore

    path = f"sqlite:///{tmp_path}/idem.sqlite3"
    mine, other = open_store(path), SqliteStore(f"{tmp_path}/idem.sqlite3", shared=False)
    fast, full = job_key("t", "A", "fast", "tpl"), job_key("t", "A", "full", "tpl")
    statements = []
    for key, store in ((fast, mine), (full, other)):
        mine.claim(key, now=T, lock_until=T + 60, expires_at=T + 1000)
        mine._db.set_trace_callback(statements.append)
        store.save_job(key, job_id="job-1", request_id="req-1", message='{"JobId":"job-1"}', now=T + 1)
        mine._db.set_trace_callback(None)
    saved = [asdict(other.get(k)) for k in (fast, full)]
    for key, store in ((fast, mine), (full, other)):
        mine._db.set_trace_callback(statements.append)
        store.complete(key, message_id="msg-1", now=T + 2)
        mine._db.set_trace_callback(None)
    done = [asdict(other.get(k)) for k in (fast, full)]
    assert [s.split()[0] for s in statements] == ["UPDATE", "UPDATE"]  # one statement per step, no read
    assert saved[0] == {**saved[1], "key": fast} and saved[0]["status"] == SUBMITTED
    assert done[0] == {**done[1], "key": fast} and done[0]["status"] == COMPLETED
    mine.close(), other.close()


@pytest.mark.parametrize("shared", [False, True])
def test_sqlite_compare_and_set_yields_to_a_change_made_by_another_writer(tmp_path, shared):
    # This store's lock ran out and another writer re-armed the claim (attempts 2): the save that
    # follows must not write over that with the record this store remembers (attempts 1). The other
    # writer as another process (a connection of its own) and as another store of this process.
    from vodai.idempotency.backends.sqlite import SqliteStore

    mine = open_store(f"sqlite:///{tmp_path}/idem.sqlite3")
    other = SqliteStore(f"{tmp_path}/idem.sqlite3", shared=shared)
    assert mine.claim(KEY, now=T, lock_until=T + 10, expires_at=T + 1000).acquired
    assert other.claim(KEY, now=T + 11, lock_until=T + 70, expires_at=T + 1000).acquired
    saved = mine.save_job(KEY, job_id="job-1", request_id="r", message="m", now=T + 12)
    assert (saved.status, saved.attempts, saved.lock_until) == (SUBMITTED, 2, T + 70)
    assert asdict(other.get(KEY)) == asdict(saved)
    other.release(KEY, now=T + 13)  # drops the lock, keeps the job: mine must see that too
    done = mine.complete(KEY, message_id="msg-1", now=T + 14)
    assert (done.status, done.attempts, done.job_id) == (COMPLETED, 2, "job-1")
    assert asdict(other.get(KEY)) == asdict(done)
    mine.close(), other.close()
