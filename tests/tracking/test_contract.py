"""The tracking store's contract, one suite over every backend: memory, SQLite, Redis, and Redis as a
one-node cluster through redis-py's cluster client (which refuses any command or script whose keys
are in different slots). Insert once, pending jobs least recently seen first and bounded, the first
finish wins, listing and filtering, expiry; atomic across threads and processes."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from dataclasses import asdict

import pytest
import redis

from _redis import cluster_client, redis_url  # noqa: F401 (fixtures)
from vodai.config import Settings
from vodai.tracking import FAIL, LOST, PENDING, SUCCESS, TrackedJob, TrackingUrlError, open_tracking
from vodai.tracking.backends.redis import RedisTracking

T = time.time()  # Redis expires keys by its own clock: times are offsets from now
DAY = 86400.0
BACKENDS = ["memory", "sqlite", "redis", "redis-cluster"]


def _open(kind: str, tmp_path, request, namespace: str = "test"):
    if kind == "memory":
        return open_tracking("memory://", namespace=namespace)
    if kind == "sqlite":
        return open_tracking(f"sqlite:///{tmp_path}/tracking.sqlite3", namespace=namespace)
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
        return open_tracking(url, namespace=namespace)
    client = request.getfixturevalue("cluster_client")
    client.flushall()
    return RedisTracking(namespace=namespace, client=client)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    s = _open(request.param, tmp_path, request)
    yield s
    s.close()


def job(n: int, *, at: float = 0.0, action: str = "SubmitAIImageJob", region: str = "cn-shanghai") -> TrackedJob:
    return TrackedJob(f"job-{n:03d}", action, region, media_id=f"media-{n}", media_type="video", template_id="tpl",
                      submitted_at=T + at, source={"EventType": "FileUploadComplete", "SourceMessageId": f"m-{n}"})


def test_track_inserts_once_and_never_resets_a_finished_job(store):
    assert store.track(job(1), now=T) is True
    assert store.track(job(1), now=T + 1) is False
    got = store.get("job-001")
    assert (got.status, got.media_id, got.source["SourceMessageId"]) == (PENDING, "media-1", "m-1")
    store.finish("job-001", status=SUCCESS, now=T + 2, expires_at=T + 3600, code="Success", summary={"Images": 2},
                 completion_message_id="msg-1")
    assert store.track(job(1), now=T + 3) is False  # a redelivered submit: the result stays
    got = store.get("job-001")
    assert (got.status, got.summary, got.completion_message_id) == (SUCCESS, {"Images": 2}, "msg-1")


def test_pending_is_bounded_and_least_recently_seen_first(store):
    for n in (3, 1, 2, 4):  # tracked out of order: submission time decides
        store.track(job(n, at=n), now=T + 10)
    assert [j.job_id for j in store.pending(3)] == ["job-001", "job-002", "job-003"]
    # A poll saw job-001 and job-002 still running: the others come first next time.
    store.note("job-001", vod_status="Processing", now=T + 20)
    store.note("job-002", vod_status="Processing", now=T + 21)
    assert [j.job_id for j in store.pending(10)] == ["job-003", "job-004", "job-001", "job-002"]
    noted = store.get("job-001")
    assert (noted.vod_status, noted.checks, noted.checked_at) == ("Processing", 1, T + 20)
    store.finish("job-003", status=FAIL, now=T + 22, expires_at=T + 3600, code="ProcessFailed")
    assert [j.job_id for j in store.pending(10)] == ["job-004", "job-001", "job-002"]


def test_the_first_finish_wins_and_lost_is_provisional(store):
    store.track(job(1), now=T)
    store.finish("job-001", status=LOST, now=T + 1, expires_at=T + 3600, reason="VOD does not know it")
    assert store.get("job-001").status == LOST and store.pending(10) == []
    store.note("job-001", vod_status="Processing", now=T + 2)  # no effect on a finished job
    assert store.get("job-001").checks == 0
    # A late report of the job's end still ends it; after that nothing changes it.
    store.finish("job-001", status=SUCCESS, now=T + 3, expires_at=T + 3600, completion_message_id="msg-1")
    store.finish("job-001", status=FAIL, now=T + 4, expires_at=T + 3600, code="late")
    store.finish("job-001", status=LOST, now=T + 5, expires_at=T + 3600)
    got = store.get("job-001")
    assert (got.status, got.code, got.completion_message_id, got.finished_at) == (SUCCESS, None, "msg-1", T + 3)
    assert store.finish("job-404", status=SUCCESS, now=T, expires_at=T + 1) is None  # never tracked
    with pytest.raises(ValueError):
        store.finish("job-001", status=PENDING, now=T, expires_at=T + 1)


def test_listing_filters_newest_first(store):
    for n in range(1, 6):
        store.track(job(n, at=n), now=T)
    store.finish("job-002", status=SUCCESS, now=T + 9, expires_at=T + 3600)
    store.finish("job-004", status=LOST, now=T + 9, expires_at=T + 3600)
    ids = lambda found: [j.job_id for j in found]  # noqa: E731
    assert ids(store.jobs()) == ["job-005", "job-004", "job-003", "job-002", "job-001"]
    assert ids(store.jobs(status="pending")) == ["job-005", "job-003", "job-001"]
    assert ids(store.jobs(status="done")) == ["job-004", "job-002"]
    assert ids(store.jobs(status=SUCCESS)) == ["job-002"]
    assert ids(store.jobs(status="all", limit=2)) == ["job-005", "job-004"]


def test_a_finished_job_past_its_expiry_is_absent_by_the_now_given(store):
    # Days ahead of the wall clock: Redis must not have dropped the record by its own clock.
    ends = T + DAY
    store.track(job(1), now=T)
    store.track(job(2), now=T)
    store.finish("job-001", status=SUCCESS, now=T + 1, expires_at=ends)
    assert store.get("job-001", now=ends - 1).status == SUCCESS
    assert [j.job_id for j in store.jobs(now=ends - 1)] == ["job-002", "job-001"]
    assert store.get("job-001", now=ends) is None
    assert [j.job_id for j in store.jobs(now=ends)] == ["job-002"]
    assert store.finish("job-001", status=FAIL, now=ends + 1, expires_at=ends + DAY) is None  # absent to changes too
    assert store.track(job(1), now=ends + 2) is True  # tracked again, as a new job
    assert store.get("job-001", now=ends + 3).status == PENDING
    assert [j.job_id for j in store.pending(10)] == ["job-001", "job-002"]


def test_a_finished_job_expires_by_the_wall_clock_and_a_pending_one_never(store):
    now = time.time()
    store.track(job(1), now=now)
    store.track(job(2), now=now)
    store.finish("job-001", status=SUCCESS, now=now, expires_at=now + 0.3)
    assert [j.job_id for j in store.jobs()] == ["job-002", "job-001"]
    time.sleep(max(0.0, now + 0.3 - time.time()) + 0.02)
    assert store.get("job-001") is None
    assert [j.job_id for j in store.jobs()] == ["job-002"]
    assert store.get("job-002", now=now + 10**9).status == PENDING
    assert [j.job_id for j in store.pending(10)] == ["job-002"]


@pytest.mark.parametrize("kind", BACKENDS)
def test_namespaces_are_apart(kind, tmp_path, request):
    a = _open(kind, tmp_path, request, namespace="vodai")
    if kind == "memory":
        b = open_tracking("memory://", namespace="vodai:emulator")
    elif kind == "sqlite":
        b = open_tracking(f"sqlite:///{tmp_path}/tracking.sqlite3", namespace="vodai:emulator")
    elif kind == "redis":
        b = open_tracking(request.getfixturevalue("redis_url"), namespace="vodai:emulator")
    else:
        b = RedisTracking(namespace="vodai:emulator", client=request.getfixturevalue("cluster_client"))
    a.track(job(1), now=T)
    assert a.get("job-001") is not None
    assert b.get("job-001") is None and b.pending(10) == [] and b.jobs() == []
    a.close()
    b.close()


def test_one_finish_wins_among_threads(store):
    store.track(job(1), now=T)
    barrier, winners = threading.Barrier(8), []

    def contend(n: int) -> None:
        barrier.wait()
        after = store.finish("job-001", status=SUCCESS, now=T + n, expires_at=T + 3600, code=f"worker-{n}")
        if after.code == f"worker-{n}":
            winners.append(n)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and store.get("job-001").code == f"worker-{winners[0]}"


def _finish_in_process(args) -> int:
    url, worker = args
    store = open_tracking(url, namespace="test")
    try:
        after = store.finish("job-001", status=SUCCESS, now=T + worker, expires_at=T + 3600, code=f"worker-{worker}")
        for n in range(5):  # and each process tracks jobs of its own
            store.track(job(100 + worker * 10 + n), now=T)
        return int(after.code == f"worker-{worker}")
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_separate_processes_one_finish_and_nothing_lost(kind, tmp_path, request):
    first = _open(kind, tmp_path, request)
    first.track(job(1), now=T)
    url = f"sqlite:///{tmp_path}/tracking.sqlite3" if kind == "sqlite" else request.getfixturevalue("redis_url")
    with mp.get_context("spawn").Pool(6) as pool:
        won = pool.map(_finish_in_process, [(url, w) for w in range(6)])
    assert sum(won) == 1
    assert len(first.pending(1000)) == 30 and len(first.jobs()) == 31
    first.close()


@pytest.mark.parametrize("url", ["postgres://u:hunter2@x", "ftp://u:hunter2@x", "sqlite://"])
def test_bad_url_names_the_setting_without_echoing_it(url):
    with pytest.raises(TrackingUrlError) as info:
        open_tracking(url)
    assert info.value.setting == "VODAI_TRACKING_STORE" and "hunter2" not in str(info.value)


def test_the_tracking_store_defaults_to_the_idempotency_store():
    assert Settings().tracking_url() is None  # both defaults: SQLite under .vodai/
    assert Settings.from_env({"VODAI_IDEMPOTENCY_STORE": "redis://:pw@h:6379/0"}).tracking_url() == "redis://:pw@h:6379/0"
    both = Settings.from_env({"VODAI_IDEMPOTENCY_STORE": "redis://h/0", "VODAI_TRACKING_STORE": "sqlite:///t.db"})
    assert both.tracking_url() == "sqlite:///t.db"
    assert "pw" not in repr(Settings.from_env({"VODAI_TRACKING_STORE": "redis://:pw@h/0"}))


def test_the_pipeline_finds_its_tracking_store_beside_the_idempotency_store(tmp_path):
    from vodai.idempotency import open_store
    from vodai.pipeline.dependencies import tracking_for

    bare = Settings()
    sqlite = open_store(f"sqlite:///{tmp_path}/idem.sqlite3")
    beside = tracking_for(bare, sqlite)  # a store object handed in, no URL: the same file, its own table
    assert beside.path == str(tmp_path / "idem.sqlite3") and beside.namespace == "vodai"
    memory = open_store("memory://")
    assert tracking_for(bare, memory) is tracking_for(bare, memory)  # one per store object
    assert tracking_for(bare, memory) is not tracking_for(bare, open_store("memory://"))
    configured = Settings(idempotency_store=f"sqlite:///{tmp_path}/other.sqlite3", idempotency_prefix="p")
    found = tracking_for(configured, memory)  # a configured URL wins
    assert found.path == f"{tmp_path}/other.sqlite3" and found.namespace == "p"
    assert tracking_for(configured) is found


def test_sqlite_tracks_a_new_job_and_one_over_an_expired_row_alike(tmp_path):
    # A new JobId takes SQLite's one-INSERT path, one whose old finished row has expired the full
    # read-modify-write: the same row either way (its columns order the pending list).
    import sqlite3

    path = tmp_path / "tracking.sqlite3"
    store = open_tracking(f"sqlite:///{path}", namespace="test")
    store.track(job(2), now=T)
    store.finish("job-002", status=SUCCESS, now=T + 1, expires_at=T + 10)
    assert store.track(job(1), now=T + 20) is True and store.track(job(2), now=T + 20) is True
    columns = "status, submitted_at, last_seen, expires_at, record"
    rows = dict((r[0], r[1:]) for r in sqlite3.connect(path).execute(f"SELECT job_id, {columns} FROM vodai_tracked_jobs"))
    assert rows["job-001"][:4] == rows["job-002"][:4]
    assert rows["job-001"][0] == PENDING and rows["job-001"][1] == T
    assert store.track(job(1), now=T + 21) is False  # tracked already: left as it is
    one, two = store.get("job-001", now=T + 20), store.get("job-002", now=T + 20)
    assert {**asdict(one), "job_id": "job-002", "media_id": "media-2", "source": two.source} == asdict(two)
    assert [j.job_id for j in store.pending(10)] == ["job-001", "job-002"]  # by submission time, as both are unseen
    store.close()
