"""Redis tracking store, for production: every change is an optimistic transaction (WATCH/MULTI/EXEC),
sent by vodai's own small client (:mod:`vodai.redisdb`).

Keys, under ``<namespace>:tracking:``: ``job:<JobId>`` (the record, JSON; a finished one expires
with Redis's own expiry), ``pending`` (a sorted set of pending JobIds scored by when vodai last
saw them) and ``all`` (every JobId, scored by submission, for listing). The transition runs in
Python between WATCH of the job's key and EXEC, and the sorted sets change in the same MULTI, so
two clients can never both finish one job; a conflict re-runs the transition on the fresh record.
"""

from __future__ import annotations

from typing import List, Tuple

from ...redisdb import Conflict, RedisError, UrlError, shared_client
from ..base import TrackedJob, TrackingStore, matches
from ..exceptions import TrackingError, TrackingUrlError

MAX_CONFLICT_RETRIES = 64


class RedisTracking(TrackingStore):
    def __init__(self, url: str, namespace: str = "vodai", *, socket_timeout: float = 5.0) -> None:
        super().__init__(namespace)
        try:
            self._client = shared_client(url, socket_timeout=socket_timeout)  # connects at the first command
        except UrlError as exc:
            raise TrackingUrlError(str(exc)) from None
        base = f"{namespace}:tracking:"
        self._job_prefix, self._pending, self._all = base + "job:", base + "pending", base + "all"

    def _key(self, job_id: str) -> str:
        return self._job_prefix + job_id

    def _fail(self, exc: Exception) -> TrackingError:
        return TrackingError(f"redis tracking store: {type(exc).__name__}: {exc}")

    def _apply(self, job_id, fn, now):
        key = self._key(job_id)

        def decide(tx, after_failure):
            # Run again after a failed connection, the change reads what is stored now.
            raw = tx.value
            before = TrackedJob.from_json(raw.decode("utf-8")) if raw else None
            after = fn(before.copy() if before else None)
            if after is None:
                return (before, after), [("DEL", key), ("ZREM", self._pending, job_id), ("ZREM", self._all, job_id)]
            if after.done and after.expires_at:
                writes = [("SET", key, after.to_json(), "PXAT", int(after.expires_at * 1000))]
            else:
                writes = [("SET", key, after.to_json())]
            if after.done:
                writes.append(("ZREM", self._pending, job_id))
            else:
                writes.append(("ZADD", self._pending, after.last_seen, job_id))
            writes.append(("ZADD", self._all, after.submitted_at, job_id))
            return (before, after), writes

        try:
            return self._client.transact(key, decide, attempts=MAX_CONFLICT_RETRIES)
        except Conflict:
            raise TrackingError(f"redis tracking store: job {job_id} kept changing under {MAX_CONFLICT_RETRIES} attempts") from None
        except RedisError as exc:
            raise self._fail(exc) from None

    def _load(self, job_ids: List[bytes], index: str) -> Tuple[List[TrackedJob], int]:
        """The records of ``job_ids`` (in order), and how many were gone: ids whose record expired
        leave the index."""
        if not job_ids:
            return [], 0
        raws = self._client.mget([self._key(i.decode("utf-8")) for i in job_ids])
        found, gone = [], []
        for job_id, raw in zip(job_ids, raws):
            if raw is None:
                gone.append(job_id)
            else:
                found.append(TrackedJob.from_json(raw.decode("utf-8")))
        if gone:
            self._client.zrem(index, *gone)  # idempotent: safe to run again on a new connection
        return found, len(gone)

    def get(self, job_id, *, now=None):
        try:
            raw = self._client.get(self._key(job_id))
        except RedisError as exc:
            raise self._fail(exc) from None
        return TrackedJob.from_json(raw.decode("utf-8")) if raw else None

    def pending(self, limit: int) -> List[TrackedJob]:
        try:
            ids = self._client.zrange(self._pending, 0, int(limit) - 1)
            return [j for j in self._load(ids, self._pending)[0] if not j.done]
        except RedisError as exc:
            raise self._fail(exc) from None

    def jobs(self, *, status=None, limit=None, now=None):
        out: List[TrackedJob] = []
        start, page = 0, 500
        try:
            while limit is None or len(out) < limit:
                ids = self._client.zrevrange(self._all, start, start + page - 1)
                if not ids:
                    break
                found, gone = self._load(ids, self._all)
                out.extend(j for j in found if matches(j, status))
                if len(ids) < page:
                    break
                start += len(ids) - gone  # removed (expired) ids shift the later ones left
        except RedisError as exc:
            raise self._fail(exc) from None
        return out if limit is None else out[:limit]

    def close(self):
        self._client.close()
