"""SQLite store: the embedded default for local runs and replay, safe across processes.

Each transition runs in a ``BEGIN IMMEDIATE`` transaction, which takes the database's write
lock before reading, so two processes can never both claim one key.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Optional, Tuple

from ..base import Record, TransitionStore, transition
from ..exceptions import IdempotencyError

_SCHEMA = "CREATE TABLE IF NOT EXISTS vodai_jobs (key TEXT PRIMARY KEY, record TEXT NOT NULL, expires_at REAL NOT NULL)"


class SqliteStore(TransitionStore):
    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE).
        self._db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def _apply(self, key: str, op: str, now: float, **kw) -> Tuple[Optional[Record], Optional[Record]]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute("SELECT record, expires_at FROM vodai_jobs WHERE key = ?", (key,)).fetchone()
                    before = Record.from_json(row[0]) if row and (not row[1] or row[1] > now) else None
                    after = transition(Record.from_json(before.to_json()) if before else None, op, now, key=key, **kw)
                    if after is None:
                        self._db.execute("DELETE FROM vodai_jobs WHERE key = ?", (key,))
                    else:
                        self._db.execute(
                            "INSERT INTO vodai_jobs (key, record, expires_at) VALUES (?, ?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at",
                            (key, after.to_json(), after.expires_at),
                        )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise IdempotencyError(f"sqlite store {self.path}: {exc}") from None
        return before, after


    def get(self, key):
        with self._lock:
            row = self._db.execute("SELECT record FROM vodai_jobs WHERE key = ?", (key,)).fetchone()
        return Record.from_json(row[0]) if row else None

    def delete(self, key):
        with self._lock:
            self._db.execute("DELETE FROM vodai_jobs WHERE key = ?", (key,))

    def close(self):
        with self._lock:
            self._db.close()
