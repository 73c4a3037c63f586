"""The idempotency record and the store interface every backend implements.

One record per job key (prefix + action + media id + template id: what makes a job the same
job, never a code name). Its life:

    (absent) --claim--> INPROGRESS --save_job--> SUBMITTED --complete--> COMPLETED
                          |  ^   |                   |
                   prepare|__|  release           release (keeps the JobId; lock dropped)
                                 v                   v
                         (absent)             SUBMITTED, claimable at once

``prepare`` stores what identifies the signed submit request (its nonce, timestamp and a digest
of its parameters) *before* the request leaves. Every later attempt for the key (a retry, a
redelivery after a crash or an expired lock) re-sends that identical request, so VOD's nonce
check refuses a second copy (SignatureNonceUsed) instead of creating a second paid job.

A claim succeeds when the record is absent, or when it is not COMPLETED and its lock has
expired (a crashed or timed-out invocation never leaves a record stuck: its lock runs out).
The JobId is saved **before** publishing, so a redelivery after a crash between submit and
publish re-publishes the stored JobId instead of paying for a second job.
"""

from __future__ import annotations

import abc
import json
import time
from dataclasses import dataclass, fields, replace
from typing import List, Optional, Tuple

from .. import jsontext

INPROGRESS = "INPROGRESS"
SUBMITTED = "SUBMITTED"
COMPLETED = "COMPLETED"
UNCERTAIN = "UNCERTAIN"  # the submit may have created a job whose JobId was lost: never resubmitted automatically
SEEN = "SEEN"  # a mark of :meth:`IdempotencyStore.mark_seen`: no job, only "this was seen before"


def job_key(prefix: str, action: str, media_id: str, template_id: Optional[str]) -> str:
    """``prefix:action:media id:template id``; the last part is empty for the account's default template."""
    return f"{prefix}:{action}:{media_id}:{template_id or ''}"


@dataclass(slots=True)
class Record:
    """One job key's record: where its job stands, and until when a claim holds the key."""

    key: str
    status: str
    lock_until: float = 0.0
    expires_at: float = 0.0
    attempts: int = 0
    job_id: Optional[str] = None
    request_id: Optional[str] = None
    message_id: Optional[str] = None
    # The topic message body saved with the JobId, so a re-publish sends the same message.
    message: Optional[str] = None
    reason: Optional[str] = None
    updated_at: float = 0.0
    # The submit request as signed before it left (None until prepared): re-sent identically.
    nonce: Optional[str] = None
    timestamp: Optional[str] = None
    digest: Optional[str] = None

    def to_json(self) -> str:
        # Not asdict: the fields are flat, so its deep copy would only cost.
        return jsontext.compact({name: getattr(self, name) for name in _RECORD_FIELDS})

    def copy(self) -> Record:
        return replace(self)  # every field is a scalar: a shallow copy is a full one

    @classmethod
    def from_json(cls, text: str) -> Record:
        return cls(**json.loads(text))

    def expired(self, now: Optional[float] = None) -> bool:
        """Whether the record has outlived its ``expires_at`` by ``now`` (default: the wall clock)."""
        return bool(self.expires_at) and self.expires_at <= (time.time() if now is None else now)

    def claimable(self, now: float) -> bool:
        return self.status in (INPROGRESS, SUBMITTED) and self.lock_until <= now


_RECORD_FIELDS = tuple(f.name for f in fields(Record))


@dataclass(frozen=True, slots=True)
class Claim:
    """The result of :meth:`IdempotencyStore.claim`: whether this caller holds the key now."""

    acquired: bool
    record: Record


class IdempotencyStore(abc.ABC):
    """Atomic transitions of job records. Every method is safe across threads and processes.

    Every backend keeps one contract (tests/idempotency/test_contract.py): a record whose
    ``expires_at`` has passed is absent to every method, judged by the ``now`` the method is
    given (``get``: the wall clock by default). Redis also drops it by its own clock.
    """

    @abc.abstractmethod
    def claim(self, key: str, *, now: float, lock_until: float, expires_at: float) -> Claim:
        """Take the key: create INPROGRESS, or re-arm an expired lock. Atomic."""

    @abc.abstractmethod
    def save_job(self, key: str, *, job_id: str, request_id: Optional[str], message: str, now: float) -> Record:
        """INPROGRESS -> SUBMITTED with the JobId and the message to publish."""

    @abc.abstractmethod
    def prepare(self, key: str, *, nonce: str, timestamp: str, digest: str, expected_nonce: Optional[str],
                now: float) -> Record:
        """Store the submit request's identity on an INPROGRESS record whose nonce is still
        ``expected_nonce`` (what the caller last saw); otherwise the record is left as it is (the
        caller compares the returned nonce with its own to learn whether it still holds the key)."""

    @abc.abstractmethod
    def resolve(self, key: str, *, job_id: str, how: str, now: float) -> Record:
        """UNCERTAIN -> COMPLETED with the JobId a later signal revealed (``how`` says which); any
        other record is left as it is."""

    @abc.abstractmethod
    def records(self, prefix: str, *, status: Optional[str] = None) -> List[Record]:
        """Every live record under ``prefix`` (of ``status`` only, when given), for listings such as
        ``vodai jobs list --status uncertain``; reads the whole prefix, so not for the hot path."""

    @abc.abstractmethod
    def complete(self, key: str, *, message_id: Optional[str], now: float) -> Record:
        """SUBMITTED -> COMPLETED."""

    @abc.abstractmethod
    def release(self, key: str, *, now: float) -> None:
        """Give the key up after a failure: delete it when no job was made, else drop the lock."""

    @abc.abstractmethod
    def mark_uncertain(self, key: str, *, reason: str, now: float) -> Record:
        """The submit's outcome is unknown: keep the key from ever being resubmitted automatically."""

    @abc.abstractmethod
    def mark_seen(self, key: str, *, now: float, expires_at: float) -> bool:
        """Set-if-absent with expiry: True when ``key`` was not seen (or its mark had expired by
        ``now``) and is marked now until ``expires_at``; False while an earlier mark lives. Atomic
        across threads and processes. ``delete`` forgets a mark."""

    @abc.abstractmethod
    def get(self, key: str, *, now: Optional[float] = None) -> Optional[Record]:
        """The record, or None when absent or expired by ``now`` (default: the wall clock)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Forget a key (an operator's explicit decision, e.g. replay --resubmit-uncertain)."""

    def close(self) -> None:  # noqa: B027  (a default: most stores have nothing to release)
        """Release connections; the default has nothing to release."""


class TransitionStore(IdempotencyStore):
    """A store whose backend only provides ``_apply``: run :func:`transition` atomically on one key
    and return the record (before, after)."""

    @abc.abstractmethod
    def _apply(self, key: str, op: str, now: float, **kw) -> Tuple[Optional[Record], Optional[Record]]:
        """Atomically: read ``key``, run ``transition``, write or delete the result."""

    def claim(self, key, *, now, lock_until, expires_at):
        before, after = self._apply(key, "claim", now, lock_until=lock_until, expires_at=expires_at)
        assert after is not None  # a claim always leaves a record
        return Claim(before is None or before.claimable(now), after)

    def save_job(self, key, *, job_id, request_id, message, now):
        return self._apply(key, "save_job", now, job_id=job_id, request_id=request_id, message=message)[1]

    def prepare(self, key, *, nonce, timestamp, digest, expected_nonce, now):
        after = self._apply(key, "prepare", now, nonce=nonce, timestamp=timestamp, digest=digest,
                            expected_nonce=expected_nonce)[1]
        assert after is not None  # prepare never deletes
        return after

    def resolve(self, key, *, job_id, how, now):
        after = self._apply(key, "resolve", now, job_id=job_id, how=how)[1]
        assert after is not None  # resolve never deletes
        return after

    def complete(self, key, *, message_id, now):
        return self._apply(key, "complete", now, message_id=message_id)[1]

    def release(self, key, *, now):
        self._apply(key, "release", now)

    def mark_uncertain(self, key, *, reason, now):
        return self._apply(key, "uncertain", now, reason=reason)[1]

    def mark_seen(self, key, *, now, expires_at):
        return self._apply(key, "seen", now, expires_at=expires_at)[0] is None


def listed(records, prefix: str, status: Optional[str], now: float) -> List[Record]:
    """``records`` under ``prefix``, live by ``now``, of ``status`` (any when None), oldest first."""
    found = [r for r in records if r.key.startswith(prefix + ":") and not r.expired(now)
             and (status is None or r.status == status)]
    return sorted(found, key=lambda r: r.updated_at)


def first_claim(key: str, *, now: float, lock_until: float, expires_at: float) -> Record:
    """The record a claim of an absent key creates."""
    return Record(key, INPROGRESS, lock_until, expires_at, 1, updated_at=now)


def transition(record: Optional[Record], op: str, now: float, **kw) -> Optional[Record]:
    """The pure state machine shared by every backend: the record after ``op`` (None = deleted).

    Backends run it inside their own atomic section (a lock, a transaction, a Lua script's twin).
    """
    if op == "claim":
        if record is None:
            return first_claim(kw["key"], now=now, lock_until=kw["lock_until"], expires_at=kw["expires_at"])
        if record.claimable(now):
            record.lock_until, record.attempts, record.updated_at = kw["lock_until"], record.attempts + 1, now
            return record
        return record
    if op == "seen":
        # An existing live mark (or record) is left as it is: the caller learns it was seen.
        return record if record is not None else Record(kw["key"], SEEN, 0.0, kw["expires_at"], 1, updated_at=now)
    if record is None:
        raise KeyError(kw.get("key", "?"))
    if op == "prepare":
        if record.status != INPROGRESS or record.job_id is not None or record.nonce != kw["expected_nonce"]:
            return record  # another attempt took the key over: the caller sees a nonce not its own
        record.nonce, record.timestamp, record.digest = kw["nonce"], kw["timestamp"], kw["digest"]
    elif op == "resolve":
        if record.status != UNCERTAIN or record.job_id is not None:
            return record
        record.status, record.job_id = COMPLETED, kw["job_id"]
        record.reason = f"{record.reason} [resolved: {kw['how']}]"
    elif op == "save_job":
        record.status, record.job_id, record.request_id, record.message = SUBMITTED, kw["job_id"], kw["request_id"], kw["message"]
    elif op == "complete":
        record.status, record.message_id, record.lock_until = COMPLETED, kw["message_id"], 0.0
    elif op == "release":
        # Only after a definite refusal (the prepared request created nothing): forget it all.
        if record.job_id is None and record.status == INPROGRESS:
            return None
        record.lock_until = 0.0
    elif op == "uncertain":
        record.status, record.reason, record.lock_until = UNCERTAIN, kw["reason"], 0.0
    else:
        raise ValueError(op)
    record.updated_at = now
    return record
