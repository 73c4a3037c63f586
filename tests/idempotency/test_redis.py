"""The Redis stores (idempotency and tracking) beyond the contract (test_contract.py), against a real
redis-server: keys of one job in one cluster slot, one client per URL, round trips, URLs, passwords
and TLS, errors that never quote a password, and redis-py loaded only when a Redis store is used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import redis
from redis.cluster import key_slot

from _redis import _free_port, redis_server
from conftest import ROOT, self_signed_certificate
from vodai.idempotency import IdempotencyError, StoreUrlError, job_key, open_store
from vodai.idempotency.backends.redis import RedisStore
from vodai.tracking import SUCCESS, TrackedJob, TrackingUrlError, open_tracking
from vodai.tracking.backends.redis import RedisTracking

T = time.time()


@pytest.fixture(autouse=True)
def _now():
    """T is each test's own start: Redis expires records on its own clock (PXAT), so a time taken
    at import is stale for a test that runs many minutes later in a full suite."""
    global T
    T = time.time()


@pytest.fixture(scope="module")
def url():
    with redis_server() as u:
        yield u


@pytest.fixture
def oracle(url):
    o = redis.Redis.from_url(url)
    o.flushdb()
    yield o
    o.close()


class Recording:
    """A client that records the keys of every command it sends, scripts included, then sends it
    on a real redis-py client: what the stores accept in place of one (their Protocol)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client, self.calls = client, []

    def _record(self, command: str, keys) -> None:
        self.calls.append((command, [k.decode() if isinstance(k, bytes) else k for k in keys]))

    def get(self, name):
        self._record("GET", [name])
        return self.client.get(name)

    def mget(self, keys):
        self._record("MGET", keys)
        return self.client.mget(keys)

    def set(self, name, value, *, nx=False, pxat=None):
        self._record("SET", [name])
        return self.client.set(name, value, nx=nx, pxat=pxat)

    def delete(self, *names):
        self._record("DEL", names)
        return self.client.delete(*names)

    def zrange(self, name, start, end, desc=False):
        self._record("ZRANGE", [name])
        return self.client.zrange(name, start, end, desc=desc)

    def zrem(self, name, *values):
        self._record("ZREM", [name])
        return self.client.zrem(name, *values)

    def register_script(self, script):
        real = self.client.register_script(script)

        def run(keys=(), args=()):
            self._record("EVALSHA", keys)
            return real(keys=keys, args=args)

        return run

    def close(self):
        self.client.close()


def test_every_multi_key_operation_touches_one_cluster_slot(url, oracle):
    # ApsaraDB for Redis cluster editions refuse a command or script whose keys are in different
    # slots (the contract suite runs on a one-node cluster too; this names the operations).
    client = Recording(redis.Redis.from_url(url))
    store, tracking = RedisStore(client=client), RedisTracking(namespace="vodai", client=client)
    for n in range(20):
        key, job_id = job_key("vodai", "SubmitAIImageJob", f"media-{n}", "tpl"), f"job-{n}"
        assert store.claim(key, now=T, lock_until=T + 60, expires_at=T + 600).acquired
        assert not store.claim(key, now=T, lock_until=T + 60, expires_at=T + 600).acquired
        store.save_job(key, job_id=job_id, request_id="r", message="{}", now=T)
        store.complete(key, message_id="m", now=T)
        store.release(key, now=T)
        store.delete(key)
        assert tracking.track(TrackedJob(job_id, "SubmitAIImageJob", "cn-shanghai", submitted_at=T + n), now=T)
        tracking.note(job_id, vod_status="Processing", now=T + 1)
        if n % 2:
            tracking.finish(job_id, status=SUCCESS, now=T + 2, expires_at=T + 0.001)  # gone at once
    oracle.zadd("{vodai:tracking}:all", {"job-gone": T})  # listed, its record gone: removed while listing
    assert len(tracking.pending(100)) == 10 and len(tracking.jobs()) == 10
    multi = [(command, keys) for command, keys in client.calls if len(keys) > 1]
    assert {command for command, _ in multi} == {"EVALSHA", "MGET"}
    for command, keys in multi:
        assert len({key_slot(k.encode()) for k in keys}) == 1, (command, keys)
    assert all(len(keys) == 1 for command, keys in client.calls if command != "MGET" and keys[0].startswith("vodai:"))
    client.close()


def test_the_stores_of_one_url_share_one_client_and_the_last_close_closes_it():
    with redis_server() as url:  # a server of its own: no other test's client holds a connection to it
        oracle = redis.Redis.from_url(url)
        base = int(oracle.info("stats")["total_connections_received"])
        already = int(oracle.info("clients")["connected_clients"])

        def opened() -> int:
            return int(oracle.info("stats")["total_connections_received"]) - base

        def connected() -> int:
            return int(oracle.info("clients")["connected_clients"]) - already

        store, tracking = open_store(url), open_tracking(url)
        assert store.claim("k", now=T, lock_until=T + 60, expires_at=T + 600).acquired
        assert tracking.get("job-1") is None and store.get("k").attempts == 1
        assert (opened(), connected()) == (1, 1)  # one connection served both stores
        store.close()
        store.close()  # a second close hands nothing back twice
        assert tracking.get("job-1") is None and (opened(), connected()) == (1, 1)
        tracking.close()  # the last one closes the connection
        deadline = time.time() + 5
        while connected() and time.time() < deadline:
            time.sleep(0.01)
        assert connected() == 0
        again = open_store(url)  # a new client after the last close
        assert again.get("k").attempts == 1 and opened() == 2
        again.close()
        oracle.close()


def _reads(oracle) -> int:
    """How many reads redis-server has done: one per write a client sent (on loopback, where a
    short write arrives whole), so the difference over a call is its round trips."""
    return int(oracle.info("stats")["total_reads_processed"])


def test_a_claim_of_a_new_key_is_one_round_trip_and_each_next_change_of_its_job_one(url, oracle):
    store = RedisStore(client=redis.Redis.from_url(url))
    store.claim("warm", now=T, lock_until=T + 60, expires_at=T + 600)
    store.save_job("warm", job_id="j", request_id="r", message="{}", now=T)  # connected, script loaded
    before = _reads(oracle)
    claim = store.claim("k", now=T, lock_until=T + 60, expires_at=T + 600)
    claimed = _reads(oracle)
    store.save_job("k", job_id="job-1", request_id="r-1", message="{}", now=T + 1)
    saved = _reads(oracle)
    store.complete("k", message_id="m-1", now=T + 1)
    completed = _reads(oracle)
    assert claim.acquired and claim.record.attempts == 1
    # Minus the oracle's own INFO: the changes run on the text the store wrote, without a read.
    assert (claimed - before - 1, saved - claimed - 1, completed - saved - 1) == (1, 1, 1)
    other = RedisStore(client=redis.Redis.from_url(url))  # never wrote "k": reads it first
    other.get("warm")
    before = _reads(oracle)
    other.resolve("k", job_id="job-1", how="test", now=T + 2)  # a completed record: read, nothing to write
    assert _reads(oracle) - before - 1 == 1
    assert json.loads(oracle.get("k"))["job_id"] == "job-1"
    assert 0 < oracle.pttl("k") <= 600_000 and oracle.pexpiretime("k") == int((T + 600) * 1000)
    before = _reads(oracle)
    held = store.claim("k", now=T + 2, lock_until=T + 62, expires_at=T + 600)  # SET NX, then a read: no write
    assert not held.acquired and held.record.job_id == "job-1" and _reads(oracle) - before - 1 == 2


def test_tracking_a_new_job_is_one_round_trip_and_a_redelivery_changes_nothing(url, oracle):
    tracking = RedisTracking(namespace="rt", client=redis.Redis.from_url(url))
    tracking.get("warm")  # connected
    before = _reads(oracle)
    assert tracking.track(TrackedJob("job-rt", "SubmitAIImageJob", "cn-shanghai", submitted_at=T), now=T)
    assert _reads(oracle) - before - 1 == 1  # minus the oracle's own INFO
    again = RedisTracking(namespace="rt", client=redis.Redis.from_url(url))  # a redelivery, elsewhere
    assert not again.track(TrackedJob("job-rt", "SubmitAIImageJob", "cn-beijing", submitted_at=T + 9), now=T + 9)
    kept = again.get("job-rt")
    assert kept is not None and kept.region == "cn-shanghai" and kept.submitted_at == T
    assert [m.decode() for m in oracle.zrange("{rt:tracking}:pending", 0, -1)] == ["job-rt"]


def test_a_change_on_the_text_a_store_wrote_finds_out_when_another_client_changed_it(url, oracle):
    # The first store's claim lapsed and a second one took the job over and prepared its own
    # request: the first one's prepare, tried on the text it wrote, must see the second's nonce.
    first, second = (RedisStore(client=redis.Redis.from_url(url)) for _ in range(2))
    assert first.claim("taken", now=T, lock_until=T + 1, expires_at=T + 600).acquired
    assert second.claim("taken", now=T + 5, lock_until=T + 65, expires_at=T + 600).acquired
    second.prepare("taken", nonce="n-second", timestamp="t", digest="d", expected_nonce=None, now=T + 5)
    mine = first.prepare("taken", nonce="n-first", timestamp="t", digest="d", expected_nonce=None, now=T + 6)
    assert mine.nonce == "n-second" and json.loads(oracle.get("taken"))["nonce"] == "n-second"
    # A record deleted behind its back: the change runs on what is there (nothing). A release then
    # reads as one whose own delete committed unanswered (what any failed compare-and-set allows):
    # the key is gone either way.
    oracle.delete("taken")
    with pytest.raises(KeyError):
        first.save_job("taken", job_id="j", request_id="r", message="{}", now=T + 7)
    first.release("taken", now=T + 7)
    assert oracle.get("taken") is None


@pytest.mark.parametrize(("text", "says"), [
    ("redis://:s3cret@cache.example:6379/zero", "must be a number"),
    ("redis://:s3cret@cache.example:port/0", "cannot be read"),
    ("redis://:s3/cret@cache.example:6379/0", "percent-encoded"),  # an unencoded / ends the host
    ("redis://:s3cret@cache.example:6379/0?bogus=1", "parameter redis-py does not accept"),
])
def test_a_bad_redis_url_is_a_setting_error_naming_the_setting_never_the_password(text, says):
    for opener, error, setting in ((open_store, StoreUrlError, "VODAI_IDEMPOTENCY_STORE"),
                                   (open_tracking, TrackingUrlError, "VODAI_TRACKING_STORE")):
        with pytest.raises(error) as caught:
            opener(text)
        message = str(caught.value)
        assert message.startswith(f"{setting}: ") and says in message and "\n" not in message
        assert "s3" not in message and "cret" not in message


def test_no_server_and_a_wrong_password_are_store_errors_without_the_password():
    nowhere = open_store(f"redis://:s3cret@127.0.0.1:{_free_port()}/0")
    with pytest.raises(IdempotencyError, match="redis store: ConnectionError: .*127.0.0.1") as caught:
        nowhere.claim("k", now=T, lock_until=T + 1, expires_at=0.0)
    assert "s3cret" not in str(caught.value)
    nowhere.close()
    with redis_server(password="s3cret") as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        wrong = open_tracking(f"redis://:nope-nope@127.0.0.1:{port}/0")
        with pytest.raises(Exception, match="redis tracking store: AuthenticationError") as caught:
            wrong.get("job-1")
        assert "nope-nope" not in str(caught.value)
        wrong.close()
        oracle = redis.Redis.from_url(url)
        oracle.acl_setuser("vodai", enabled=True, passwords=["+user-s3cret"], commands=["+@all"], keys=["*"])
        in_db3 = open_store(f"redis://vodai:user-s3cret@127.0.0.1:{port}/3")
        assert in_db3.claim("k", now=T, lock_until=T + 60, expires_at=0.0).acquired
        assert redis.Redis.from_url(url.replace("/0", "/3")).get("k") is not None and oracle.get("k") is None
        in_db3.close()


def test_tls_with_the_servers_ca_and_not_without(tmp_path):
    cert, key = self_signed_certificate(tmp_path, name="localhost", san="DNS:localhost")
    port = _free_port()
    with redis_server("--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                      "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no") as plain:
        store = open_store(f"rediss://localhost:{port}/1?ssl_ca_certs={cert}")
        assert store.claim("k", now=T, lock_until=T + 60, expires_at=0.0).acquired
        assert redis.Redis.from_url(plain.replace("/0", "/1")).get("k") is not None
        store.close()
        unknown = open_store(f"rediss://localhost:{port}/1")  # the system's CAs do not know this one
        with pytest.raises(IdempotencyError, match="certificate verify failed|CERTIFICATE_VERIFY_FAILED"):
            unknown.get("k")
        unknown.close()


_IMPORTS = """
import json, sys
import vodai.handler
before = "redis" in sys.modules
from vodai.idempotency import open_store
store = open_store(sys.argv[1])
print(json.dumps([before, "redis" in sys.modules, store.claim("lean:key", now=0.0, lock_until=1e12, expires_at=0.0).acquired]))
"""


_IDENTITY = """
import json, sys
import redis, redis.utils
from vodai.idempotency import open_store
store = open_store(sys.argv[1])
store.claim("lean:identity", now=0.0, lock_until=1e12, expires_at=0.0)  # connected
info = store._client.connection_pool.connection_kwargs.get("driver_info")
looked_up = redis.utils.get_lib_version.cache_info().currsize if hasattr(redis, "DriverInfo") else 0
print(json.dumps([getattr(info, "name", "redis-py"), getattr(info, "lib_version", redis.__version__),
                  redis.__version__, looked_up]))
"""


def test_the_client_names_itself_as_redis_py_without_reading_package_metadata(url, oracle):
    # redis-py 7+ reads its version from importlib.metadata (about 2 ms) for CLIENT SETINFO unless
    # it is given one: the stores give redis.__version__, which is the same.
    out = subprocess.run([sys.executable, "-c", _IDENTITY, url], capture_output=True, text=True, cwd=str(ROOT),
                         check=False, env={**os.environ, "PYTHONPATH": str(ROOT / "shared")})
    assert out.returncode == 0, out.stderr
    name, version, installed, looked_up = json.loads(out.stdout)
    assert (name, version, looked_up) == ("redis-py", installed, 0)


def test_redis_py_is_loaded_only_when_a_redis_store_is_opened(url, oracle):
    out = subprocess.run([sys.executable, "-c", _IMPORTS, url], capture_output=True, text=True, cwd=str(ROOT), check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "shared")})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [False, True, True]


def test_warns_at_start_when_redis_does_not_persist(caplog):
    from vodai.idempotency.backends.redis import RedisStore

    with redis_server() as url:  # started with appendonly no and save ""
        with caplog.at_level("WARNING", logger="vodai.idempotency"):
            RedisStore(client=redis.Redis.from_url(url))
        [warning] = [r.getMessage() for r in caplog.records if r.name == "vodai.idempotency"]
        assert "no persistence" in warning and "appendonly yes" in warning
    with redis_server("--appendonly", "yes") as url:
        caplog.clear()
        with caplog.at_level("WARNING", logger="vodai.idempotency"):
            RedisStore(client=redis.Redis.from_url(url))
        assert [r for r in caplog.records if r.name == "vodai.idempotency"] == []


def test_a_server_that_refuses_config_is_no_error(caplog):
    from vodai.idempotency.backends.redis import RedisStore

    # A managed Redis may rename CONFIG away; the store cannot tell and says nothing.
    with redis_server("--rename-command", "CONFIG", "") as url:
        with caplog.at_level("WARNING", logger="vodai.idempotency"):
            store = RedisStore(client=redis.Redis.from_url(url))
        assert [r for r in caplog.records if r.name == "vodai.idempotency"] == []
        store.claim("k", now=1.0, lock_until=2.0, expires_at=0.0)
