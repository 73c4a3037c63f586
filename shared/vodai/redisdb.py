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
  FC instance reuses them). A kept connection can have been closed meanwhile (the server's idle
  timeout, a frozen instance): a call that finds it dead on its first exchange, which is always a
  read, an idempotent write or a ``WATCH``, runs again once on a new connection. Any other failure
  is raised: whether a command ran is then unknown, as with any network client.
- :meth:`Redis.watch` is an optimistic transaction: WATCH a key, read, then MULTI … EXEC in one write;
  :meth:`Transaction.commit` answers False when the key changed meanwhile.
"""

from __future__ import annotations

import os
import socket
import threading
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_PORT = 6379


class RedisError(Exception):
    """Anything that went wrong talking to Redis."""


class UrlError(RedisError, ValueError):
    """The store URL cannot be used; the message names the part, never the URL (it may hold a password)."""


class ConnectionError(RedisError):  # noqa: A001 (the name redis-py uses for the same thing)
    """No connection, or it broke or timed out: a command sent may or may not have run."""


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
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    db_text = query.pop("db", None)
    ca_certs = query.pop("ssl_ca_certs", None)
    if query:
        raise UrlError(f"unsupported Redis URL parameter(s): {', '.join(sorted(query))} (supported: db, ssl_ca_certs)")
    target = _Target(
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
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
    def open(cls, target: _Target, timeout: Optional[float]) -> "Connection":
        where = target.describe()
        try:
            if target.path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(target.path)
            else:
                sock = socket.create_connection((target.host, target.port), timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if target.tls:
                    import ssl  # already loaded by urllib3 in the functions

                    context = ssl.create_default_context(cafile=target.ca_certs)
                    sock = context.wrap_socket(sock, server_hostname=target.host)
        except (OSError, ValueError) as exc:
            raise ConnectionError(f"cannot connect to {where}: {_describe(exc)}") from None
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

    def send(self, commands: Sequence[Sequence]) -> None:
        try:
            self._sock.sendall(b"".join(encode(c) for c in commands))
        except OSError as exc:
            raise ConnectionError(f"sending to {self._where} failed: {_describe(exc)}") from None

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
            raise ConnectionError(f"reading from {self._where} failed: {_describe(exc)}") from None
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


class Transaction:
    """A WATCHed key on one connection: read with :meth:`call`, then :meth:`commit` once."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.done = False

    def call(self, *args) -> Reply:
        return self._conn.call(*args)

    def commit(self, commands: Sequence[Sequence]) -> bool:
        """MULTI, ``commands``, EXEC in one write. False (nothing done) when a watched key changed;
        an error of a queued command is raised."""
        self.done = True
        conn = self._conn
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


class Redis:
    """A client for one Redis database: thread-safe, connections made on demand and kept."""

    def __init__(self, url: str, *, socket_timeout: Optional[float] = 5.0) -> None:
        self._target = parse_url(url)
        self._timeout = socket_timeout
        self._idle: List[Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False

    def _acquire(self, fresh: bool) -> Tuple[Connection, bool]:
        """A connection, and whether it is a kept one (which may have died while idle)."""
        if not fresh:
            with self._lock:
                if self._pid != os.getpid():  # a forked child must not share its parent's sockets
                    self._idle, self._pid = [], os.getpid()
                if self._idle:
                    return self._idle.pop(), True
        return Connection.open(self._target, self._timeout), False

    def _release(self, conn: Connection, healthy: bool) -> None:
        if healthy:
            with self._lock:
                if self._pid == os.getpid() and not self._closed:
                    self._idle.append(conn)
                    return
        conn.close()

    def _first_call(self, *args) -> Tuple[Connection, Reply]:
        """``args`` on a kept connection, or a new one; once more on a new one if a kept one was dead."""
        for fresh in (False, True):
            conn, kept = self._acquire(fresh)
            try:
                return conn, conn.call(*args)
            except ReplyError:
                self._release(conn, True)  # an error reply leaves the protocol in step
                raise
            except ConnectionError:
                self._release(conn, False)
                if not kept:
                    raise
            except BaseException:
                self._release(conn, False)
                raise
        raise AssertionError("unreachable: the second attempt is always on a new connection")

    def execute(self, *args) -> Reply:
        """One command: only reads and idempotent writes, since a kept connection found dead runs it again."""
        conn, reply = self._first_call(*args)
        self._release(conn, True)
        return reply

    @contextmanager
    def watch(self, key: str) -> Iterator[Transaction]:
        """``WATCH key`` on a connection of its own, for :meth:`Transaction.commit`."""
        conn, _ = self._first_call("WATCH", key)
        tx = Transaction(conn)
        healthy = False
        try:
            yield tx
            if not tx.done:
                conn.call("UNWATCH")  # back to the pool with nothing watched
            healthy = True
        except ReplyError:
            healthy = tx.done  # EXEC answered: in step, nothing watched
            raise
        finally:
            self._release(conn, healthy)

    # The commands the stores use, named as in redis-py.
    def get(self, key: str) -> Optional[bytes]:
        return self.execute("GET", key)

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
        """Close the kept connections; one in use is closed when its caller is done with it."""
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for conn in idle:
            conn.close()
