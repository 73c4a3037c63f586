"""One completion message per finished job, exactly once, whoever sees it finish first.

A poll and AIMediaAuditComplete events (delivered any number of times, concurrently) may all see
the same job finish. Each runs :func:`publish_completion`, which drives the idempotency store's
state machine on the key ``<prefix>:notify:<JobId>``:

    claim ──► save the message (SUBMITTED) ──► publish ──► complete ──► mark the tracked job finished

- only the caller that claims the key publishes; the others find it held (someone is publishing
  right now) or COMPLETED (published: a duplicate, carrying the MessageId);
- the message is saved **before** publishing: after a crash between the two, the next caller
  (once the lock has run out) publishes the saved message as it is, the same body and CompletedAt,
  instead of building another one;
- a publish that fails releases the key with the message kept, so the next poll or delivery
  publishes it.

The tracked job is marked finished from the message that was published, so the store and the
topic always agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from ..exceptions import ApiError
from ..idempotency import COMPLETED, Record
from ..retry import Deadline, is_retryable_api_error, retry_call
from .base import TrackedJob, iso, parse_iso
from .results import AI_IMAGE, AI_IMAGE_AUDIT, JobResult

EVENT = "JobCompleted"
# MNS allows a MessageTag of at most 16 characters; subscriptions and topic triggers filter on it.
COMPLETION_TAGS = {AI_IMAGE: "AIImageJobDone", AI_IMAGE_AUDIT: "AIAuditJobDone"}

# What publish_completion concluded.
PUBLISHED = "published"  # this caller published the completion message
REPUBLISHED = "republished"  # it published a message saved by an earlier caller that crashed or failed
DUPLICATE = "duplicate"  # published before (by a poll or an event): nothing sent
HELD = "held"  # another caller is publishing it right now
FAILED = "failed"  # publishing failed; the next poll or delivery tries again


def notify_key(prefix: str, job_id: str) -> str:
    return f"{prefix}:notify:{job_id}"


def completion_tag(action: str) -> str:
    """``AIImageJobDone`` / ``AIAuditJobDone``: the completion message's MessageTag (at most 16 characters)."""
    return COMPLETION_TAGS.get(action, "JobDone")


def completion_message(job: TrackedJob, result: JobResult, *, now: float) -> str:
    """The completion message body (JSON). ``CompletedAt`` is VOD's CompleteTime when it gives one,
    else the time vodai saw the job finished."""
    completed = parse_iso(result.complete_time)
    body = {
        "Event": EVENT,
        "JobId": job.job_id,
        "Action": job.action,
        "Status": result.status,
        "Code": result.code,
        "Message": result.message,
        "MediaId": job.media_id,
        "MediaType": job.media_type,
        "Region": job.region,
        "TemplateId": job.template_id,
        "ResultSummary": result.summary or {},
        "SubmittedAt": iso(job.submitted_at),
        "CompletedAt": iso(completed if completed else now),
        "DetectedBy": result.detected_by,
    }
    if job.source.get("SourceMessageId"):
        body["SourceMessageId"] = job.source["SourceMessageId"]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Completion:
    """What became of a job's one completion message: published, published before, or why not."""

    status: str
    job_id: str
    message_id: Optional[str] = None
    reason: Optional[str] = None
    error: Optional[ApiError] = None
    attempts: int = 0
    body: Optional[dict] = None  # the message published (or published before)

    @property
    def published(self) -> bool:
        return self.status in (PUBLISHED, REPUBLISHED)


def publish_completion(job: TrackedJob, result: JobResult, deps: Any, *, deadline: Deadline, lock_until: float) -> Completion:
    """Publish ``job``'s completion once. ``deps`` is a :class:`vodai.pipeline.Dependencies` (its
    settings, idempotency store, tracking store, publisher, retry policy, clock, sleep, rand)."""
    s = deps.settings
    key = notify_key(s.namespace, job.job_id)
    now = deps.clock()
    claim = deps.store.claim(key, now=now, lock_until=lock_until, expires_at=now + s.idempotency_ttl)
    record = claim.record
    if not claim.acquired:
        if record is not None and record.status == COMPLETED:
            body = _body(record)
            finish_tracked(job.job_id, body, record.message_id, deps)  # in case a crash came between the two
            return Completion(DUPLICATE, job.job_id, record.message_id, f"completion of JobId {job.job_id} was published "
                              f"before (MessageId {record.message_id})", body=body)
        return Completion(HELD, job.job_id, reason=f"the completion of JobId {job.job_id} is being published by another "
                          "invocation right now")
    republished = record.job_id is not None and bool(record.message)
    if not republished:
        record = deps.store.save_job(key, job_id=job.job_id, request_id=None,
                                     message=completion_message(job, result, now=deps.clock()), now=deps.clock())
    return _publish(record, key, job, republished, deps, deadline)


def message_body(text: Optional[str]) -> dict:
    """A saved message body as a dict ({} when there is none or it is not a JSON object)."""
    try:
        body = json.loads(text or "{}")
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def _body(record: Record) -> dict:
    return message_body(record.message)


def _publish(record: Record, key: str, job: TrackedJob, republished: bool, deps: Any, deadline: Deadline) -> Completion:
    topic = deps.settings.callback_topic
    body = _body(record)
    attempts = 0

    def publish(attempt: int) -> dict:
        nonlocal attempts
        attempts = attempt
        timeout = (deps.settings.connect_timeout, deadline.bound(deps.settings.read_timeout))
        return deps.publisher.publish(topic, record.message, tag=completion_tag(body.get("Action") or job.action),
                                      timeout=timeout)

    try:
        published = retry_call(publish, deps.retry, retryable=is_retryable_api_error, sleep=deps.sleep,
                               rand=deps.rand, deadline=deadline)
    except ApiError as exc:
        # The message stays saved: the next poll or delivery publishes this very message.
        deps.store.release(key, now=deps.clock())
        return Completion(FAILED, job.job_id, reason=f"publish failed: {exc.code}: {exc.message} (the completion "
                          f"message of JobId {job.job_id} is saved: the next poll or delivery publishes it)",
                          error=exc, attempts=attempts, body=body)
    message_id = published.get("MessageId")
    deps.store.complete(key, message_id=message_id, now=deps.clock())
    finish_tracked(job.job_id, body, message_id, deps)
    return Completion(REPUBLISHED if republished else PUBLISHED, job.job_id, message_id, attempts=attempts, body=body)


def finish_tracked(job_id: str, body: dict, message_id: Optional[str], deps: Any) -> None:
    """Mark the tracked job finished as the published message says (no-op when untracked or done)."""
    tracking = getattr(deps, "tracking", None)
    if tracking is None or not body:
        return
    now = deps.clock()
    tracking.finish(job_id, status=body.get("Status") or "fail", now=now, expires_at=now + deps.settings.idempotency_ttl,
                    code=body.get("Code"), message=body.get("Message"), summary=body.get("ResultSummary"),
                    completion_message_id=message_id)
