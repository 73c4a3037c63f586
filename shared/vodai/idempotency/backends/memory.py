"""In-memory store for tests and single-process runs."""

from __future__ import annotations

import threading
from typing import Dict, Optional, Tuple

from ..base import Record, TransitionStore, transition


def _copy(record: Optional[Record]) -> Optional[Record]:
    return record.copy() if record is not None else None


class MemoryStore(TransitionStore):
    def __init__(self) -> None:
        self._records: Dict[str, Record] = {}
        self._lock = threading.Lock()

    def _apply(self, key: str, op: str, now: float, **kw) -> Tuple[Optional[Record], Optional[Record]]:
        with self._lock:
            current = self._records.get(key)
            if current is not None and current.expires_at and current.expires_at <= now:
                current = None  # expired records behave as absent, as in Redis
            before = _copy(current)
            after = transition(_copy(current), op, now, key=key, **kw)
            if after is None:
                self._records.pop(key, None)
            else:
                self._records[key] = after
            return before, after


    def get(self, key):
        with self._lock:
            record = self._records.get(key)
            return _copy(record)

    def delete(self, key):
        with self._lock:
            self._records.pop(key, None)
