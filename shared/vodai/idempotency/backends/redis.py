"""Redis store, for production, on redis-py.

One key per job (:func:`~vodai.idempotency.base.job_key`), its record as JSON, expiring with
Redis's own expiry (PXAT). A claim of a key nobody holds, the common case, is one ``SET … NX``;
every other transition reads the record, runs :func:`~vodai.idempotency.base.transition` in Python
and commits with a compare-and-set script (:mod:`vodai.redisclient`): if another client changed
the record in between, the transition runs again on what is there now, so two concurrent claims
can never both succeed. Every command touches one key, so a Redis cluster takes them as they are.
"""

from __future__ import annotations

import logging
import time

import redis

from ...exceptions import IdempotencyError, RedisUrlError, StoreUrlError
from ...redisclient import KeptInRedis, Raw, RedisClient, Write, as_text, expiry_ms, live, transact
from ..base import Claim, Record, TransitionStore, first_claim, listed, transition

MAX_CONFLICT_RETRIES = 64

log = logging.getLogger("vodai.idempotency")


def persistence_warning(client: RedisClient) -> str | None:
    """Why this Redis would lose the job records on a restart (neither AOF nor RDB snapshots are
    on), or None when it persists or cannot tell (a managed Redis may refuse CONFIG, or the
    server is not reachable yet: the store's first command reports that)."""
    try:
        if isinstance(client, redis.Redis):
            # Both settings in one round trip (a pipeline, no MULTI): this runs at every cold start.
            pipe = client.pipeline(transaction=False)
            pipe.config_get("appendonly")
            pipe.config_get("save")
            appendonly_reply, save_reply = pipe.execute()
        else:  # a cluster's or a test's client: one command at a time, as every client has them
            appendonly_reply, save_reply = client.config_get("appendonly"), client.config_get("save")
        appendonly = appendonly_reply.get("appendonly")
        save = save_reply.get("save")
    except (redis.RedisError, AttributeError):
        return None
    if appendonly is None or save is None or as_text(appendonly) != "no" or (as_text(save) or "").strip():
        return None
    return ("the Redis idempotency store has no persistence (appendonly no, save \"\"): a restart forgets "
            "every job record and their uploads are submitted again; turn on AOF (appendonly yes) or RDB (save)")


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
        warning = persistence_warning(self._client)
        if warning:
            log.warning("vodai: %s", warning)

    def claim(self, key, *, now, lock_until, expires_at):
        fresh = first_claim(key, now=now, lock_until=lock_until, expires_at=expires_at)
        try:
            text = fresh.to_json()
            if self._client.set(key, text, nx=True, pxat=expiry_ms(fresh.expires_at) or None):
                self._written.put(key, text)  # the job's next change starts from it, without a read
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
            return transact(self._client, self._cas, [key], key, change, attempts=MAX_CONFLICT_RETRIES,
                            written=self._written)
        except redis.RedisError as exc:
            raise _fail(exc) from None

    def get(self, key, *, now=None):
        try:
            raw = self._client.get(key)
        except redis.RedisError as exc:
            raise _fail(exc) from None
        return live(raw, now, Record.from_json)

    def records(self, prefix, *, status=None):
        found = []
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + ":*"
        try:
            for key in self._client.scan_iter(match=pattern, count=500):
                text = as_text(self._client.get(key))
                try:
                    if text is not None:
                        found.append(Record.from_json(text))
                except (ValueError, TypeError):
                    continue  # another kind of value under the prefix (not a job record)
        except redis.RedisError as exc:
            raise _fail(exc) from None
        return listed(found, prefix, status, time.time())

    def delete(self, key):
        self._written.put(key, None)
        try:
            self._client.delete(key)
        except redis.RedisError as exc:
            raise _fail(exc) from None


def _fail(exc: redis.RedisError) -> IdempotencyError:
    return IdempotencyError(f"redis store: {type(exc).__name__}: {exc}")
