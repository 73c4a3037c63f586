"""A small Redis client for vodai's stores: RESP2 over plain sockets, one pool of connections per client.

Why not redis-py at run time: ``import redis`` imports asyncio, the cluster and multi-database
clients and every command mixin, about 100 ms of each cold start on FC's Python 3.10 (50 ms on
3.11) and 8 MB, more than the rest of vodai's own import, for stores that send GET, SET, DEL,
WATCH/MULTI/EXEC and four sorted-set commands. redis-py stays in the tests, as the oracle (the
official SDKs play that part for signing).

What it does, and no more:

- URLs as redis-py reads them: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS,
  the system's CAs or ``?ssl_ca_certs=/path``), ``unix://[[user]:password@]/path/to.sock?db=N``;
  any other query parameter is refused by name (the URL itself is never quoted: it may hold a password).
- Connections are made on first use, one per thread at a time, and kept for the next call (a warm
  FC instance reuses them). The stores open their clients with :func:`shared_client`: one pool per
  URL in a process, so the idempotency and tracking stores, one database by default, share one
  connection (a cold start makes one connection, one TLS handshake, one AUTH, not two). A kept
  connection can have been closed meanwhile (the server's idle timeout, a frozen instance): one
  that has something to read while idle is dropped before use, and
  a read or ``WATCH`` that finds a kept connection dead (not slow: a timeout is never repeated) runs
  once more on a new one. A write is never sent twice: whether it ran is then unknown, as with
  any network client, and the stores decide (they re-read and run their transition again).
- :meth:`Redis.watch` is an optimistic transaction: WATCH a key and GET it in one write, then
  MULTI … EXEC in one write (two round trips); :meth:`Transaction.commit` answers False when the
  key changed meanwhile; :meth:`Redis.transact` runs one until it commits, again after a conflict
  or a failed connection. On FC, Redis is across the network: round trips are what a store costs.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_PORT = 6379


class RedisError(Exception):
    """Anything that went wrong talking to Redis."""


class UrlError(RedisError, ValueError):
    """The store URL cannot be used; the message names the part, never the URL (it may hold a password)."""


class ConnectionError(RedisError):  # noqa: A001 (the name redis-py uses for the same thing)
    """No connection, or it broke or timed out: a command sent may or may not have run."""


class Timeout(ConnectionError):
    """The server did not answer within the socket timeout (it may be slow, not gone)."""


class Conflict(RedisError):
    """A watched key kept changing under every attempt of :meth:`Redis.transact`."""


class ReplyError(RedisError):
    """Redis answered with an error (``-ERR …``, ``-WRONGPASS …``); the connection is still usable."""


Reply = Union[None, int, bytes, list, ReplyError]  # what a command returns (arrays nest)


class _Target:
    """Where and how to connect, read from a URL."""

    __slots__ = ("host", "port", "path", "db", "username", "password", "tls", "ca_certs")

    def __init__(self, *, host=None, port=DEFAULT_PORT, path=None, db=0, username=None, password=None,
                 tls=False, ca_certs=None):
        self.host, self.port, self.path, self.db = host, port, path, db
        self.username, self.password, self.tls, self.ca_certs = username, password, tls, ca_certs

    def describe(self) -> str:
        """For error messages: the address, never the credentials."""
        return f"unix socket {self.path}" if self.path else f"{self.host}:{self.port}"


def parse_url(url: str) -> _Target:
    """Read a store URL as redis-py does (its ``parse_url`` is the test oracle); raise :class:`UrlError`."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port
    except ValueError:
        raise UrlError("the Redis URL cannot be parsed (is the port a number?)") from None
    if scheme not in ("redis", "rediss", "unix"):
        raise UrlError(f"unsupported Redis URL scheme {scheme!r}: use redis://, rediss:// or unix://")
    query: dict = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, value)  # the first one wins, as in redis-py
    db_text = query.pop("db", None) or None  # a blank ?db= is no choice
    ca_certs = query.pop("ssl_ca_certs", None)
    if query:
        # Named only when a name looks like one: in a URL whose password holds an unencoded "?",
        # the "parameters" are the end of the password.
        names = sorted(query)
        shown = ", ".join(names) if all(n.isidentifier() for n in names) else "(not shown: not parameter names)"
        raise UrlError(f"unsupported Redis URL parameter(s): {shown}; supported: db, ssl_ca_certs")
    target = _Target(
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,  # redis://:@host: no password
        tls=scheme == "rediss",
        ca_certs=ca_certs or None,
    )
    if scheme == "unix":
        if not parts.path:
            raise UrlError("a unix:// Redis URL needs the socket's path, e.g. unix:///run/redis.sock?db=0")
        target.path = unquote(parts.path)
    else:
        if not parts.hostname:
            raise UrlError(f"a {scheme}:// Redis URL needs a host, e.g. {scheme}://host:6379/0")
        target.host, target.port = parts.hostname, port or DEFAULT_PORT
        path = parts.path.strip("/")
        if path and db_text is None:
            db_text = path
    if db_text is not None and db_text != "":
        if not (db_text.isascii() and db_text.isdigit()):
            raise UrlError("the Redis database must be a number (the URL's path or ?db=)")
        target.db = int(db_text)
    if ca_certs and not target.tls:
        raise UrlError("ssl_ca_certs needs a rediss:// URL")
    return target


def encode(args: Sequence[Union[str, bytes, int, float]]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode("utf-8")
        elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
            arg = repr(arg).encode("ascii")
        elif not isinstance(arg, bytes):
            raise TypeError(f"a Redis argument must be str, bytes, int or float, not {type(arg).__name__}")
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class Connection:
    """One socket to the server, speaking RESP2. Not thread-safe: the pool hands it to one caller at a time."""

    def __init__(self, sock: socket.socket, where: str = "redis") -> None:
        self._sock = sock
        self._file = sock.makefile("rb")
        self._where = where

    @classmethod
    def open(cls, target: _Target, timeout: Optional[float], tls=None) -> "Connection":
        """Connect, authenticate and select the database; ``tls``: an ``ssl.SSLContext`` for rediss://."""
        where = target.describe()
        sock = None
        try:
            if target.path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(target.path)
            else:
                sock = socket.create_connection((target.host, target.port), timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if tls is not None:
                    sock = tls.wrap_socket(sock, server_hostname=target.host)
        except (OSError, ValueError) as exc:
            if sock is not None:
                sock.close()
            raise (Timeout if isinstance(exc, socket.timeout) else ConnectionError)(
                f"cannot connect to {where}: {_describe(exc)}") from None
        conn = cls(sock, where)
        try:
            if target.password is not None:
                auth = ("AUTH", target.username, target.password) if target.username else ("AUTH", target.password)
                conn.call(*auth)
            if target.db:
                conn.call("SELECT", target.db)
        except BaseException:
            conn.close()
            raise
        return conn

    def idle_and_open(self) -> bool:
        """Whether a kept connection still looks usable: an idle RESP2 connection has nothing to
        read, so anything readable (the server's close, a reset, stray bytes) means drop it."""
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def send(self, commands: Sequence[Sequence]) -> None:
        try:
            self._sock.sendall(b"".join(encode(c) for c in commands))
        except OSError as exc:
            raise _failed(exc, f"sending to {self._where} failed") from None

    def read(self) -> Reply:
        """One reply; an error reply is returned as a :class:`ReplyError`, not raised (EXEC's
        array can hold one among results)."""
        try:
            line = self._file.readline()
            if not line.endswith(b"\r\n"):
                raise ConnectionError(f"{self._where} closed the connection")
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest
            if kind == b"-":
                return ReplyError(rest.decode("utf-8", "replace"))
            if kind == b":":
                return int(rest)
            if kind == b"$":
                size = int(rest)
                if size < 0:
                    return None
                data = self._file.read(size + 2)
                if len(data) != size + 2:
                    raise ConnectionError(f"{self._where} closed the connection")
                return data[:-2]
            if kind == b"*":
                size = int(rest)
                return None if size < 0 else [self.read() for _ in range(size)]
        except OSError as exc:  # socket.timeout is an OSError
            raise _failed(exc, f"reading from {self._where} failed") from None
        except ValueError:
            pass
        raise ConnectionError(f"{self._where} sent something that is not RESP2: {line[:40]!r}")

    def call(self, *args) -> Reply:
        """Send one command and return its reply; raise an error reply."""
        self.send((args,))
        reply = self.read()
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def close(self) -> None:
        for part in (self._file, self._sock):
            try:
                part.close()
            except OSError:
                pass


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _failed(exc: OSError, what: str) -> ConnectionError:
    return (Timeout if isinstance(exc, socket.timeout) else ConnectionError)(f"{what}: {_describe(exc)}")


# Commands a kept connection that turned out dead may run again on a new one: they change nothing.
_REPEATABLE = frozenset({"GET", "MGET", "ZRANGE", "ZREVRANGE", "WATCH", "PING", "EXISTS", "TTL", "PTTL"})
# Error replies after which a connection is not kept: it may be talking to a replica or a loading server.
_DROP_AFTER = ("READONLY", "LOADING", "MASTERDOWN")


def _keeps(error: ReplyError) -> bool:
    return not str(error).startswith(_DROP_AFTER)


class Transaction:
    """A WATCHed key on one connection, inside ``with Redis.watch(key)``: its value as read right
    after the WATCH (:attr:`value`), more reads with :meth:`call`, then :meth:`commit` once."""

    def __init__(self, conn: Connection, value: Reply = None) -> None:
        self._conn: Optional[Connection] = conn
        self.value = value
        self.done = False

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the transaction's with-block is over: its connection went back to the pool")
        return self._conn

    def call(self, *args) -> Reply:
        return self._connection().call(*args)

    def commit(self, commands: Sequence[Sequence]) -> bool:
        """MULTI, ``commands``, EXEC in one write. False (nothing done) when a watched key changed;
        an error of a queued command is raised."""
        conn = self._connection()
        if self.done:
            raise RuntimeError("a transaction commits once")
        self.done = True
        conn.send([("MULTI",), *commands, ("EXEC",)])
        replies = [conn.read() for _ in range(len(commands) + 2)]
        for reply in replies:
            if isinstance(reply, ReplyError):  # refused while queueing, or EXECABORT
                raise reply
        result = replies[-1]
        if result is None:
            return False
        for reply in result:
            if isinstance(reply, ReplyError):
                raise reply
        return True


class _Pool:
    """The kept connections to one Redis database and what opens new ones; one client's own, or
    shared by the clients of one URL in a process (:func:`shared_client`)."""

    def __init__(self, target: _Target, timeout: Optional[float]) -> None:
        self.target, self.timeout = target, timeout
        self.tls = _tls_context(target) if target.tls else None
        self.idle: List[Connection] = []
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.closed = False
        self.users = 1
        self.key: Optional[tuple] = None  # its key in the process's shared pools, if it is one

    def adopt(self) -> None:
        """In a forked child: its parent's sockets are not its own, and the lock may have been held
        by a thread that does not exist here."""
        if self.pid != os.getpid():
            self.idle, self.lock, self.pid = [], threading.Lock(), os.getpid()


class Redis:
    """A client for one Redis database: thread-safe, connections made on demand and kept."""

    def __init__(self, url: str, *, socket_timeout: Optional[float] = 5.0, _pool: Optional[_Pool] = None) -> None:
        self._pool = _pool if _pool is not None else _Pool(parse_url(url), socket_timeout)
        self._closed = False

    @property
    def _idle(self) -> List[Connection]:
        return self._pool.idle

    def _acquire(self, fresh: bool) -> Tuple[Connection, bool]:
        """A connection, and whether it is a kept one (which may have died while idle)."""
        pool = self._pool
        pool.adopt()
        while not fresh:
            with pool.lock:
                conn = pool.idle.pop() if pool.idle else None
            if conn is None:
                break
            if conn.idle_and_open():
                return conn, True
            conn.close()
        return Connection.open(pool.target, pool.timeout, pool.tls), False

    def _release(self, conn: Connection, healthy: bool) -> None:
        pool = self._pool
        if healthy:
            with pool.lock:
                if pool.pid == os.getpid() and not pool.closed:
                    pool.idle.append(conn)
                    return
        conn.close()

    def _first_send(self, commands: Sequence[Sequence]) -> Tuple[Connection, List[Reply]]:
        """``commands`` in one write on a kept connection or a new one, and their replies; when all
        are repeatable, a kept connection found dead runs them once more on a new one. The first
        error reply is raised (after UNWATCH, if a WATCH went with it)."""
        for fresh in (False, True):
            conn, kept = self._acquire(fresh)
            try:
                conn.send(commands)
                replies = [conn.read() for _ in commands]
            except ConnectionError as exc:
                self._release(conn, False)
                if not kept or isinstance(exc, Timeout) or not all(
                        str(command[0]).upper() in _REPEATABLE for command in commands):
                    raise
                continue
            except BaseException:
                self._release(conn, False)
                raise
            for reply in replies:
                if isinstance(reply, ReplyError):  # an error reply leaves the protocol in step
                    watching = any(str(command[0]).upper() == "WATCH" for command in commands)
                    self._release(conn, _keeps(reply) and (not watching or _unwatch(conn)))
                    raise reply
            return conn, replies
        raise AssertionError("unreachable: the second attempt is always on a new connection")

    def execute(self, *args) -> Reply:
        """One command (see the module's docstring for when it runs again)."""
        conn, (reply,) = self._first_send((args,))
        self._release(conn, True)
        return reply

    @contextmanager
    def watch(self, key: str) -> Iterator[Transaction]:
        """``WATCH key`` on a connection of its own, for :meth:`Transaction.commit`, with ``GET key``
        in the same write (one round trip: every store reads the key it watches)."""
        conn, (_, value) = self._first_send((("WATCH", key), ("GET", key)))
        tx = Transaction(conn, value)
        healthy = False
        try:
            yield tx
            healthy = True
        except ConnectionError:
            raise
        except ReplyError as exc:
            healthy = _keeps(exc)  # in step with the server
            raise
        except Exception:
            healthy = True  # the caller's own error (a transition that raised): the protocol is in step
            raise
        finally:
            tx._conn = None
            if healthy and not tx.done:
                healthy = _unwatch(conn)  # back to the pool with nothing watched
            self._release(conn, healthy)

    def transact(self, key: str, decide: Callable[[Transaction, bool], Tuple[Any, Sequence[Sequence]]], *,
                 attempts: int = 64, connection_attempts: int = 3) -> Any:
        """An optimistic transaction on ``key``, run until it commits. ``decide(tx, after_failure)``
        reads through ``tx`` and returns ``(result, writes)``; the writes are committed with
        MULTI/EXEC and the result returned (no writes: returned at once). It runs again when the
        key changed meanwhile, and when the connection failed, perhaps after EXEC ran, at most
        ``connection_attempts`` times in all after short pauses: ``decide`` then reads what is
        stored now, and ``after_failure`` tells it why it runs again."""
        failures = 0
        for _ in range(attempts):
            try:
                with self.watch(key) as tx:
                    result, writes = decide(tx, failures > 0)
                    if not writes or tx.commit(writes):
                        return result
            except ConnectionError:
                failures += 1
                if failures >= connection_attempts:
                    raise
                time.sleep(0.05 * 4 ** (failures - 1))  # 50 ms, then 200 ms: a blip or a failover's start
        raise Conflict(f"key {key} kept changing under {attempts} attempts")

    # The commands the stores use, named as in redis-py.
    def get(self, key: str) -> Optional[bytes]:
        return self.execute("GET", key)

    def set(self, key: str, value: Union[str, bytes], *, nx: bool = False, pxat: Optional[int] = None) -> bool:
        """SET, with NX (only when the key does not exist) and PXAT (expiry, Unix ms) as asked:
        whether it was set."""
        args: List[Any] = ["SET", key, value]
        if pxat is not None:
            args += ["PXAT", pxat]
        if nx:
            args.append("NX")
        return self.execute(*args) is not None

    def mget(self, keys: Sequence[str]) -> List[Optional[bytes]]:
        return self.execute("MGET", *keys) if keys else []

    def delete(self, *keys: str) -> int:
        return self.execute("DEL", *keys)

    def zrem(self, key: str, *members) -> int:
        return self.execute("ZREM", key, *members)

    def zrange(self, key: str, start: int, stop: int) -> List[bytes]:
        return self.execute("ZRANGE", key, start, stop)

    def zrevrange(self, key: str, start: int, stop: int) -> List[bytes]:
        return self.execute("ZREVRANGE", key, start, stop)

    def close(self) -> None:
        """Done with the client: the last client of a pool closes its kept connections (one in use
        is closed when its caller is done with it). A second close does nothing."""
        pool = self._pool
        with _shared_lock:
            if self._closed:
                return
            self._closed = True
            pool.users -= 1
            if pool.users > 0:
                return
            if pool.key is not None and _shared.get(pool.key) is pool:
                del _shared[pool.key]
        pool.adopt()
        with pool.lock:
            idle, pool.idle, pool.closed = pool.idle, [], True
        for conn in idle:
            conn.close()


# The process's shared pools, by (pid, URL, timeout): the idempotency and tracking stores use one
# Redis database by default, and one pool means one connection (one TLS handshake, one AUTH) for both.
_shared_lock = threading.Lock()
_shared: Dict[tuple, _Pool] = {}


def _adopt_after_fork() -> None:
    # A forked child starts with the parent's pools and with the lock as it was, possibly held by a
    # thread the child does not have. The pools stay shared, under the child's pid: a store opened
    # before the fork and one opened after it still use one pool (its connections the child's own).
    global _shared_lock
    _shared_lock = threading.Lock()
    pools = list(_shared.values())
    _shared.clear()
    for pool in pools:
        pool.adopt()
        pool.key = (os.getpid(), *pool.key[1:])
        _shared[pool.key] = pool


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_adopt_after_fork)


def shared_client(url: str, *, socket_timeout: Optional[float] = 5.0) -> Redis:
    """A client over this process's one pool of connections to ``url`` (made on first use): what
    the stores open. Each :meth:`Redis.close` hands one back; the last closes the connections."""
    key = (os.getpid(), url, socket_timeout)
    with _shared_lock:
        pool = _shared.get(key)
        if pool is not None:
            pool.users += 1
            return Redis(url, _pool=pool)
    client = Redis(url, socket_timeout=socket_timeout)  # parsed, TLS set up, outside the lock
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None:
            client._pool.key = key
            _shared[key] = client._pool
            return client
        pool.users += 1  # another thread got there first: its pool is used
    return Redis(url, _pool=pool)


def _unwatch(conn: Connection) -> bool:
    try:
        conn.call("UNWATCH")
        return True
    except RedisError:
        return False


def _tls_context(target: _Target):
    """The TLS context for rediss:// (built once per client: loading the CAs costs milliseconds)."""
    import ssl  # already loaded by urllib3 in the functions

    try:
        return ssl.create_default_context(cafile=target.ca_certs)
    except (OSError, ssl.SSLError) as exc:
        raise UrlError(f"ssl_ca_certs cannot be loaded: {_describe(exc)}") from None
