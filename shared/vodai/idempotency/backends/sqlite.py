"""SQLite store: the embedded default for local runs and replay, safe across processes.

Each transition runs in a ``BEGIN IMMEDIATE`` transaction, which takes the database's write
lock before reading, so two processes can never both claim one key. The common path is shorter:
a new key is claimed by one ``INSERT`` that leaves an existing row alone, and the next steps of
a job this store object claimed (``save_job``, ``complete``) are one ``UPDATE`` each, a
compare-and-set on the record text it wrote last; if any other writer changed the row since,
the update matches nothing and the full transaction runs instead. The stores of one process
kept in one file share its connection (vodai.sqlitedb).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Dict, Optional, Tuple

from ...exceptions import IdempotencyError
from ...sqlitedb import KeptInDatabase, open_database
from ..base import COMPLETED, UNCERTAIN, Claim, Record, TransitionStore, first_claim, listed, transition

_SCHEMA = "CREATE TABLE IF NOT EXISTS vodai_jobs (key TEXT PRIMARY KEY, record TEXT NOT NULL, expires_at REAL NOT NULL)"
# Records this store wrote last, for the compare-and-set: one per job in progress. A job that
# never finishes here (its invocation failed between steps) leaves one behind; bounded by this.
MAX_WRITTEN = 4096


class SqliteStore(KeptInDatabase, TransitionStore):
    def __init__(self, path: str, *, busy_timeout: float = 30.0, shared: bool = True) -> None:
        """``shared``: use the process's connection to the file (vodai.sqlitedb), taking turns with
        the other stores kept in it; False: a connection of its own, as another process has."""
        self.path = path
        try:
            database = open_database(path, [_SCHEMA], busy_timeout=busy_timeout, shared=shared)
        except sqlite3.Error as exc:
            raise IdempotencyError(f"sqlite store {path}: {exc}") from None
        self._keep_in(database)
        self._written: Dict[str, Tuple[Record, str]] = {}  # key -> (record, its text) as last written here

    def claim(self, key, *, now, lock_until, expires_at):
        # Nearly every key is new: one INSERT that leaves an existing row alone, a transaction of
        # its own (autocommit), instead of BEGIN, SELECT, UPSERT, COMMIT. A row already there
        # (held, done, or expired) takes the full read-modify-write below.
        fresh = first_claim(key, now=now, lock_until=lock_until, expires_at=expires_at)
        text = fresh.to_json()
        with self._lock:
            try:
                inserted = self._db.execute(
                    "INSERT INTO vodai_jobs (key, record, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING",
                    (key, text, fresh.expires_at)).rowcount == 1
            except sqlite3.Error as exc:
                raise IdempotencyError(f"sqlite store {self.path}: {exc}") from None
            if inserted:
                self._remember(key, fresh, text)
        if inserted:
            return Claim(True, fresh.copy())
        return super().claim(key, now=now, lock_until=lock_until, expires_at=expires_at)

    def save_job(self, key, *, job_id, request_id, message, now):
        return self._compare_and_set(key, "save_job", now, job_id=job_id, request_id=request_id, message=message)

    def complete(self, key, *, message_id, now):
        return self._compare_and_set(key, "complete", now, message_id=message_id)

    def _compare_and_set(self, key: str, op: str, now: float, **kw) -> Record:
        """``op`` on the record this store wrote last, if the row still holds exactly that text (and
        has not expired): one UPDATE. Otherwise (another writer, or nothing remembered) the full
        read-modify-write, which reads what is there."""
        with self._lock:
            last = self._written.pop(key, None)
            if last is not None and (not last[0].expires_at or last[0].expires_at > now):
                after = transition(last[0].copy(), op, now, key=key, **kw)
                assert after is not None  # only a release deletes, and it never comes this way
                text = after.to_json()
                try:
                    updated = self._db.execute(
                        "UPDATE vodai_jobs SET record = ?, expires_at = ? WHERE key = ? AND record = ?",
                        (text, after.expires_at, key, last[1])).rowcount == 1
                except sqlite3.Error as exc:
                    raise IdempotencyError(f"sqlite store {self.path}: {exc}") from None
                if updated:
                    self._remember(key, after, text)
                    return after.copy()
        after = self._apply(key, op, now, **kw)[1]
        assert after is not None  # only a release deletes, and it never comes this way
        return after

    def _remember(self, key: str, record: Optional[Record], text: str) -> None:
        # Called with self._lock held. Done and uncertain records take no further step here.
        if record is None or record.status in (COMPLETED, UNCERTAIN):
            self._written.pop(key, None)
            return
        if len(self._written) >= MAX_WRITTEN:
            self._written.clear()
        self._written[key] = (record, text)

    def _apply(self, key: str, op: str, now: float, **kw) -> Tuple[Optional[Record], Optional[Record]]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute("SELECT record, expires_at FROM vodai_jobs WHERE key = ?", (key,)).fetchone()
                    before = Record.from_json(row[0]) if row and (not row[1] or row[1] > now) else None
                    after = transition(before.copy() if before else None, op, now, key=key, **kw)
                    text = ""
                    if after is None:
                        self._db.execute("DELETE FROM vodai_jobs WHERE key = ?", (key,))
                    else:
                        text = after.to_json()
                        self._db.execute(
                            "INSERT INTO vodai_jobs (key, record, expires_at) VALUES (?, ?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at",
                            (key, text, after.expires_at),
                        )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._written.pop(key, None)
                raise IdempotencyError(f"sqlite store {self.path}: {exc}") from None
            self._remember(key, after, text)
        return before, (after.copy() if after else None)

    def get(self, key, *, now=None):
        now = time.time() if now is None else now
        with self._lock:
            try:
                row = self._db.execute("SELECT record FROM vodai_jobs WHERE key = ? AND (expires_at = 0 OR expires_at > ?)",
                                       (key, now)).fetchone()
            except sqlite3.Error as exc:
                raise IdempotencyError(f"sqlite store {self.path}: {exc}") from None
        return Record.from_json(row[0]) if row else None

    def records(self, prefix, *, status=None):
        now = time.time()
        # Keys are "prefix:...": a range scan of the primary key (";" follows ":" in ASCII).
        with self._lock:
            try:
                rows = self._db.execute("SELECT record FROM vodai_jobs WHERE key >= ? AND key < ?",
                                        (prefix + ":", prefix + ";")).fetchall()
            except sqlite3.Error as exc:
                raise IdempotencyError(f"sqlite store {self.path}: {exc}") from None
        return listed((Record.from_json(row[0]) for row in rows), prefix, status, now)

    def delete(self, key):
        with self._lock:
            self._written.pop(key, None)
            self._db.execute("DELETE FROM vodai_jobs WHERE key = ?", (key,))
