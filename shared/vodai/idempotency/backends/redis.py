"""Redis store, for production: every transition is an optimistic transaction (WATCH/MULTI/EXEC).

The state machine runs in Python between WATCH and EXEC; if another client changes the key
in between, EXEC fails and the transition is retried on the fresh record, so two concurrent
claims can never both succeed. Records expire with Redis's own expiry (PXAT).
"""

from __future__ import annotations

from typing import Optional, Tuple

from ..base import Record, TransitionStore, transition
from ..exceptions import IdempotencyError

MAX_CONFLICT_RETRIES = 64


class RedisStore(TransitionStore):
    def __init__(self, url: str, *, socket_timeout: float = 5.0) -> None:
        import redis  # imported only when a redis:// store is configured

        self._redis_errors = (redis.RedisError,)
        self._watch_error = redis.WatchError
        self._client = redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout)

    def _apply(self, key: str, op: str, now: float, **kw) -> Tuple[Optional[Record], Optional[Record]]:
        try:
            for _ in range(MAX_CONFLICT_RETRIES):
                with self._client.pipeline() as pipe:
                    try:
                        pipe.watch(key)
                        raw = pipe.get(key)
                        before = Record.from_json(raw.decode("utf-8")) if raw else None
                        after = transition(before.copy() if before else None, op, now, key=key, **kw)
                        pipe.multi()
                        if after is None:
                            pipe.delete(key)
                        elif after.expires_at:
                            pipe.set(key, after.to_json(), pxat=int(after.expires_at * 1000))
                        else:
                            pipe.set(key, after.to_json())
                        pipe.execute()
                        return before, after
                    except self._watch_error:
                        continue  # someone else changed the key: run the transition again on the new record
            raise IdempotencyError(f"redis store: key {key} kept changing under {MAX_CONFLICT_RETRIES} attempts")
        except self._redis_errors as exc:
            raise IdempotencyError(f"redis store: {type(exc).__name__}: {exc}") from None


    def get(self, key):
        try:
            raw = self._client.get(key)
        except self._redis_errors as exc:
            raise IdempotencyError(f"redis store: {type(exc).__name__}: {exc}") from None
        return Record.from_json(raw.decode("utf-8")) if raw else None

    def delete(self, key):
        self._client.delete(key)

    def close(self):
        self._client.close()
