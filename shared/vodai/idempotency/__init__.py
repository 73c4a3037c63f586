"""Idempotency: one paid job per upload, however often an event is delivered.

    store = open_store("redis://127.0.0.1:6379/0")
    claim = store.claim(key, now=now, lock_until=now + 60, expires_at=now + 7 * 86400)
"""

from ..exceptions import IdempotencyError, StoreUrlError
from .base import COMPLETED, INPROGRESS, SEEN, SUBMITTED, UNCERTAIN, Claim, IdempotencyStore, Record, job_key
from .factory import default_url, open_store

__all__ = [
    "COMPLETED", "INPROGRESS", "SEEN", "SUBMITTED", "UNCERTAIN", "Claim", "IdempotencyError", "IdempotencyStore",
    "Record", "StoreUrlError", "default_url", "job_key", "open_store",
]
