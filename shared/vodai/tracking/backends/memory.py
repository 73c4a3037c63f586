"""In-memory tracking store for tests and single-process runs."""

from __future__ import annotations

import threading
from typing import Dict, List, Optional

from ..base import TrackedJob, TrackingStore, matches


class MemoryTracking(TrackingStore):
    def __init__(self, namespace: str = "vodai") -> None:
        super().__init__(namespace)
        self._jobs: Dict[str, TrackedJob] = {}
        self._lock = threading.Lock()

    def _live(self, job_id: str, now: Optional[float]) -> Optional[TrackedJob]:
        """The job, or None when absent or expired (then forgotten). Called with the lock held."""
        job = self._jobs.get(job_id)
        if job is not None and job.expired(now):
            del self._jobs[job_id]
            return None
        return job

    def _apply(self, job_id, fn, now):
        with self._lock:
            current = self._live(job_id, now)
            before = current.copy() if current else None
            after = fn(current.copy() if current else None)
            if after is None:
                self._jobs.pop(job_id, None)
            else:
                self._jobs[job_id] = after.copy()
            return before, after

    def get(self, job_id, *, now=None):
        with self._lock:
            job = self._live(job_id, now)
            return job.copy() if job else None

    def pending(self, limit: int) -> List[TrackedJob]:
        with self._lock:
            found = sorted((j for j in self._jobs.values() if not j.done), key=lambda j: (j.last_seen, j.submitted_at, j.job_id))
            return [j.copy() for j in found[:limit]]

    def jobs(self, *, status=None, limit=None, now=None):
        with self._lock:
            live = [j for j in list(self._jobs.values()) if self._live(j.job_id, now) is not None and matches(j, status)]
            live.sort(key=lambda j: (j.submitted_at, j.job_id), reverse=True)
            return [j.copy() for j in (live if limit is None else live[:limit])]
