"""Redis store, for production: every transition is an optimistic transaction (WATCH/MULTI/EXEC),
sent by vodai's own small client (:mod:`vodai.redisdb`: redis-py's import costs a cold start 100 ms).
Two round trips each (WATCH with GET, then MULTI … EXEC), except the claim of a key nobody holds,
the common case: one ``SET … NX``, which only a key that exists turns into the full transaction.

The state machine runs in Python between WATCH and EXEC; if another client changes the key
in between, EXEC fails and the transition is retried on the fresh record, so two concurrent
claims can never both succeed. A failed connection runs it again too (a few times, briefly):
a paid job's JobId is not lost to a dropped answer of its ``save_job``. Records expire with Redis's own expiry (PXAT).
"""

from __future__ import annotations

from typing import Optional, Tuple

from ...redisdb import Conflict, ConnectionError, RedisError, UrlError, shared_client
from ..base import Record, TransitionStore, transition
from ..exceptions import IdempotencyError, StoreUrlError

MAX_CONFLICT_RETRIES = 64


class RedisStore(TransitionStore):
    def __init__(self, url: str, *, socket_timeout: float = 5.0) -> None:
        try:
            self._client = shared_client(url, socket_timeout=socket_timeout)  # connects at the first command
        except UrlError as exc:
            raise StoreUrlError(str(exc)) from None

    def _apply(self, key: str, op: str, now: float, **kw) -> Tuple[Optional[Record], Optional[Record]]:
        if op == "claim":
            fresh = transition(None, op, now, key=key, **kw)
            try:
                if self._client.set(key, fresh.to_json(), nx=True, pxat=_pxat(fresh)):
                    return None, fresh
            except ConnectionError:
                pass  # it may have landed: the transaction below then reads it as held, never as ours
            except RedisError as exc:
                raise _fail(exc) from None

        def decide(tx, after_failure):
            raw = tx.value
            before = Record.from_json(raw.decode("utf-8")) if raw else None
            if before is None and op == "release" and after_failure:
                return (None, None), ()  # the release whose answer was lost had deleted it
            # Run again after a failed connection, the other transitions are safe: a claim that
            # had landed reads as held (never as a second claim), the rest set what they set before.
            after = transition(before.copy() if before else None, op, now, key=key, **kw)
            if after is None:
                write = ("DEL", key)
            elif after.expires_at:
                write = ("SET", key, after.to_json(), "PXAT", _pxat(after))
            else:
                write = ("SET", key, after.to_json())
            return (before, after), [write]

        try:
            return self._client.transact(key, decide, attempts=MAX_CONFLICT_RETRIES)
        except Conflict:
            raise IdempotencyError(f"redis store: key {key} kept changing under {MAX_CONFLICT_RETRIES} attempts") from None
        except RedisError as exc:
            raise _fail(exc) from None

    def get(self, key):
        try:
            raw = self._client.get(key)
        except RedisError as exc:
            raise _fail(exc) from None
        return Record.from_json(raw.decode("utf-8")) if raw else None

    def delete(self, key):
        try:
            self._client.delete(key)
        except RedisError as exc:
            raise _fail(exc) from None

    def close(self):
        self._client.close()


def _pxat(record: Record) -> Optional[int]:
    """The record's expiry as Redis's PXAT (Unix ms); None when it does not expire."""
    return int(record.expires_at * 1000) if record.expires_at else None


def _fail(exc: RedisError) -> IdempotencyError:
    return IdempotencyError(f"redis store: {type(exc).__name__}: {exc}")
