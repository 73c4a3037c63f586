"""SQLite files of vodai's stores: one connection per file per process, shared by every store kept
in it (the idempotency store's table and the tracking store's, by default in one file).

Two connections to one file in one process contend for its write lock like two processes do, and
SQLite's busy handler then sleeps (1 ms at first, more each time) instead of waiting for the other
to finish: replaying at concurrency 1, one event in two took such a sleep. A shared connection
with one lock around its use makes the stores of a process take turns instead; other processes
still meet the busy handler, as they must.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from typing import Dict, Iterable, Optional, Tuple

from .retry import RetryPolicy, retry_call

SETUP_RETRY = RetryPolicy(max_attempts=8, base_delay=0.04, max_delay=2.56)  # about 2.5 s of waiting in all, on average


def connect(path: str, schema: Iterable[str], *, busy_timeout: float = 30.0) -> sqlite3.Connection:
    """A connection of its own in WAL mode with ``schema`` applied. Processes that set up a new file
    at the same moment can be refused at once while one of them switches it to WAL (SQLITE_BUSY
    without the busy handler), so the setup is tried again, briefly. Raises sqlite3.Error."""
    if path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE).
    db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)

    def set_up(attempt: int) -> sqlite3.Connection:
        db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a crash of the process (what redeliveries meet), and
        # skips an fsync per transaction; only an OS crash or power loss can lose the last ones.
        db.execute("PRAGMA synchronous=NORMAL")
        _apply_schema(db, schema)
        return db

    try:
        return retry_call(set_up, SETUP_RETRY, retryable=_locked, sleep=time.sleep)
    except BaseException:
        db.close()
        raise


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _apply_schema(db: sqlite3.Connection, schema: Iterable[str]) -> None:
    for statement in schema:
        db.execute(statement)


class Database:
    """A connection and the lock every use of it holds: a statement, or a whole transaction from
    ``BEGIN`` to ``COMMIT``. Stores get one from :func:`open_database` and hand it back with
    :meth:`release`."""

    def __init__(self, key: tuple, connection: sqlite3.Connection) -> None:
        self.key = key
        self.connection = connection
        self.lock = threading.Lock()
        self.users = 1

    def release(self) -> None:
        """One store is done with it; the last one closes the connection."""
        with _registry_lock:
            self.users -= 1
            if self.users > 0:
                return
            if _open.get(self.key) is self:
                del _open[self.key]
        with self.lock:
            self.connection.close()


_registry_lock = threading.Lock()
_open: Dict[Tuple, Database] = {}


def _forget_after_fork() -> None:
    # A forked child starts with the parent's registry (keyed by the parent's pid, so never used)
    # and with its lock as it was, possibly held by a thread the child does not have.
    global _registry_lock
    _registry_lock = threading.Lock()
    _open.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def open_database(path: str, schema: Iterable[str], *, busy_timeout: float = 30.0, shared: bool = True) -> Database:
    """The process's connection to the file at ``path`` (made on first use), with ``schema``
    applied. ``shared=False``: a connection of its own, as another process would have (tests).
    Keyed by the process too: a connection is never used across ``fork``. Raises sqlite3.Error."""
    schema = tuple(schema)
    if not shared or path == ":memory:":  # an in-memory database is private to its connection
        return Database(("own", object()), connect(path, schema, busy_timeout=busy_timeout))
    key = (os.getpid(), os.path.realpath(path), busy_timeout)
    with _registry_lock:
        database = _open.get(key)
        if database is not None:
            database.users += 1
    if database is None:
        # Connected outside the registry's lock: setting up a file can wait on other processes.
        connection = connect(path, schema, busy_timeout=busy_timeout)
        with _registry_lock:
            database = _open.get(key)
            if database is None:
                database = _open[key] = Database(key, connection)
                return database
            database.users += 1  # another thread of this process got there first: theirs is used
        connection.close()
    try:
        with database.lock:
            _apply_schema(database.connection, schema)  # this store's tables, if the file has not got them yet
    except BaseException:
        database.release()
        raise
    return database


@functools.cache
def closed() -> sqlite3.Connection:
    """What a store holds once closed: any use raises sqlite3.ProgrammingError, as its own closed
    connection did (the shared one may still serve others)."""
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.close()
    return connection


class KeptInDatabase:
    """A store kept in a SQLite file: ``_db`` and ``_lock`` are the process's connection to it and
    the lock every use of it holds (see :class:`Database`); ``close`` hands them back."""

    _database: Optional[Database] = None

    def _keep_in(self, database: Database) -> None:
        self._database = database
        self._db, self._lock = database.connection, database.lock

    def close(self) -> None:
        with self._lock:  # the shared lock: two threads closing one store release it once
            database, self._database = self._database, None
            if database is not None:
                self._db = closed()  # used after close, it fails as a closed connection does
        if database is not None:
            database.release()
