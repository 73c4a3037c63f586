"""Redis tracking store, for production, on redis-py.

Keys, all under the hash tag ``{<namespace>:tracking}`` so that a Redis cluster keeps them in one
slot: ``…:job:<JobId>`` (the record, JSON; a finished one expires with Redis's own expiry),
``…:pending`` (a sorted set of pending JobIds scored by when vodai last saw them) and ``…:all``
(every JobId, scored by submission, for listing). A change reads the record, runs the transition in
Python and commits the record and both sorted sets in one compare-and-set script
(:mod:`vodai.redisclient`), so two clients can never both finish one job; when the record changed
in between, the transition runs again on what is there now. One slot per namespace is the price of
changing a record and its indexes atomically; a record is about a kilobyte, kept for the
idempotency TTL once finished.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from ...exceptions import RedisUrlError, TrackingError, TrackingUrlError
from ...redisclient import KeptInRedis, Raw, RedisClient, Write, as_text, expiry_ms, live, transact
from ..base import TrackedJob, TrackingStore, insert, matches

MAX_CONFLICT_RETRIES = 64
PAGE = 500  # JobIds read per round trip when listing


def key_prefix(namespace: str) -> str:
    """The start of every key of ``namespace``: its hash tag."""
    return "{" + namespace + ":tracking}:"


class RedisTracking(KeptInRedis, TrackingStore):
    """The tracking store on a Redis database.

    Parameters
    ----------
    url
        ``redis://``, ``rediss://`` or ``unix://``, as redis-py reads it: the store uses the
        process's one client for that URL.
    namespace
        Keeps these jobs apart from other deployments' in one database.
    client
        Instead of a URL: a client of the caller's (``redis.Redis``, ``redis.cluster.RedisCluster``,
        or a test's); the caller closes it.
    """

    def __init__(self, url: str | None = None, namespace: str = "vodai", *,
                 client: RedisClient | None = None) -> None:
        super().__init__(namespace)
        try:
            self._keep_in(url, client)
        except RedisUrlError as exc:
            raise TrackingUrlError(str(exc)) from None
        base = key_prefix(namespace)
        self._job_prefix, self._pending, self._all = base + "job:", base + "pending", base + "all"

    def _key(self, job_id: str) -> str:
        return self._job_prefix + job_id

    def track(self, job: TrackedJob, *, now: float) -> bool:
        # A job is tracked once, just after its submit: its record is new, so the insert is tried
        # on an absent record first, without a read (a redelivery's finds the record there).
        before, _ = self._apply(job.job_id, insert(job, now), now, new=True)
        return before is None

    def _apply(self, job_id, fn, now, new=False):
        def change(raw: Raw, again: bool):
            # Run again, the change reads what is stored now.
            before = live(raw, now, TrackedJob.from_json)
            after = fn(before.copy() if before else None)
            if after is None:
                return (before, after), (Write(None, scores=(None, None)) if raw else None)
            pending = None if after.done else after.last_seen
            return (before, after), Write(after.to_json(), expiry_ms(after.expires_at if after.done else 0.0),
                                          (pending, after.submitted_at))

        keys = [self._key(job_id), self._pending, self._all]
        try:
            return transact(self._client, self._cas, keys, job_id, change, attempts=MAX_CONFLICT_RETRIES,
                            written=self._written, new=new)
        except redis.RedisError as exc:
            raise _fail(exc) from None

    def _load(self, members: Sequence[bytes | str], index: str, now: float | None) -> tuple[list[TrackedJob], int]:
        """The live records of ``members`` (in order), and how many were gone: JobIds whose record
        Redis dropped leave the index."""
        if not members:
            return [], 0
        raws = self._client.mget([self._key(as_text(m) or "") for m in members])
        found, gone = [], []
        for member, raw in zip(members, raws, strict=True):
            if raw is None:
                gone.append(member)
            else:
                job = live(raw, now, TrackedJob.from_json)
                if job is not None:
                    found.append(job)
        if gone:
            self._client.zrem(index, *gone)
        return found, len(gone)

    def get(self, job_id, *, now=None):
        try:
            return live(self._client.get(self._key(job_id)), now, TrackedJob.from_json)
        except redis.RedisError as exc:
            raise _fail(exc) from None

    def pending(self, limit: int) -> list[TrackedJob]:
        try:
            ids = self._client.zrange(self._pending, 0, int(limit) - 1)
            return [j for j in self._load(ids, self._pending, None)[0] if not j.done]
        except redis.RedisError as exc:
            raise _fail(exc) from None

    def jobs(self, *, status=None, limit=None, now=None):
        out: list[TrackedJob] = []
        start = 0
        try:
            while limit is None or len(out) < limit:
                ids = self._client.zrange(self._all, start, start + PAGE - 1, desc=True)
                if not ids:
                    break
                found, gone = self._load(ids, self._all, now)
                out.extend(j for j in found if matches(j, status))
                if len(ids) < PAGE:
                    break
                start += len(ids) - gone  # removed ids shift the later ones left
        except redis.RedisError as exc:
            raise _fail(exc) from None
        return out if limit is None else out[:limit]


def _fail(exc: redis.RedisError) -> TrackingError:
    return TrackingError(f"redis tracking store: {type(exc).__name__}: {exc}")
