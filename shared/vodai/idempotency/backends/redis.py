"""Redis store, for production, on redis-py.

One key per job (:func:`~vodai.idempotency.base.job_key`), its record as JSON, expiring with
Redis's own expiry (PXAT). A claim of a key nobody holds, the common case, is one ``SET … NX``;
every other transition reads the record, runs :func:`~vodai.idempotency.base.transition` in Python
and commits with a compare-and-set script (:mod:`vodai.redisclient`): if another client changed
the record in between, the transition runs again on what is there now, so two concurrent claims
can never both succeed. Every command touches one key, so a Redis cluster takes them as they are.
"""

from __future__ import annotations

import redis

from ...exceptions import IdempotencyError, RedisUrlError, StoreUrlError
from ...redisclient import KeptInRedis, Raw, RedisClient, Write, as_text, expiry_ms, live, transact
from ..base import Claim, Record, TransitionStore, first_claim, transition

MAX_CONFLICT_RETRIES = 64


class RedisStore(KeptInRedis, TransitionStore):
    """The idempotency store on a Redis database.

    Parameters
    ----------
    url
        ``redis://``, ``rediss://`` or ``unix://``, as redis-py reads it: the store uses the
        process's one client for that URL.
    client
        Instead of a URL: a client of the caller's (``redis.Redis``, ``redis.cluster.RedisCluster``,
        or a test's); the caller closes it.
    """

    def __init__(self, url: str | None = None, *, client: RedisClient | None = None) -> None:
        try:
            self._keep_in(url, client)
        except RedisUrlError as exc:
            raise StoreUrlError(str(exc)) from None

    def claim(self, key, *, now, lock_until, expires_at):
        fresh = first_claim(key, now=now, lock_until=lock_until, expires_at=expires_at)
        try:
            if self._client.set(key, fresh.to_json(), nx=True, pxat=expiry_ms(fresh.expires_at) or None):
                return Claim(True, fresh)
        except redis.RedisError as exc:
            raise _fail(exc) from None
        # Held, done, or expired by `now` before Redis dropped it: the full transition decides.
        return super().claim(key, now=now, lock_until=lock_until, expires_at=expires_at)

    def _apply(self, key: str, op: str, now: float, **kw) -> tuple[Record | None, Record | None]:
        def change(raw: Raw, again: bool):
            before = live(raw, now, Record.from_json)
            if before is None and op == "release" and again:
                return (None, None), None  # a release whose answer was lost had deleted it
            # Run again, the other transitions are safe: a claim that had committed reads as held
            # (never as a second claim), the rest set what they set before.
            after = transition(before.copy() if before else None, op, now, key=key, **kw)
            if after is None:
                return (before, after), (Write(None) if raw else None)
            written = after.to_json()
            if written == as_text(raw):
                return (before, after), None  # unchanged (a claim of a held key): nothing to write
            return (before, after), Write(written, expiry_ms(after.expires_at))

        try:
            return transact(self._client, self._cas, [key], key, change, attempts=MAX_CONFLICT_RETRIES)
        except redis.RedisError as exc:
            raise _fail(exc) from None

    def get(self, key, *, now=None):
        try:
            raw = self._client.get(key)
        except redis.RedisError as exc:
            raise _fail(exc) from None
        return live(raw, now, Record.from_json)

    def delete(self, key):
        try:
            self._client.delete(key)
        except redis.RedisError as exc:
            raise _fail(exc) from None


def _fail(exc: redis.RedisError) -> IdempotencyError:
    return IdempotencyError(f"redis store: {type(exc).__name__}: {exc}")
