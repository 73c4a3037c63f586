"""The idempotency store's contract, one suite over every backend: memory, SQLite, Redis, and Redis
as a one-node cluster through redis-py's cluster client (which refuses any command or script whose
keys are in different slots). The state machine, expiry of locks and records, one winner among
concurrent claims. Backend-specific behaviour is in test_sqlite.py and test_redis.py."""

import threading
import time

import pytest
import redis

from _redis import cluster_client, redis_url  # noqa: F401 (fixtures)
from vodai.idempotency import COMPLETED, INPROGRESS, SEEN, SUBMITTED, UNCERTAIN, job_key, open_store
from vodai.idempotency.backends.redis import RedisStore
from vodai.exceptions import StoreUrlError

KEY = job_key("test", "SubmitAIImageJob", "video-1", "tpl")
# Times are offsets from now: Redis expires keys by its own clock, so fake epochs would be long past.
T = time.time()
DAY = 86400.0
BACKENDS = ["memory", "sqlite", "redis", "redis-cluster"]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    if request.param == "memory":
        s = open_store("memory://")
    elif request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/idem.sqlite3")
    elif request.param == "redis":
        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
        s = open_store(url)
    else:
        client = request.getfixturevalue("cluster_client")
        client.flushall()
        s = RedisStore(client=client)
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


def test_a_record_past_its_expiry_is_absent_by_the_now_given(store):
    # Days ahead of the wall clock: Redis must not have dropped the record by its own clock.
    ends = T + DAY
    store.claim(KEY, now=T, lock_until=T + 60, expires_at=ends)
    store.save_job(KEY, job_id="job-1", request_id="r", message="m", now=T + 1)
    store.complete(KEY, message_id="msg-1", now=T + 2)
    assert store.get(KEY, now=ends - 1).status == COMPLETED
    assert store.get(KEY, now=ends) is None
    with pytest.raises(KeyError):  # absent to the transitions too
        store.complete(KEY, message_id="msg-2", now=ends + 1)
    again = store.claim(KEY, now=ends + 2, lock_until=ends + 62, expires_at=ends + DAY)
    assert again.acquired and again.record.attempts == 1 and again.record.job_id is None  # a new record
    assert store.get(KEY, now=ends + 3) == again.record


def test_a_record_expires_by_the_wall_clock(store):
    now = time.time()
    store.claim(KEY, now=now, lock_until=now + 60, expires_at=now + 0.3)
    store.complete(KEY, message_id="m", now=now)
    assert store.get(KEY).status == COMPLETED
    time.sleep(max(0.0, now + 0.3 - time.time()) + 0.02)
    assert store.get(KEY) is None
    assert store.claim(KEY, now=time.time(), lock_until=now + 60, expires_at=now + 600).acquired


def test_a_record_without_expiry_is_kept(store):
    store.claim(KEY, now=T, lock_until=T + 60, expires_at=0.0)
    assert store.get(KEY, now=T + 10**9).status == INPROGRESS


def test_a_step_of_a_job_nobody_claimed_is_refused(store):
    for step in (lambda: store.save_job(KEY, job_id="j", request_id=None, message="m", now=T),
                 lambda: store.complete(KEY, message_id=None, now=T),
                 lambda: store.release(KEY, now=T),
                 lambda: store.mark_uncertain(KEY, reason="r", now=T)):
        with pytest.raises(KeyError):
            step()
    assert store.get(KEY) is None


def test_delete_forgets_a_key(store):
    store.claim(KEY, now=T, lock_until=T + 60, expires_at=T + 1000)
    store.mark_uncertain(KEY, reason="answer lost", now=T + 1)
    store.delete(KEY)
    store.delete(KEY)  # a key that is not there: nothing to do
    assert store.get(KEY) is None
    assert store.claim(KEY, now=T + 2, lock_until=T + 62, expires_at=T + 1000).acquired


SEEN_KEY = "test:callback-seen:abc"
# Each takes a key at most once among concurrent callers: a claim, and a seen mark.
TAKES = {
    "claim": lambda store: store.claim(KEY, now=T + 100, lock_until=T + 160, expires_at=T + 1000).acquired,
    "mark_seen": lambda store: store.mark_seen(SEEN_KEY, now=T, expires_at=T + 1000),
}


@pytest.mark.parametrize("take", TAKES)
def test_one_winner_among_threads(store, take):
    winners, barrier = [], threading.Barrier(8)

    def contend():
        barrier.wait()
        if TAKES[take](store):
            winners.append(threading.get_ident())

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_seen_is_set_once_until_it_expires(store):
    ends = T + DAY  # ahead of the wall clock: Redis must not drop the mark by its own clock
    assert store.mark_seen(SEEN_KEY, now=T, expires_at=ends) is True
    assert store.mark_seen(SEEN_KEY, now=T + 1, expires_at=ends + 100) is False  # seen: left as it was
    assert store.get(SEEN_KEY, now=T + 2).status == SEEN
    assert store.mark_seen(SEEN_KEY, now=ends, expires_at=ends + 100) is True  # the first mark expired
    assert store.mark_seen(SEEN_KEY, now=ends + 1, expires_at=ends + 100) is False


def test_seen_expires_by_the_wall_clock_and_delete_forgets_it(store):
    now = time.time()
    assert store.mark_seen(SEEN_KEY, now=now, expires_at=now + 0.3)
    time.sleep(max(0.0, now + 0.3 - time.time()) + 0.05)
    assert store.mark_seen(SEEN_KEY, now=time.time(), expires_at=time.time() + 600)
    store.delete(SEEN_KEY)
    assert store.mark_seen(SEEN_KEY, now=time.time(), expires_at=time.time() + 600)


@pytest.mark.parametrize("url", ["postgres://x", "ftp://x", "sqlite://"])
def test_bad_store_url_names_the_setting_without_echoing_it(url):
    with pytest.raises(StoreUrlError) as info:
        open_store(url)
    assert info.value.setting == "VODAI_IDEMPOTENCY_STORE"


def test_prepare_keeps_the_request_identity_and_only_for_the_holder(store):
    now = time.time()
    store.claim("vodai:A:m1:", now=now, lock_until=now + 60, expires_at=now + DAY)
    kept = store.prepare("vodai:A:m1:", nonce="n1", timestamp="2026-01-01T00:00:00Z", digest="d1", expected_nonce=None,
                         now=now)
    assert (kept.nonce, kept.timestamp, kept.digest) == ("n1", "2026-01-01T00:00:00Z", "d1")
    # Another attempt that still expects no nonce has been overtaken: the record keeps n1.
    assert store.prepare("vodai:A:m1:", nonce="n2", timestamp="t", digest="d", expected_nonce=None, now=now).nonce == "n1"
    # A claim after the lock ran out reads the nonce to re-send.
    assert store.claim("vodai:A:m1:", now=now + 61, lock_until=now + 120, expires_at=now + DAY).record.nonce == "n1"


def test_records_lists_a_prefix_by_status(store):
    now = time.time()
    for key in ("vodai:A:m1:", "vodai:A:m2:", "other:A:m3:"):
        store.claim(key, now=now, lock_until=now + 60, expires_at=now + DAY)
    store.mark_uncertain("vodai:A:m2:", reason="lost", now=now)
    assert [r.key for r in store.records("vodai", status="UNCERTAIN")] == ["vodai:A:m2:"]
    assert sorted(r.key for r in store.records("vodai")) == ["vodai:A:m1:", "vodai:A:m2:"]


def test_resolve_gives_an_uncertain_record_its_job_and_nothing_else(store):
    now = time.time()
    store.claim("vodai:A:m1:", now=now, lock_until=now + 60, expires_at=now + DAY)
    assert store.resolve("vodai:A:m1:", job_id="j1", how="test", now=now).status == INPROGRESS  # not uncertain: kept
    store.mark_uncertain("vodai:A:m1:", reason="lost", now=now)
    done = store.resolve("vodai:A:m1:", job_id="j1", how="an event", now=now)
    assert (done.status, done.job_id) == (COMPLETED, "j1") and "an event" in done.reason
    assert not store.claim("vodai:A:m1:", now=now + 1, lock_until=now + 60, expires_at=now + DAY).acquired
