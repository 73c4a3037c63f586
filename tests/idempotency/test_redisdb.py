"""vodai.redisdb, the stores' own Redis client: against a real redis-server, with redis-py (a dev
dependency only) as the oracle for URLs, the wire format and what is stored."""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import threading

import pytest
import redis  # the oracle
import redis.connection

from _redis import _free_port, redis_server
from conftest import ROOT, self_signed_certificate
from vodai.redisdb import Connection, ConnectionError, Redis, ReplyError, Timeout, UrlError, encode, parse_url


@pytest.fixture(scope="module")
def url():
    with redis_server() as u:
        yield u


@pytest.fixture
def client(url):
    redis.Redis.from_url(url).flushdb()
    c = Redis(url)
    yield c
    c.close()


@pytest.fixture
def oracle(url):
    o = redis.Redis.from_url(url)
    yield o
    o.close()


# -- URLs, the wire format, replies (no server) ------------------------------------------------------

URLS = [
    "redis://127.0.0.1:6380/2",
    "redis://localhost",
    "redis://:pa%40ss@cache.example:6379/0",
    "redis://vodai:s3cret@r-bp1.redis.rds.aliyuncs.com:6379/15",
    "rediss://r-bp1.redis.rds.aliyuncs.com:6380/1",
    "redis://h:7?db=4",
    "unix:///run/redis/redis.sock?db=2",
    "unix://:pw@/tmp/r.sock",
    "redis://:@h/1",
    "redis://user@h",
    "redis://h/3?db=",
    "redis://h/3?db=5&db=6",
    "redis://%75ser:p%3Aw%2Fd%3F@h/2",
    "redis://[::1]:6390/4",
    "rediss://h/0?ssl_ca_certs=/etc/ssl/ca.pem",
]


@pytest.mark.parametrize("text", URLS)
def test_urls_are_read_as_redis_py_reads_them(text):
    want = redis.connection.parse_url(text)
    got = parse_url(text)
    assert got.host == want.get("host")
    assert got.path == want.get("path")
    assert got.port == (want.get("port", 6379) if got.host else 6379)
    assert got.db == int(want.get("db", 0))
    assert got.username == (want.get("username") or None)
    assert got.password == want.get("password")
    assert got.tls == (want.get("connection_class") is redis.connection.SSLConnection)


@pytest.mark.parametrize("text, says", [
    ("http://:s3cret@h:6379/0", "scheme 'http'"),
    ("redis://:s3cret@h:port/0", "port"),
    ("redis://:s3cret@/0", "needs a host"),
    ("redis://:s3cret@h/zero", "must be a number"),
    ("redis://:s3cret@h/\u00b2", "must be a number"),
    ("redis://:s3cret@h/0?health_check_interval=5", "health_check_interval"),
    ("redis://:s3cret@h/0?ssl_ca_certs=/ca.pem", "rediss://"),
    ("unix://:s3cret@?db=1", "socket's path"),
    ("redis://u:12?s3cret@h/0", "not shown"),
])
def test_a_bad_url_is_refused_naming_the_part_never_the_password(text, says):
    with pytest.raises(UrlError) as caught:
        parse_url(text)
    assert says in str(caught.value) and "s3cret" not in str(caught.value)


def test_commands_are_encoded_as_redis_py_encodes_them():
    pack = redis.connection.Connection().pack_command
    rnd = random.Random(7)
    alphabet = ["a", "é", "漢", "\r\n", " ", "$", "*", "0"]
    for _ in range(300):
        args = ["SET"]
        for _ in range(rnd.randint(0, 5)):
            kind = rnd.choice(["str", "bytes", "int", "float"])
            if kind == "str":
                args.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))))
            elif kind == "bytes":
                args.append(bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 12))))
            elif kind == "int":
                args.append(rnd.randint(-10**15, 10**15))
            else:
                args.append(rnd.uniform(-1e6, 1e6) if rnd.random() < 0.8 else rnd.choice([0.1, 1e-7, 1e22, 1.5]))
        assert encode(args) == b"".join(pack(*args)), args


def test_a_bool_or_none_argument_is_refused():
    for bad in (True, None, ["x"]):
        with pytest.raises(TypeError):
            encode(["SET", "k", bad])


def _reader(raw: bytes) -> Connection:
    """A connection reading ``raw``, then the end of the stream."""
    ours, theirs = socket.socketpair()
    theirs.sendall(raw)
    theirs.close()
    return Connection(ours, "test")


def test_every_kind_of_reply_is_read_whole():
    conn = _reader(b"+OK\r\n-ERR wrong number\r\n:42\r\n:-3\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
                   b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+QUEUED\r\n$6\r\na\r\nb\r\n\r\n")
    assert conn.read() == b"OK"
    err = conn.read()
    assert isinstance(err, ReplyError) and str(err) == "ERR wrong number"
    assert [conn.read() for _ in range(7)] == [42, -3, b"hello", b"", None, None, []]
    assert conn.read() == [1, [b"a", None], b"QUEUED"]
    assert conn.read() == b"a\r\nb\r\n"  # a bulk string is read by its length, whatever it holds


@pytest.mark.parametrize("raw", [b"", b"+OK", b"$10\r\nshort\r\n", b"*2\r\n:1\r\n"])
def test_a_reply_cut_short_is_a_connection_error(raw):
    with pytest.raises(ConnectionError, match="closed the connection"):
        _reader(raw).read()


@pytest.mark.parametrize("raw", [b"HTTP/1.1 400 Bad Request\r\n", b"$abc\r\n", b":1.5\r\n"])
def test_something_that_is_not_resp_is_refused(raw):
    with pytest.raises(ConnectionError, match="not RESP2"):
        _reader(raw).read()


def test_a_server_that_does_not_answer_in_time_is_a_connection_error():
    with socket.socket() as listener:  # accepts (the kernel does) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        c = Redis(f"redis://127.0.0.1:{listener.getsockname()[1]}/0", socket_timeout=0.2)
        with pytest.raises(ConnectionError, match="timed out"):
            c.get("k")


def test_no_server_is_a_connection_error_naming_the_address_never_the_password():
    port = _free_port()
    with pytest.raises(ConnectionError) as caught:
        Redis(f"redis://:s3cret@127.0.0.1:{port}/0", socket_timeout=1).get("k")
    assert f"127.0.0.1:{port}" in str(caught.value) and "s3cret" not in str(caught.value)


# -- against redis-server --------------------------------------------------------------------------


def test_what_it_writes_redis_py_reads_and_the_other_way(client, oracle):
    assert client.execute("SET", "k", "välue") == b"OK"
    assert oracle.get("k") == "välue".encode()
    oracle.zadd("z", {"a": 1.5, "b": 0.25, "c": 3})
    assert client.zrange("z", 0, -1) == [b"b", b"a", b"c"]
    assert client.zrevrange("z", 0, 1) == [b"c", b"a"]
    assert client.zrem("z", "a", b"c", "missing") == 2
    assert client.mget(["k", "missing"]) == [b"v\xc3\xa4lue", None] and client.mget([]) == []
    assert client.delete("k", "z", "missing") == 2
    assert client.get("k") is None


def test_a_transaction_writes_everything_or_nothing_and_sees_a_concurrent_change(client, oracle):
    with client.watch("t") as tx:
        assert tx.call("GET", "t") is None
        oracle.set("t", "theirs")  # between WATCH and EXEC
        assert tx.commit([("SET", "t", "ours"), ("ZADD", "idx", 1.25, "t")]) is False
    assert oracle.get("t") == b"theirs" and oracle.zcard("idx") == 0
    with client.watch("t") as tx:
        assert tx.call("GET", "t") == b"theirs"
        assert tx.commit([("SET", "t", "ours", "PXAT", 4102444800000), ("ZADD", "idx", 1.25, "t")]) is True
    assert oracle.get("t") == b"ours" and oracle.zscore("idx", "t") == 1.25
    assert 0 < oracle.pttl("t")


def test_an_error_inside_a_transaction_is_raised_and_the_connection_stays_usable(client, oracle):
    oracle.set("s", "a string")
    with pytest.raises(ReplyError, match="WRONGTYPE"):
        with client.watch("s") as tx:
            tx.commit([("ZADD", "s", 1, "m")])
    with pytest.raises(ReplyError, match="EXECABORT|wrong number"):
        with client.watch("s") as tx:
            tx.commit([("SET", "s")])  # refused while queueing: nothing runs
    assert client.get("s") == b"a string"
    assert client.execute("PING") == b"PONG"


def test_a_watch_left_without_commit_does_not_follow_the_connection_back_to_the_pool(client, oracle):
    with client.watch("w") as tx:
        tx.call("GET", "w")  # and no commit (a transition that decided to write nothing)
    with client.watch("other") as tx:  # the same connection, taken from the pool again
        oracle.set("w", "changed")
        assert tx.commit([("SET", "other", "1")]) is True  # "w" is watched no more


def test_an_exception_inside_a_transaction_unwatches_and_keeps_its_connection(client, oracle):
    with pytest.raises(RuntimeError):
        with client.watch("x") as tx:
            tx.call("GET", "x")
            raise RuntimeError("a bug in a transition")
    assert len(client._idle) == 1  # kept, with nothing watched:
    with client.watch("other") as tx:
        oracle.set("x", "changed")
        assert tx.commit([("SET", "other", "1")]) is True
    with pytest.raises(RuntimeError, match="with-block is over"):
        tx.call("GET", "x")  # a transaction does not outlive its block


def test_a_transaction_commits_once(client):
    with client.watch("once") as tx:
        assert tx.commit([("SET", "once", "1")]) is True
        with pytest.raises(RuntimeError, match="commits once"):
            tx.commit([("SET", "once", "2")])
    assert client.get("once") == b"1"


def test_a_kept_connection_that_died_while_idle_is_replaced_once(client, oracle):
    client.execute("SET", "a", "1")
    killed = oracle.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    assert client.get("a") == b"1"  # a read: run again on a new connection
    oracle.client_kill_filter(_type="normal", skipme=True)
    with client.watch("a") as tx:  # WATCH first: also safe to run again
        assert tx.commit([("SET", "a", "2")]) is True
    assert oracle.get("a") == b"2"


class _ScriptedServer:
    """A stand-in server: connection n answers its commands with ``scripts[n]``, one reply each,
    and closes (without answering) where the script says None, or stalls where it says "stall".
    Records every command it receives, so a test can count what was sent."""

    def __init__(self, *scripts):
        self.scripts, self.received = list(scripts), []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            for script in self.scripts:  # each connection on its own thread: a stall holds up no other
                conn, _ = self.listener.accept()
                threading.Thread(target=self._play, args=(conn, script), daemon=True).start()
        except OSError:
            pass  # the test closed the listener

    def _play(self, conn, script):
        reader = Connection(conn, "client")
        try:
            for reply in script:
                command = reader.read()  # a client's command is a RESP array, as a reply would be
                self.received.append([c.decode() for c in command])
                if reply is None:
                    break
                if reply == "stall":
                    threading.Event().wait(2)
                    break
                conn.sendall(reply)
            else:
                return
        except (OSError, ConnectionError):
            pass  # the client went away
        reader.close()  # the file and the socket: a socket with a file open is not closed

    def close(self):
        self.listener.close()


def test_a_read_on_a_kept_connection_that_died_runs_once_more_on_a_new_one():
    server = _ScriptedServer([b"+OK\r\n", None], [b"$1\r\n1\r\n"])
    c = Redis(server.url)
    assert c.execute("SET", "a", "1") == b"OK"  # the connection is kept ...
    assert c.get("a") == b"1"  # ... and closed by the server at the GET, without an answer
    assert server.received == [["SET", "a", "1"], ["GET", "a"], ["GET", "a"]]
    server.close()


def test_a_write_on_a_kept_connection_that_died_is_never_sent_twice():
    server = _ScriptedServer([b"+OK\r\n", None], [b":1\r\n"])
    c = Redis(server.url)
    c.execute("SET", "a", "1")
    with pytest.raises(ConnectionError, match="closed the connection"):
        c.delete("a")  # it may have run: the caller decides
    assert server.received == [["SET", "a", "1"], ["DEL", "a"]]
    server.close()


def test_a_timeout_is_never_repeated_even_for_a_read():
    server = _ScriptedServer([b"+OK\r\n", "stall"], [b"$1\r\n1\r\n"])
    c = Redis(server.url, socket_timeout=0.3)
    c.execute("SET", "a", "1")
    with pytest.raises(Timeout):
        c.get("a")  # slow, not gone: running it again would only add load
    assert server.received == [["SET", "a", "1"], ["GET", "a"]]
    server.close()


def test_a_connection_that_met_a_replica_or_a_loading_server_is_not_kept():
    server = _ScriptedServer([b"-READONLY You can't write against a read only replica.\r\n"],
                             [b"-ERR wrong number of arguments\r\n"])
    c = Redis(server.url)
    with pytest.raises(ReplyError, match="READONLY"):
        c.execute("SET", "a", "1")
    assert c._idle == []  # after a failover it may still be talking to the old primary
    with pytest.raises(ReplyError, match="wrong number"):
        c.execute("SET", "a")
    assert len(c._idle) == 1  # any other error reply leaves a usable connection
    server.close()


def test_a_kept_connection_with_something_to_read_is_dropped_before_use(client, oracle):
    client.execute("SET", "k", "1")
    [kept] = client._idle
    kept._sock.sendall(b"PING\r\n")  # an answer now waits on the idle connection: out of step
    import time

    deadline = time.time() + 5
    while kept.idle_and_open() and time.time() < deadline:
        time.sleep(0.01)
    assert client.get("k") == b"1"  # on a new connection, not reading the stray +PONG
    assert kept not in client._idle


def test_a_connection_that_dies_inside_a_transaction_is_an_error_not_a_retry(client, oracle):
    with pytest.raises(ConnectionError):
        with client.watch("d") as tx:
            oracle.client_kill_filter(_type="normal", skipme=True)
            tx.commit([("SET", "d", "1")])
    assert oracle.get("d") is None
    assert client.get("d") is None  # and the client goes on with a new connection


def test_threads_share_one_client_without_crossing_replies(client):
    errors = []

    def worker(n):
        try:
            for i in range(150):
                key = f"t{n}:{i}"
                client.execute("SET", key, f"{n}/{i}")
                assert client.get(key) == f"{n}/{i}".encode()
                with client.watch(key) as tx:
                    assert tx.call("GET", key) == f"{n}/{i}".encode()
                    assert tx.commit([("SET", key, f"{n}/{i}!")])
                assert client.mget([key, "missing"]) == [f"{n}/{i}!".encode(), None]
        except Exception as exc:  # reported below: an assert in a thread would be lost
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert 1 <= len(client._idle) <= 8  # connections kept for reuse, at most one per thread at a time


def test_a_forked_child_opens_connections_of_its_own(client, oracle):
    client.execute("SET", "f", "parent")  # the parent keeps a connection
    pid = os.fork()
    if pid == 0:  # the child: uses the client it inherited, then leaves at once
        code = 0
        try:
            for i in range(50):
                client.execute("SET", "child", str(i))
                if client.get("child") != str(i).encode():
                    code = 2
        except BaseException:
            code = 3
        os._exit(code)
    for _ in range(50):
        assert client.get("f") == b"parent"
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert oracle.get("child") == b"49"


def test_the_stores_of_one_url_share_one_connection_and_the_last_close_closes_it():
    from vodai.idempotency import open_store
    from vodai.redisdb import shared_client
    from vodai.tracking import open_tracking

    with redis_server() as url:  # a server of its own: no other test's client holds a connection to it
        oracle = redis.Redis.from_url(url)
        base = int(oracle.info("stats")["total_connections_received"])  # the oracle's own, and the helper's
        already = int(oracle.info("clients")["connected_clients"])

        def opened() -> int:
            return int(oracle.info("stats")["total_connections_received"]) - base

        def connected() -> int:
            return int(oracle.info("clients")["connected_clients"]) - already

        store, tracking = open_store(url), open_tracking(url)
        now = __import__("time").time()
        assert store.claim("k", now=now, lock_until=now + 60, expires_at=now + 600).acquired
        assert tracking.get("job-1") is None and store.get("k").attempts == 1
        assert (opened(), connected()) == (1, 1)  # one connection served both stores
        store.close()
        store.close()  # a second close hands nothing back twice
        assert tracking.get("job-1") is None and (opened(), connected()) == (1, 1)
        other = open_store(url)  # the pool is still open: it joins it
        assert other.get("k").attempts == 1 and opened() == 1
        other.close()
        tracking.close()  # the last one closes the kept connection
        deadline = __import__("time").time() + 5
        while connected() and __import__("time").time() < deadline:
            __import__("time").sleep(0.01)
        assert connected() == 0
        again = shared_client(url)  # a new pool, after the last close
        assert again.get("k") is not None and opened() == 2
        again.close()
        oracle.close()


def test_a_forked_child_shares_the_pool_it_inherited_with_connections_of_its_own(url, oracle):
    import signal

    from vodai import redisdb
    from vodai.redisdb import shared_client

    parent = shared_client(url)
    parent.execute("SET", "f", "parent")  # the parent's pool keeps a connection
    [kept] = parent._idle
    with redisdb._shared_lock:  # held at the fork, as another thread of the parent might hold it
        pid = os.fork()
    if pid == 0:
        code = 0
        try:
            signal.alarm(5)  # a lock the child inherited held would hang it: fail instead
            child = shared_client(url)  # opened after the fork: the pool the inherited client uses
            if child._pool is not parent._pool or parent._idle:
                code = 2
            elif child.execute("SET", "child", "1") != b"OK" or parent.get("child") != b"1":
                code = 4
            elif parent._idle == [kept] or len(parent._idle) != 1:
                code = 5  # one connection of the child's own, never the parent's socket
            parent.close()
            child.close()
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert parent.get("f") == b"parent" and oracle.get("child") == b"1"
    assert parent._idle == [kept]  # the parent's connection went on serving the parent
    parent.close()


def test_passwords_users_and_databases():
    with redis_server(password="s3cret") as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        wrong = Redis(f"redis://:nope@127.0.0.1:{port}/0")
        with pytest.raises(ReplyError) as caught:
            wrong.get("k")
        assert "WRONGPASS" in str(caught.value) and "nope" not in str(caught.value)
        oracle = redis.Redis.from_url(url)
        oracle.set("k", "db0")
        assert Redis(url).get("k") == b"db0"
        in_db3 = Redis(f"redis://:s3cret@127.0.0.1:{port}/3")
        assert in_db3.get("k") is None
        in_db3.execute("SET", "k", "db3")
        assert redis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{port}/3").get("k") == b"db3"
        assert oracle.get("k") == b"db0"
        oracle.acl_setuser("vodai", enabled=True, passwords=["+user-s3cret"], commands=["+@all"], keys=["*"])
        as_user = Redis(f"redis://vodai:user-s3cret@127.0.0.1:{port}/0")
        assert as_user.get("k") == b"db0" and as_user.execute("ACL", "WHOAMI") == b"vodai"


def test_a_unix_socket(tmp_path):
    path = tmp_path / "redis.sock"
    with redis_server("--unixsocket", str(path), "--unixsocketperm", "700"):
        c = Redis(f"unix://{path}?db=2")
        c.execute("SET", "k", "over a unix socket")
        assert redis.Redis(unix_socket_path=str(path), db=2).get("k") == b"over a unix socket"


_LEAN = """
import json, sys
from vodai.idempotency import open_store
from vodai.tracking import open_tracking
store, tracking = open_store(sys.argv[1]), open_tracking(sys.argv[1])
claim = store.claim("lean:key", now=0.0, lock_until=1e12, expires_at=0.0)
print(json.dumps([claim.acquired, sorted(m for m in ("redis", "asyncio") if m in sys.modules)]))
"""


def test_the_redis_stores_load_neither_redis_py_nor_asyncio(url):
    # redis-py's import (asyncio among it) cost about 100 ms of each cold start on FC's Python 3.10.
    redis.Redis.from_url(url).flushdb()
    out = subprocess.run([sys.executable, "-c", _LEAN, url], capture_output=True, text=True, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT / "shared")})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [True, []]


def test_tls_with_the_servers_ca_and_not_without(tmp_path):
    cert, key = self_signed_certificate(tmp_path, name="localhost", san="DNS:localhost")
    port = _free_port()
    with redis_server("--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                      "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no") as plain:
        c = Redis(f"rediss://localhost:{port}/1?ssl_ca_certs={cert}")
        c.execute("SET", "k", "over TLS")
        assert redis.Redis.from_url(plain.replace("/0", "/1")).get("k") == b"over TLS"
        [first] = c._idle
        for _ in range(5):  # kept and reused: what TLS 1.3 sends after the handshake is no stray answer
            with c.watch("k") as tx:
                assert tx.call("GET", "k") == b"over TLS"
                assert tx.commit([("SET", "k", "over TLS")])
        assert c._idle == [first]
        with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            Redis(f"rediss://localhost:{port}/1").get("k")  # the system's CAs do not know this one
        with pytest.raises(ConnectionError, match="cannot connect"):
            Redis(f"rediss://127.0.0.1:{port}/1?ssl_ca_certs={cert}").get("k")  # not the name in the certificate


def test_a_bad_redis_url_is_a_setting_error_of_the_store_that_reads_it():
    from vodai.idempotency import StoreUrlError, open_store
    from vodai.tracking import TrackingUrlError, open_tracking

    for opener, error, variable in ((open_store, StoreUrlError, "VODAI_IDEMPOTENCY_STORE"),
                                    (open_tracking, TrackingUrlError, "VODAI_TRACKING_STORE")):
        with pytest.raises(error) as caught:
            opener("redis://:s3cret@cache.example:6379/zero")
        assert variable in str(caught.value) and "must be a number" in str(caught.value)
        assert "s3cret" not in str(caught.value)


def _lose_the_connection_at_the_first_commit(store, oracle, *, after_exec: bool) -> list:
    """Fault injection: the first commit's connection is killed before EXEC is sent, or its answer
    is lost after EXEC ran (``after_exec``). Returns the list the faults are counted in."""
    real_watch, faults = store._client.watch, []

    @contextlib.contextmanager
    def watch(key):
        with real_watch(key) as tx:
            real_commit = tx.commit

            def commit(commands):
                if faults:
                    return real_commit(commands)
                faults.append(key)
                if after_exec:
                    real_commit(commands)
                    raise ConnectionError("the answer to EXEC was lost (injected)")
                oracle.client_kill_filter(_type="normal", skipme=True)
                return real_commit(commands)

            tx.commit = commit
            yield tx

    store._client.watch = watch
    return faults


@pytest.mark.parametrize("after_exec", [False, True])
def test_a_jobs_record_survives_a_connection_lost_around_exec(url, oracle, after_exec):
    from vodai.idempotency import SUBMITTED, open_store

    oracle.flushdb()
    store = open_store(url)
    now = __import__("time").time()
    assert store.claim("k", now=now, lock_until=now + 60, expires_at=now + 600).acquired
    faults = _lose_the_connection_at_the_first_commit(store, oracle, after_exec=after_exec)
    saved = store.save_job("k", job_id="job-1", request_id="r-1", message="{}", now=now + 1)
    assert faults == ["k"]  # the fault happened, and the transition ran again on what was stored
    assert saved.status == SUBMITTED and saved.job_id == "job-1"
    assert store.get("k").job_id == "job-1"
    store.close()


def test_a_claim_whose_answer_was_lost_is_never_a_second_claim(url, oracle):
    from vodai.idempotency import open_store

    oracle.flushdb()
    store = open_store(url)
    now = __import__("time").time()
    # A new key: the claim's one SET … NX ran, and its answer was lost.
    real_set, lost = store._client.set, []

    def set_and_lose_the_answer(*args, **kw):
        real_set(*args, **kw)
        lost.append(args[0])
        raise ConnectionError("the answer to SET was lost (injected)")

    store._client.set = set_and_lose_the_answer
    claim = store.claim("k", now=now, lock_until=now + 60, expires_at=now + 600)
    assert lost == ["k"]
    assert not claim.acquired and claim.record.attempts == 1  # held (by the lost answer's claim)
    # A key that exists and may be claimed again (its lock ran out): the transaction's EXEC ran
    # and its answer was lost.
    store._client.set = real_set
    faults = _lose_the_connection_at_the_first_commit(store, oracle, after_exec=True)
    claim = store.claim("k", now=now + 61, lock_until=now + 121, expires_at=now + 600)
    assert faults == ["k"]
    assert not claim.acquired and claim.record.attempts == 2 and claim.record.lock_until == now + 121
    store.close()


def _reads(oracle) -> int:
    """How many reads redis-server has done: one per write a client sent (on loopback, where a
    short write arrives whole), so the difference over a call is its round trips."""
    return int(oracle.info("stats")["total_reads_processed"])


def test_a_claim_of_a_new_key_is_one_round_trip_and_a_transition_two(url, oracle):
    from vodai.idempotency import open_store

    oracle.flushdb()
    store = open_store(url)
    now = __import__("time").time()
    store._client.execute("PING")  # connected: the count below is of the store's own round trips
    before = _reads(oracle)
    claim = store.claim("k", now=now, lock_until=now + 60, expires_at=now + 600)
    claimed = _reads(oracle)
    store.save_job("k", job_id="job-1", request_id="r-1", message="{}", now=now + 1)
    saved = _reads(oracle)
    assert claim.acquired and claim.record.attempts == 1
    assert (claimed - before - 1, saved - claimed - 1) == (1, 2)  # minus the oracle's own INFO
    assert json.loads(oracle.get("k"))["job_id"] == "job-1"
    assert 599_000 < oracle.pttl("k") <= 600_000  # the claim's SET carried the record's expiry
    # A key that is held: the SET … NX does nothing, and the transaction reads it as held.
    again = store.claim("k", now=now + 2, lock_until=now + 62, expires_at=now + 600)
    assert not again.acquired and again.record.job_id == "job-1" and again.record.attempts == 1
    store.close()


def test_watch_reads_the_key_in_the_same_write(client, oracle):
    oracle.set("v", "theirs")
    before = _reads(oracle)
    with client.watch("v") as tx:
        assert tx.value == b"theirs"
        assert tx.commit([("SET", "v", "ours")]) is True
    assert _reads(oracle) - before - 1 == 2  # WATCH with GET, then MULTI … EXEC (minus the oracle's INFO)
    with client.watch("absent") as tx:
        assert tx.value is None


def test_a_watched_key_that_is_not_a_string_is_an_error_and_the_connection_is_unwatched(client, oracle):
    oracle.rpush("l", "x")
    with pytest.raises(ReplyError, match="WRONGTYPE"):
        with client.watch("l"):
            pass
    assert len(client._idle) == 1  # kept, and watching nothing:
    with client.watch("other") as tx:
        oracle.rpush("l", "y")
        assert tx.commit([("SET", "other", "1")]) is True


def test_set_with_nx_and_pxat_as_redis_py_sets_it(client, oracle):
    assert client.set("n", "1", nx=True) is True
    assert client.set("n", "2", nx=True) is False and oracle.get("n") == b"1"
    assert client.set("n", "3") is True and oracle.get("n") == b"3" and oracle.pttl("n") == -1
    assert client.set("e", "1", nx=True, pxat=4102444800000) is True
    assert oracle.pttl("e") > 2_000_000_000_000  # ms to 2100-01-01 (PXAT), not a relative expiry


def test_a_watch_whose_connection_died_between_its_two_replies_runs_once_more_on_a_new_one():
    server = _ScriptedServer([b"+OK\r\n", b"+OK\r\n", None], [b"+OK\r\n", b"$1\r\n1\r\n", b"+OK\r\n"])
    c = Redis(server.url)
    c.execute("SET", "a", "1")  # the connection is kept ...
    with c.watch("a") as tx:  # ... and closed after answering WATCH, before GET's answer
        assert tx.value == b"1"
    assert server.received == [["SET", "a", "1"], ["WATCH", "a"], ["GET", "a"], ["WATCH", "a"], ["GET", "a"],
                               ["UNWATCH"]]
    server.close()


def test_a_claim_refused_by_a_replica_is_a_store_error_and_the_connection_is_dropped():
    from vodai.idempotency import IdempotencyError
    from vodai.idempotency.backends.redis import RedisStore

    server = _ScriptedServer([b"-READONLY You can't write against a read only replica.\r\n"])
    store = RedisStore(server.url)
    with pytest.raises(IdempotencyError, match="READONLY"):
        store.claim("k", now=0.0, lock_until=60.0, expires_at=0.0)
    assert server.received[0][:2] == ["SET", "k"] and server.received[0][-1] == "NX"
    assert "PXAT" not in server.received[0]  # a record that does not expire: no expiry sent
    assert store._client._idle == []
    store.close()
    server.close()


def test_a_release_whose_answer_was_lost_is_done(url, oracle):
    from vodai.idempotency import open_store

    oracle.flushdb()
    store = open_store(url)
    now = __import__("time").time()
    store.claim("k", now=now, lock_until=now + 60, expires_at=now + 600)
    _lose_the_connection_at_the_first_commit(store, oracle, after_exec=True)
    store.release("k", now=now + 1)
    assert store.get("k") is None
    store.close()


def test_a_transition_gives_up_after_three_failed_connections(url, oracle):
    from vodai.idempotency import IdempotencyError, open_store

    store = open_store(url)
    opened = []
    real_watch = store._client.watch

    @contextlib.contextmanager
    def watch(key):
        opened.append(key)
        oracle.client_kill_filter(_type="normal", skipme=True)
        with real_watch(key) as tx:
            yield tx

    def always_down(tx, after_failure):
        raise ConnectionError("down (injected)")

    store._client.watch = watch
    with pytest.raises(ConnectionError):
        store._client.transact("k", always_down)
    assert len(opened) == 3
    nowhere = open_store(f"redis://:s3cret@127.0.0.1:{_free_port()}/0")
    with pytest.raises(IdempotencyError, match="redis store: ConnectionError: cannot connect") as caught:
        nowhere.claim("k", now=0.0, lock_until=1.0, expires_at=0.0)
    assert "s3cret" not in str(caught.value)


def test_a_ca_file_that_cannot_be_loaded_is_a_url_error_naming_the_parameter(tmp_path):
    for path in (tmp_path / "missing.pem", tmp_path / "not-a-certificate.pem"):
        if path.name.startswith("not"):
            path.write_text("hello")
        with pytest.raises(UrlError, match="ssl_ca_certs cannot be loaded"):
            Redis(f"rediss://:s3cret@localhost:6380/0?ssl_ca_certs={path}")
