"""In-memory store for tests and single-process runs."""

from __future__ import annotations

import threading
import time
from typing import Dict, Optional, Tuple

from ..base import Record, TransitionStore, listed, transition


def _copy(record: Optional[Record]) -> Optional[Record]:
    return record.copy() if record is not None else None


class MemoryStore(TransitionStore):
    def __init__(self) -> None:
        self._records: Dict[str, Record] = {}
        self._lock = threading.Lock()

    def _apply(self, key: str, op: str, now: float, **kw) -> Tuple[Optional[Record], Optional[Record]]:
        with self._lock:
            current = self._live(key, now)
            before = _copy(current)
            after = transition(_copy(current), op, now, key=key, **kw)
            if after is None:
                self._records.pop(key, None)
            else:
                self._records[key] = after
            return before, after

    def _live(self, key: str, now: Optional[float]) -> Optional[Record]:
        """The record, or None when absent or expired (then forgotten). Called with the lock held."""
        record = self._records.get(key)
        if record is not None and record.expired(now):
            del self._records[key]
            return None
        return record

    def get(self, key, *, now=None):
        with self._lock:
            return _copy(self._live(key, now))

    def delete(self, key):
        with self._lock:
            self._records.pop(key, None)

    def records(self, prefix, *, status=None):
        with self._lock:
            return [r.copy() for r in listed(self._records.values(), prefix, status, time.time())]
