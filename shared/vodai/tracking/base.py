"""The tracked job and the store interface every backend implements.

One record per submitted job (key: the JobId, inside a namespace, the idempotency prefix). Its life:

    (absent) --track--> PENDING --note (a poll saw it still running)--> PENDING
                           |
                           +--finish--> SUCCESS | FAIL    (its completion message was published)
                           +--finish--> LOST              (VOD no longer knows it, after VODAI_TRACKING_LOST_AFTER)
                                          |
                                          +--finish--> SUCCESS | FAIL  (lost is provisional: a late event still ends it)

``track`` inserts only when the job is absent (a redelivered submit never resets a finished job);
``finish`` changes a PENDING (or LOST) job and ``note`` only a PENDING one. Each is one atomic read-modify-write of one
record (a lock, a SQLite ``BEGIN IMMEDIATE`` transaction, a Redis WATCH/MULTI/EXEC), running the
pure functions below, so every backend behaves the same and is safe across processes.

A finished record is kept until ``expires_at`` (the idempotency TTL), then forgotten; a pending one
never expires.
"""

from __future__ import annotations

import abc
import json
import time
from dataclasses import dataclass, field, fields, replace
from typing import Callable, List, Optional, Tuple

from .. import jsontext
from ..timestamps import utc_text

PENDING = "pending"
SUCCESS = "success"
FAIL = "fail"
LOST = "lost"
DONE = frozenset({SUCCESS, FAIL, LOST})
STATUSES = (PENDING, SUCCESS, FAIL, LOST)

# The JobId message's fields kept with a tracked job besides its own columns.
SOURCE_FIELDS = ("EventType", "EventTime", "SourceMessageId", "PipelineId", "RequestId")

# What ``jobs(status=...)`` accepts: one status, "done" (any finished one), or None (all).
DONE_FILTER = "done"


@dataclass(slots=True)
class TrackedJob:
    """A submitted job, followed until VOD says it has finished (or it is given up as lost)."""

    job_id: str
    action: str
    region: str
    media_id: Optional[str] = None
    media_type: Optional[str] = None
    template_id: Optional[str] = None
    submitted_at: float = 0.0
    #: The original topic message's other key fields (EventType, EventTime, SourceMessageId, PipelineId, RequestId).
    source: dict = field(default_factory=dict)
    status: str = PENDING
    #: What VOD said the last time a poll asked (Processing, init, ...; "unknown" when VOD did not know it).
    vod_status: Optional[str] = None
    checks: int = 0
    checked_at: float = 0.0
    # -- once finished ----------------------------------------------------------------------
    code: Optional[str] = None
    message: Optional[str] = None
    summary: Optional[dict] = None
    completion_message_id: Optional[str] = None
    reason: Optional[str] = None
    finished_at: float = 0.0
    expires_at: float = 0.0
    updated_at: float = 0.0

    @property
    def done(self) -> bool:
        return self.status in DONE

    def expired(self, now: Optional[float] = None) -> bool:
        """Whether the record has outlived its ``expires_at`` by ``now`` (default: the wall clock)."""
        return bool(self.expires_at) and self.expires_at <= (time.time() if now is None else now)

    @property
    def last_seen(self) -> float:
        """When vodai last learnt anything about the job: the order pending jobs are polled in."""
        return max(self.submitted_at, self.checked_at)

    def to_json(self) -> str:
        return jsontext.compact({name: getattr(self, name) for name in _JOB_FIELDS})

    @classmethod
    def from_json(cls, text: str) -> TrackedJob:
        doc = json.loads(text)
        return cls(**{k: v for k, v in doc.items() if k in _JOB_FIELDS})

    @classmethod
    def from_message(cls, body: dict, *, now: float, submitted_at: Optional[float] = None) -> TrackedJob:
        """The job a callback-topic JobId message announces (:func:`vodai.pipeline.message.job_message_fields`);
        ``submitted_at``, when the caller knows it, instead of the message's SubmittedAt."""
        source = {k: body[k] for k in SOURCE_FIELDS if body.get(k) not in (None, "")}
        if submitted_at is None:
            submitted_at = parse_iso(body.get("SubmittedAt")) or now
        return cls(job_id=str(body["JobId"]), action=str(body.get("Action") or ""), region=str(body.get("Region") or ""),
                   media_id=body.get("MediaId"), media_type=body.get("MediaType"), template_id=body.get("TemplateId"),
                   submitted_at=submitted_at, source=source)

    def copy(self) -> TrackedJob:
        # Every field is a scalar except `source` (a flat dict of strings): a shallow copy of it suffices.
        return replace(self, source=dict(self.source))

    def to_dict(self) -> dict:
        """PascalCase, like every other payload around VOD and MNS (for ``vodai jobs list --json``)."""
        doc = {
            "JobId": self.job_id, "Action": self.action, "Region": self.region, "MediaId": self.media_id,
            "MediaType": self.media_type, "TemplateId": self.template_id, "SubmittedAt": iso(self.submitted_at),
            "Status": self.status, "VodStatus": self.vod_status, "Checks": self.checks,
            "CheckedAt": iso(self.checked_at), "Code": self.code, "Message": self.message,
            "ResultSummary": self.summary, "CompletionMessageId": self.completion_message_id,
            "Reason": self.reason, "FinishedAt": iso(self.finished_at), **self.source,
        }
        return {k: v for k, v in doc.items() if v not in (None, "", {})}


_JOB_FIELDS = tuple(f.name for f in fields(TrackedJob))

def iso(epoch: float) -> Optional[str]:
    if not epoch:
        return None
    return utc_text(epoch)


def parse_iso(text: Optional[str]) -> Optional[float]:
    """``2017-03-20T07:49:17Z`` (and VOD's other forms) as epoch seconds; None when unreadable."""
    if not text:
        return None
    from ..events.models import parse_event_time

    try:
        return parse_event_time(text).timestamp()
    except ValueError:
        return None


# -- the pure transitions (every backend runs them inside its atomic section) ---------------------

Transition = Callable[[Optional[TrackedJob]], Optional[TrackedJob]]


def insert(job: TrackedJob, now: float) -> Transition:
    def run(current: Optional[TrackedJob]) -> Optional[TrackedJob]:
        if current is not None:
            return current  # already tracked (a redelivery, or a finished job): never reset
        new = job.copy()
        new.status, new.updated_at = PENDING, now
        new.submitted_at = new.submitted_at or now
        return new

    return run


def finish(*, status: str, now: float, expires_at: float, code=None, message=None, summary=None,
           completion_message_id=None, reason=None) -> Transition:
    if status not in DONE:
        raise ValueError(f"finish: {status!r} is not one of {sorted(DONE)}")

    def run(current: Optional[TrackedJob]) -> Optional[TrackedJob]:
        if current is None or current.status in (SUCCESS, FAIL):
            return current  # unknown here, or finished already: the first finish wins
        if status == LOST and current.status == LOST:
            return current
        current.status, current.code, current.message, current.summary = status, code, message, summary
        if status != LOST:
            current.vod_status = status  # what VOD said last: it finished
        current.completion_message_id, current.reason = completion_message_id, reason
        current.finished_at, current.expires_at, current.updated_at = now, expires_at, now
        return current

    return run


def note(*, vod_status: Optional[str], now: float) -> Transition:
    def run(current: Optional[TrackedJob]) -> Optional[TrackedJob]:
        if current is None or current.done:
            return current
        current.vod_status, current.checks = vod_status, current.checks + 1
        current.checked_at = current.updated_at = now
        return current

    return run


class TrackingStore(abc.ABC):
    """Tracked jobs of one namespace. Every method is atomic and safe across threads and processes.

    Every backend keeps one contract (tests/tracking/test_contract.py): a job whose ``expires_at``
    has passed is absent to every method, judged by the ``now`` the method is given (the wall
    clock by default). Redis also drops it by its own clock.
    """

    def __init__(self, namespace: str = "vodai") -> None:
        self.namespace = namespace

    # -- what a backend provides -----------------------------------------------------------
    @abc.abstractmethod
    def _apply(self, job_id: str, fn: Transition, now: float) -> Tuple[Optional[TrackedJob], Optional[TrackedJob]]:
        """Atomically: read the job (None when absent or expired), run ``fn`` on a copy, write the
        result (None: leave it absent). Returns (before, after)."""

    @abc.abstractmethod
    def get(self, job_id: str, *, now: Optional[float] = None) -> Optional[TrackedJob]:
        """The job, or None (absent or expired)."""

    @abc.abstractmethod
    def pending(self, limit: int) -> List[TrackedJob]:
        """Up to ``limit`` pending jobs, the least recently seen first (never-checked jobs by their
        submission time, so a fresh backlog comes oldest first; a long-running job does not keep
        the others from being checked)."""

    @abc.abstractmethod
    def jobs(self, *, status: Optional[str] = None, limit: Optional[int] = None, now: Optional[float] = None) -> List[TrackedJob]:
        """Jobs for display, newest submission first: all, one status, or ``"done"``."""

    def close(self) -> None:  # noqa: B027  (a default: most stores have nothing to release)
        """Release connections; the default has nothing to release."""

    # -- the operations --------------------------------------------------------------------
    def track(self, job: TrackedJob, *, now: float) -> bool:
        """Start tracking ``job`` as PENDING; False when it was tracked already (left unchanged)."""
        before, _ = self._apply(job.job_id, insert(job, now), now)
        return before is None

    def finish(self, job_id: str, *, status: str, now: float, expires_at: float, code=None, message=None,
               summary=None, completion_message_id=None, reason=None) -> Optional[TrackedJob]:
        """PENDING (or LOST) -> ``status`` (success, fail, lost). A job that succeeded or failed stays as
        it is: the first finish wins. Returns the record."""
        return self._apply(job_id, finish(status=status, now=now, expires_at=expires_at, code=code, message=message,
                                          summary=summary, completion_message_id=completion_message_id,
                                          reason=reason), now)[1]

    def note(self, job_id: str, *, vod_status: Optional[str], now: float) -> Optional[TrackedJob]:
        """A poll saw the job still running (or not known yet): remember what VOD said, and when."""
        return self._apply(job_id, note(vod_status=vod_status, now=now), now)[1]


def matches(job: TrackedJob, status: Optional[str]) -> bool:
    if status is None or status == "all":
        return True
    if status == DONE_FILTER:
        return job.done
    return job.status == status

