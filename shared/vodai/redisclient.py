"""What vodai's Redis stores share: the client they accept, one redis-py client per URL per process,
and the compare-and-set every change of a record commits with.

Imported only by the Redis backends, so ``redis`` (redis-py) is loaded only when a Redis store is
configured.

A change is optimistic: read the record (``GET``), run the pure transition in Python, then commit
with :data:`COMPARE_AND_SET`, a Lua script that writes only if the record still holds the text that
was read; otherwise the change runs again on what is there now. Two round trips, no connection held
between them, and every key a script touches is declared, so a Redis cluster (ApsaraDB for Redis
cluster editions) accepts it when those keys share a hash tag. A change of a record this store
itself wrote last (a job's claim, then its prepare, save and complete) skips the read: it runs on
the text written, and the compare-and-set tells whether that is still the record.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .exceptions import RedisUrlError

Raw = bytes | str | None  # a value as the client returns it (str when it decodes responses)
T = TypeVar("T")


class RedisClient(Protocol):
    """The redis-py methods the stores call: ``redis.Redis`` has them, and so does
    ``redis.cluster.RedisCluster``; a test may hand in any object that does."""

    def get(self, name: str) -> Any: ...

    def mget(self, keys: list[str]) -> Any: ...

    def set(self, name: str, value: str, *, nx: bool = False, pxat: int | None = None) -> Any: ...

    def delete(self, *names: str) -> Any: ...

    def zrange(self, name: str, start: int, end: int, desc: bool = False) -> Any: ...

    def zrem(self, name: str, *values: str | bytes) -> Any: ...

    def register_script(self, script: str) -> Callable[..., Any]: ...

    def scan_iter(self, match: str | None = None, count: int | None = None) -> Any: ...

    def config_get(self, pattern: str = "*") -> Any: ...

    def close(self) -> None: ...


# KEYS[1]: the record; KEYS[2..n]: sorted sets that index it (the tracking store's).
# ARGV[1]: the record's text as read ('' = absent); ARGV[2]: its new text ('' = delete it);
# ARGV[3]: its expiry, Unix ms ('0' = none); ARGV[4]: the record's member in the indexes;
# ARGV[3 + i]: its score in KEYS[i] ('' = remove it). Returns 1 when written, 0 when it had changed.
COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
for i = 2, #KEYS do
  local score = ARGV[3 + i]
  if score == '' then
    redis.call('ZREM', KEYS[i], ARGV[4])
  else
    redis.call('ZADD', KEYS[i], score, ARGV[4])
  end
end
return 1
"""

# Connection failures are retried by redis-py itself, briefly (an FC invocation has a budget):
# every command the stores send is safe to send twice (a compare-and-set that had run sees its own
# write and the change runs again on it). A timeout is not retried: the server may be slow, not gone.
SOCKET_TIMEOUT = 5.0
RETRY_BACKOFF_BASE, RETRY_BACKOFF_CAP, RETRIES = 0.05, 0.2, 2


def as_text(raw: Raw) -> str | None:
    """A value as text, whichever way the client decodes responses."""
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


class Expiring(Protocol):
    def expired(self, now: float | None = None) -> bool: ...


R = TypeVar("R", bound=Expiring)


def live(raw: Raw, now: float | None, from_json: Callable[[str], R]) -> R | None:
    """The record stored as ``raw``, or None when absent or expired by ``now`` (the wall clock by
    default): a record Redis has not dropped yet (by its own clock) is absent all the same."""
    if not raw:
        return None
    record = from_json(as_text(raw) or "")
    return None if record.expired(now) else record


def expiry_ms(expires_at: float) -> int:
    """An expiry in epoch seconds as Redis's PXAT (Unix ms); 0 when the record does not expire."""
    return int(expires_at * 1000) if expires_at else 0


@dataclass(frozen=True, slots=True)
class Write:
    """What a change writes: the record's new text (None deletes it), its expiry (Unix ms, 0:
    none), and its score in each index key (None removes it from that index)."""

    text: str | None
    expiry_ms: int = 0
    scores: tuple[float | None, ...] = ()


# How many records' texts a store remembers (:class:`Written`); a job's changes follow each other
# within an invocation, so a few hundred cover every job in flight in a process.
WRITTEN_KEPT = 256


class Written:
    """The text a store last wrote to each of its recent keys, as the first guess of a change
    (:func:`transact`). Only a guess: a compare-and-set decides whether it is still the record, so
    a record changed by another client since costs one more round trip, never a wrong write."""

    def __init__(self, kept: int = WRITTEN_KEPT) -> None:
        self._kept = kept
        self._texts: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._texts.get(key)

    def put(self, key: str, text: str | None) -> None:
        if text is None:
            self._texts.pop(key, None)
            return
        if len(self._texts) >= self._kept and key not in self._texts:
            self._texts.clear()  # forgetting every guess is safe; one clear() is also thread-safe
        self._texts[key] = text


def _commit(script: Callable[..., Any], keys: Sequence[str], member: str, raw: Raw, write: Write) -> bool:
    scores = ["" if s is None else repr(float(s)) for s in write.scores]
    args = [raw or "", write.text or "", str(write.expiry_ms), member, *scores]
    return bool(script(keys=list(keys), args=args))


def transact(client: RedisClient, script: Callable[..., Any], keys: Sequence[str], member: str,
             change: Callable[[Raw, bool], tuple[T, Write | None]], *, attempts: int,
             written: Written | None = None, new: bool = False) -> T:
    """Run ``change`` on the record at ``keys[0]`` until its write commits.

    Parameters
    ----------
    client, script
        The client, and :data:`COMPARE_AND_SET` as registered with it (``client.register_script``).
    keys
        The record's key, then the index keys ``Write.scores`` are for. They must share one hash slot.
    member
        The record's member in the index keys.
    change
        ``change(raw, again)`` gets the record as stored (None when absent) and whether this is a
        second run (the key changed meanwhile, or a write whose answer was lost had committed), and
        returns ``(result, write)``; ``write`` None writes nothing.
    attempts
        How many runs at most.
    written
        The store's :class:`Written`: when it holds the text of ``keys[0]``, ``change`` runs on that
        text first, without a read, and that run counts only if its write commits; a run on it that
        writes nothing or raises is not trusted (nothing was read), and the change runs on a read
        as it would have. Kept up to date with every write that commits here.
    new
        The record is most likely absent (a new JobId): when ``written`` knows no text of it, the
        first run is on an absent record, without a read, on the same terms.

    Returns
    -------
    The result of the run whose write committed (or that wrote nothing).

    Raises
    ------
    redis.RedisError
        From the client; ``redis.WatchError`` when the record kept changing under every attempt.
    """
    conflict = False
    guess = written.get(keys[0]) if written is not None else None
    if guess is None and new:
        guess = ""  # absent, as the compare-and-set script writes it
    if written is not None and guess is not None:
        try:
            result, write = change(guess, False)
        except Exception:  # computed on a text nobody read: the run on a read below decides
            write = None
        if write is not None:
            if _commit(script, keys, member, guess, write):
                written.put(keys[0], write.text)
                return result
            # As after any compare-and-set that found other text: the next run is a second one
            # (the record changed, or this write committed and its answer was lost).
            conflict = True
    for attempt in range(attempts):
        raw = client.get(keys[0])
        result, write = change(raw, conflict or attempt > 0)
        if write is None:
            return result
        if _commit(script, keys, member, raw, write):
            if written is not None:
                written.put(keys[0], write.text)
            return result
    raise redis.WatchError(f"key {keys[0]} kept changing under {attempts} attempts")


class KeptInRedis:
    """A store kept in Redis: ``_client``, ``_cas`` (:data:`COMPARE_AND_SET` registered with it)
    and ``_written`` (the texts it wrote last, :class:`Written`); ``close`` hands back the
    process's client of the URL, never a client the caller handed in."""

    _url: str | None = None
    _client: RedisClient
    _cas: Callable[..., Any]
    _written: Written

    def _keep_in(self, url: str | None, client: RedisClient | None) -> None:
        """Use ``client``, else the process's client for ``url``; raises :class:`RedisUrlError`."""
        if (url is None) == (client is None):
            raise TypeError("a Redis store takes a URL or a client, not both")
        if client is None:
            client = open_client(url or "")
            self._url = url
        self._client = client
        self._cas = client.register_script(COMPARE_AND_SET)
        self._written = Written()

    def close(self) -> None:
        url, self._url = self._url, None
        if url is not None:
            close_client(url)


# -- one client per URL per process --------------------------------------------------------------

_lock = threading.Lock()
_clients: dict[str, tuple[Any, int]] = {}  # URL -> (client, how many stores use it)


def _reset_after_fork() -> None:
    # Another thread may have held the lock at the fork. The clients stay: redis-py's pool notices
    # the new pid and opens connections of the child's own.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def open_client(url: str) -> Any:
    """The process's redis-py client for ``url`` (made on first use; it connects at its first
    command). Hand it back with :func:`close_client`.

    Raises
    ------
    RedisUrlError
        When redis-py cannot read the URL, or reads a database that is not a number.
    """
    with _lock:
        if url in _clients:
            client, users = _clients[url]
            _clients[url] = (client, users + 1)
            return client
    client = _from_url(url)
    with _lock:
        if url in _clients:  # another thread made one meanwhile: use that one
            other, users = _clients[url]
            _clients[url] = (other, users + 1)
            client.close()
            return other
        _clients[url] = (client, 1)
    return client


def close_client(url: str) -> None:
    """One store is done with the client of ``url``; the last one closes its connections."""
    with _lock:
        client, users = _clients.pop(url, (None, 0))
        if users > 1:
            _clients[url] = (client, users - 1)
            return
    if client is not None:
        client.close()


def _from_url(url: str) -> Any:
    retry = Retry(ExponentialBackoff(cap=RETRY_BACKOFF_CAP, base=RETRY_BACKOFF_BASE), RETRIES,
                  supported_errors=(redis.ConnectionError,))
    # redis-py 7 and later name themselves to the server (CLIENT SETINFO) with a version they read
    # from the installed distribution's metadata (importlib.metadata, about 2 ms of a cold start)
    # at the first connection; redis.__version__ is the same version, at no cost. Older ones read
    # it while they are imported and take no DriverInfo.
    identity = {"driver_info": redis.DriverInfo(lib_version=redis.__version__)} if hasattr(redis, "DriverInfo") else {}
    try:
        client = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT,
                                      retry=retry, **identity)
    except ValueError:
        # redis-py's message can quote part of the URL (a port that is a piece of a password).
        raise RedisUrlError("the Redis URL cannot be read: use redis://[[user]:password@]host[:port][/db], "
                       "rediss://... or unix:///path?db=N, with / ? # @ in a password percent-encoded") from None
    pool = client.connection_pool
    database = _database_in_path(url)
    if database and not (database.isascii() and database.isdigit()):
        raise RedisUrlError("the Redis database (the URL's path) must be a number, e.g. redis://host:6379/0")
    try:
        # redis-py hands unknown URL parameters to its connection class only when it connects:
        # build one (no socket is opened) to refuse them now, not at the first command.
        pool.connection_class(**pool.connection_kwargs)
    except TypeError:
        raise RedisUrlError("the Redis URL has a parameter redis-py does not accept "
                       "(see redis.Redis.from_url: db, ssl_ca_certs, socket_timeout, ...)") from None
    return client


def _database_in_path(url: str) -> str:
    """The database a redis:// or rediss:// URL's path names ("" for none, and for unix://)."""
    parts = urlsplit(url)
    return "" if parts.scheme.lower() == "unix" else parts.path.strip("/")
