"""Every backend behaves the same: the state machine, expiry of locks and records, and one winner
among concurrent claims (threads here; separate processes in test_concurrency.py)."""

import threading
from dataclasses import asdict

import pytest

from _redis import redis_server
from vodai.idempotency import COMPLETED, INPROGRESS, SUBMITTED, UNCERTAIN, job_key, open_store
from vodai.idempotency.exceptions import StoreUrlError

KEY = job_key("test", "SubmitAIImageJob", "video-1", "tpl")
# Times are offsets from now: Redis expires keys by its own clock, so fake epochs would be long past.
T = __import__("time").time()


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "memory":
        s = open_store("memory://")
    elif request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/idem.sqlite3")
    else:
        s = open_store(request.getfixturevalue("redis_url"))
        s.delete(KEY)
    yield s
    s.close()


def test_the_life_of_a_job(store):
    first = store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 1000)
    assert first.acquired and first.record.status == INPROGRESS and first.record.attempts == 1
    assert not store.claim(KEY, now=T + 101, lock_until=T + 161, expires_at=T + 1000).acquired  # held
    saved = store.save_job(KEY, job_id="job-1", request_id="req-1", message='{"JobId":"job-1"}', now=T + 102)
    assert (saved.status, saved.job_id, saved.message) == (SUBMITTED, "job-1", '{"JobId":"job-1"}')
    done = store.complete(KEY, message_id="msg-1", now=T + 103)
    assert (done.status, done.message_id) == (COMPLETED, "msg-1")
    later = store.claim(KEY, now=T + 900, lock_until=T + 2000, expires_at=T + 5000)  # before the record expires
    assert not later.acquired and later.record.job_id == "job-1"  # a completed job is never claimed again


def test_an_expired_lock_is_claimed_again_and_keeps_the_saved_job(store):
    store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 1000)
    store.save_job(KEY, job_id="job-1", request_id="r", message="m", now=T + 101)
    # The invocation died before publishing; after its lock runs out a redelivery takes over.
    again = store.claim(KEY, now=T + 161, lock_until=T + 221, expires_at=T + 1000)
    assert again.acquired and again.record.job_id == "job-1" and again.record.attempts == 2


def test_release_without_a_job_frees_the_key(store):
    store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 1000)
    store.release(KEY, now=T + 101)
    assert store.get(KEY) is None
    assert store.claim(KEY, now=T + 102, lock_until=T + 162, expires_at=T + 1000).acquired


def test_release_with_a_job_keeps_it_and_drops_the_lock(store):
    store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 1000)
    store.save_job(KEY, job_id="job-1", request_id="r", message="m", now=T + 101)
    store.release(KEY, now=T + 102)
    again = store.claim(KEY, now=T + 103, lock_until=T + 163, expires_at=T + 1000)  # at once, not after 160
    assert again.acquired and again.record.job_id == "job-1"


def test_uncertain_is_never_claimed(store):
    store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 1000)
    store.mark_uncertain(KEY, reason="answer lost", now=T + 101)
    held = store.claim(KEY, now=T + 500, lock_until=T + 560, expires_at=T + 1000)
    assert not held.acquired and held.record.status == UNCERTAIN and held.record.reason == "answer lost"


def test_records_expire(store, request):
    import time

    if request.node.callspec.params["store"] == "redis":
        now = time.time()  # Redis expires by its own clock
        store.claim(KEY, now=now, lock_until=now + 60, expires_at=now + 1)
        store.complete(KEY, message_id="m", now=now)
        deadline = time.time() + 10
        while store.get(KEY) is not None and time.time() < deadline:
            time.sleep(0.1)
        assert store.get(KEY) is None
    else:
        store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 200)
        store.complete(KEY, message_id="m", now=T + 101)
        assert store.claim(KEY, now=T + 201, lock_until=T + 261, expires_at=T + 400).acquired  # expired: as if absent


def test_one_winner_among_threads(store):
    winners, barrier = [], threading.Barrier(8)

    def contend():
        barrier.wait()
        if store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 1000).acquired:
            winners.append(threading.get_ident())

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


@pytest.mark.parametrize("url", ["postgres://x", "ftp://x", "sqlite://"])
def test_bad_store_url_names_the_setting_without_echoing_it(url):
    with pytest.raises(StoreUrlError) as info:
        open_store(url)
    assert info.value.setting == "VODAI_IDEMPOTENCY_STORE"


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
