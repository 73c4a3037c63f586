"""SQLite tracking store: the embedded default (the idempotency store's file, its own table).

Each change runs in a ``BEGIN IMMEDIATE`` transaction, which takes the database's write lock
before reading, so two processes can never both finish (or both insert) one job. In one process
it shares the file's connection with the idempotency store (vodai.sqlitedb).
"""

from __future__ import annotations

import sqlite3
import time
from typing import List

from ...exceptions import TrackingError
from ...sqlitedb import KeptInDatabase, open_database
from ..base import DONE_FILTER, PENDING, STATUSES, TrackedJob, TrackingStore, insert

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vodai_tracked_jobs ("
    " namespace TEXT NOT NULL, job_id TEXT NOT NULL, status TEXT NOT NULL, submitted_at REAL NOT NULL,"
    " last_seen REAL NOT NULL, expires_at REAL NOT NULL, record TEXT NOT NULL, PRIMARY KEY (namespace, job_id))",
    "CREATE INDEX IF NOT EXISTS vodai_tracked_jobs_pending ON vodai_tracked_jobs (namespace, status, last_seen)",
    "CREATE INDEX IF NOT EXISTS vodai_tracked_jobs_submitted ON vodai_tracked_jobs (namespace, submitted_at)",
)


# One row per job; the fast insert and the upsert write the same columns from the same record.
_INSERT = ("INSERT INTO vodai_tracked_jobs (namespace, job_id, status, submitted_at, last_seen, expires_at, record)"
           " VALUES (?, ?, ?, ?, ?, ?, ?)")


class SqliteTracking(KeptInDatabase, TrackingStore):
    def __init__(self, path: str, namespace: str = "vodai", *, busy_timeout: float = 30.0, shared: bool = True) -> None:
        """``shared``: use the process's connection to the file (vodai.sqlitedb), taking turns with
        the idempotency store kept in it; False: a connection of its own."""
        super().__init__(namespace)
        self.path = path
        try:
            database = open_database(path, _SCHEMA, busy_timeout=busy_timeout, shared=shared)
        except sqlite3.Error as exc:
            raise TrackingError(f"sqlite tracking store {self.path}: {exc}") from None
        self._keep_in(database)

    def track(self, job: TrackedJob, *, now: float) -> bool:
        # A JobId is new but for a redelivery: one INSERT that leaves an existing row alone (its own
        # transaction) instead of a read-modify-write; a row already there takes the full path.
        new = insert(job, now)(None)
        assert new is not None  # inserting into nothing always makes a job
        with self._lock:
            try:
                inserted = self._db.execute(_INSERT + " ON CONFLICT(namespace, job_id) DO NOTHING",
                                            self._row(new)).rowcount == 1
            except sqlite3.Error as exc:
                raise TrackingError(f"sqlite tracking store {self.path}: {exc}") from None
        return inserted or super().track(job, now=now)

    def _row(self, job: TrackedJob) -> tuple:
        return (self.namespace, job.job_id, job.status, job.submitted_at, job.last_seen, job.expires_at, job.to_json())

    def _apply(self, job_id, fn, now):
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute(
                        "SELECT record, expires_at FROM vodai_tracked_jobs WHERE namespace = ? AND job_id = ?",
                        (self.namespace, job_id)).fetchone()
                    before = TrackedJob.from_json(row[0]) if row and (not row[1] or row[1] > now) else None
                    after = fn(before.copy() if before else None)
                    if after is None:
                        self._db.execute("DELETE FROM vodai_tracked_jobs WHERE namespace = ? AND job_id = ?", (self.namespace, job_id))
                    else:
                        self._db.execute(
                            _INSERT + " ON CONFLICT(namespace, job_id) DO UPDATE SET status = excluded.status,"
                            " submitted_at = excluded.submitted_at, last_seen = excluded.last_seen,"
                            " expires_at = excluded.expires_at, record = excluded.record",
                            self._row(after))
                    if after is not None and after.done:
                        # Finished records past their time go when another finishes: the table stays bounded.
                        self._db.execute("DELETE FROM vodai_tracked_jobs WHERE namespace = ? AND expires_at > 0 AND expires_at <= ?",
                                         (self.namespace, now))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise TrackingError(f"sqlite tracking store {self.path}: {exc}") from None
        return before, after

    def _select(self, sql: str, params: tuple) -> List[TrackedJob]:
        with self._lock:
            try:
                rows = self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise TrackingError(f"sqlite tracking store {self.path}: {exc}") from None
        return [TrackedJob.from_json(r[0]) for r in rows]

    def get(self, job_id, *, now=None):
        now = time.time() if now is None else now
        found = self._select("SELECT record FROM vodai_tracked_jobs"
                             " WHERE namespace = ? AND job_id = ? AND (expires_at = 0 OR expires_at > ?)",
                             (self.namespace, job_id, now))
        return found[0] if found else None

    def pending(self, limit: int) -> List[TrackedJob]:
        return self._select("SELECT record FROM vodai_tracked_jobs WHERE namespace = ? AND status = ?"
                            " ORDER BY last_seen, submitted_at, job_id LIMIT ?", (self.namespace, PENDING, int(limit)))

    def jobs(self, *, status=None, limit=None, now=None):
        now = time.time() if now is None else now
        where, params = "namespace = ? AND (expires_at = 0 OR expires_at > ?)", [self.namespace, now]
        if status == DONE_FILTER:
            where += " AND status != ?"
            params.append(PENDING)
        elif status in STATUSES:
            where += " AND status = ?"
            params.append(status)
        sql = f"SELECT record FROM vodai_tracked_jobs WHERE {where} ORDER BY submitted_at DESC, job_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._select(sql, tuple(params))
