"""One job, exactly once: claim its key, submit with retries, save the JobId, publish, complete.

Why each step is where it is:
- The key is claimed before anything is paid for; a concurrent duplicate finds it held.
- An event that came by HTTP callback (an unsigned body) has its media checked with VOD before
  the submit (vodai.pipeline.media); one that names no uploaded media is dead-lettered.
- Retryable errors are retried with backoff and full jitter inside the invocation's deadline.
- Before the submit request leaves, its nonce and timestamp are stored on the claim; every later
  attempt for the key (a retry, a redelivery after a crash, an expired lock or a store outage)
  re-sends that identical request, so VOD can never create a second job for it.
- A store error ends the event as a retryable outcome (nothing is submitted when the store cannot
  be reached before the submit).
- After an *ambiguous* failure (the request may have been processed: a read timeout, a connection
  lost after sending) the identical signed request is sent again, same nonce. If VOD processed the
  first copy it refuses the second with SignatureNonceUsed instead of creating a second job; vodai
  then records the job as UNCERTAIN and dead-letters it for a person, never resubmitting it.
- The JobId is saved before publishing: a crash between the two makes the redelivery re-publish
  the saved JobId (and the same message body) instead of submitting again.
- Once published, the job is tracked (vodai.tracking) so that its result is followed, then the key
  is completed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Optional, Tuple

from .. import jsontext
from ..clients.vod import request_digest
from ..events.models import VodEvent
from ..exceptions import ApiError, IdempotencyError, TakenOver, TransportError, UncertainSubmit, VodApiError
from ..idempotency import COMPLETED, UNCERTAIN, Record, job_key
from ..invocation import Invocation
from ..retry import is_retryable_api_error, next_delay, retry_call
from ..routing.decision import Submit
from ..timestamps import ISO_SECONDS
from ..tracking import TrackedJob, TrackingError
from . import outcome as oc
from .dependencies import Dependencies
from .media import media_problem
from .message import job_message_fields, message_tag

NONCE_USED = "SignatureNonceUsed"
# After an ambiguous failure, resending the identical request cannot create a second job (VOD
# refuses a reused nonce), so it may go on longer than ordinary retries before vodai gives up and
# calls the submit uncertain (a person then has to look). Still bounded by the deadline.
AMBIGUOUS_ATTEMPTS_FACTOR = 3
# VOD refuses a request signed more than 15 minutes ago; past that (less a margin for clock skew)
# a re-sent request can no longer tell whether its first copy created a job.
SIGNATURE_WINDOW = 15 * 60
SIGNATURE_WINDOW_MARGIN = 60
TIMESTAMP_ERRORS = "InvalidTimeStamp"


def run_job(event: VodEvent, decision: Submit, out: oc.Outcome, deps: Dependencies, inv: Invocation, *,
            check_media: bool = False) -> oc.Outcome:
    """Claim, submit, save, publish and complete one job; a store error ends it as a retryable outcome.

    Parameters
    ----------
    event, decision
        The parsed event and the :class:`Submit` routing made of it.
    out
        The outcome begun for the event; filled in and returned.
    deps, inv
        What the pipeline calls out to, and what the invocation's events share.
    check_media
        First ask VOD whether the media exists and is uploaded (events that came by HTTP callback).

    Returns
    -------
    oc.Outcome
        Submitted, skipped, dead-lettered, or failed (retryable: the platform delivers it again).
    """
    try:
        return _run_job(event, decision, out, deps, inv, check_media)
    except IdempotencyError as exc:
        out.status = oc.FAILED
        if not out.attempts:
            done = "nothing was submitted"
        elif out.job_id:
            done = f"JobId {out.job_id} was submitted but not recorded; a redelivery re-sends the same signed request"
        else:
            done = "a redelivery re-sends the same signed request (same nonce), so no second job"
        out.reason = f"VODAI_IDEMPOTENCY_STORE: store error: {exc}; {done}; retryable"
        return out


def _run_job(event: VodEvent, decision: Submit, out: oc.Outcome, deps: Dependencies, inv: Invocation,
             check_media: bool) -> oc.Outcome:
    s = deps.settings
    key = job_key(s.namespace, decision.action, decision.media_id, decision.template_id)
    now = deps.clock()
    claim = deps.store.claim(key, now=now, lock_until=inv.lock_until, expires_at=now + s.idempotency_ttl)
    if not claim.acquired:
        return _held(claim.record, key, event, decision, out, deps, inv, check_media)
    record = claim.record
    if record.job_id is None:
        if not inv.allows_call(s.connect_timeout + s.read_timeout):
            # Too late to learn a submit's answer: leave the event for the redelivery untouched.
            deps.store.release(key, now=deps.clock())
            return not_processed(out, inv, s.connect_timeout + s.read_timeout)
        if check_media:
            try:
                problem = media_problem(event, decision, deps, inv)
            except ApiError as exc:
                deps.store.release(key, now=deps.clock())
                return _api_failure(out, exc, "media check")
            if problem is not None:
                deps.store.release(key, now=deps.clock())  # nothing was paid: a genuine event may come
                out.status, out.reason = oc.DEAD_LETTERED, problem
                return out
        try:
            response = _submit(key, record, decision, deps, inv, out)
        except UncertainSubmit as exc:
            deps.store.mark_uncertain(key, reason=str(exc), now=deps.clock())
            out.status, out.reason = oc.DEAD_LETTERED, f"submit outcome unknown: {exc}"
            return out
        except TakenOver as exc:
            out.status, out.reason = oc.FAILED, str(exc)
            return out
        except ApiError as exc:
            deps.store.release(key, now=deps.clock())
            return _api_failure(out, exc, "submit")
        out.job_id, out.request_id = response.get("JobId"), response.get("RequestId")
        if not out.job_id:
            deps.store.release(key, now=deps.clock())
            out.status, out.reason = oc.FAILED, f"{decision.action} answered without a JobId"
            return out
        fields = job_message_fields(event=event, decision=decision, job_id=out.job_id, request_id=out.request_id,
                                    source_id=out.source_id)
        record = deps.store.save_job(key, job_id=out.job_id, request_id=out.request_id, message=jsontext.compact(fields),
                                     now=deps.clock())
    else:
        # A job saved by an earlier delivery that crashed or failed before publishing.
        out.job_id, out.request_id, out.republished = record.job_id, record.request_id, True
        fields = None
    return _publish(record, key, decision.action, out, deps, inv, fields)


def not_processed(out: oc.Outcome, inv: Invocation, needed: float) -> oc.Outcome:
    """``out`` as an event whose call was not started for lack of time: failed (retryable), so
    the platform delivers it again; nothing was sent, so nothing is unknown about it."""
    out.status = oc.FAILED
    out.reason = (f"not processed: {max(0.0, inv.deadline.remaining()):.2f} s left before the invocation's deadline, "
                  f"a call may need {min(needed, inv.budget / 2):.2f} s (connect + read timeout); left for redelivery")
    return out


def _held(record: Record, key: str, event, decision, out: oc.Outcome, deps: Dependencies, inv: Invocation,
          check_media: bool = False) -> oc.Outcome:
    """Someone has this key: done before, uncertain, or in progress right now."""
    if record.status == COMPLETED:
        out.status, out.duplicate = oc.SKIPPED, True
        out.job_id, out.message_id = record.job_id, record.message_id
        out.reason = f"duplicate: {decision.action} already submitted for {decision.media_id} as JobId {record.job_id}"
        return out
    if record.status == UNCERTAIN:
        out.status, out.duplicate = oc.SKIPPED, True
        out.reason = f"duplicate of a submit whose outcome is unknown (see its dead letter): {record.reason}"
        return out
    policy = deps.settings.concurrent_duplicates
    if policy == "wait":
        bound = min(deps.clock() + deps.settings.concurrent_wait, inv.deadline.at)
        while deps.clock() < bound:
            deps.sleep(0.2)
            current = deps.store.get(key, now=deps.clock())
            if current is None or current.status in (COMPLETED, UNCERTAIN) or current.claimable(deps.clock()):
                return run_job(event, decision, out, deps, inv, check_media=check_media)
    if policy == "drop":
        out.status, out.duplicate = oc.SKIPPED, True
        out.reason = "duplicate: the same job is being submitted by another invocation right now (dropped)"
        return out
    out.status = oc.FAILED
    out.reason = "concurrent duplicate: another invocation holds this job right now; retry later"
    return out


def _window_passed(timestamp: Optional[str], now: float) -> bool:
    """Whether VOD would now refuse a request signed at ``timestamp`` as expired."""
    try:
        signed = datetime.strptime(timestamp or "", ISO_SECONDS).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return True
    return now - signed > SIGNATURE_WINDOW - SIGNATURE_WINDOW_MARGIN


def _stamp(key: str, expected_nonce: Optional[str], digest: str, deps: Dependencies) -> Tuple[str, str]:
    """A fresh nonce and timestamp, stored on the claim before the request they sign leaves."""
    nonce, timestamp = deps.vod.stamp()
    stored = deps.store.prepare(key, nonce=nonce, timestamp=timestamp, digest=digest, expected_nonce=expected_nonce,
                                now=deps.clock())
    if stored.nonce != nonce:
        raise TakenOver(f"concurrent duplicate: another invocation took job {key} over; retry later")
    return nonce, timestamp


def _submit(key: str, record: Record, decision: Submit, deps: Dependencies, inv: Invocation, out: oc.Outcome) -> dict:
    """The submit's own retry loop, not :func:`~vodai.retry.retry_call`: after an ambiguous failure
    it must resend the *identical* signed request (the nonce and timestamp stored on the claim, so
    VOD refuses a second job), after a definite refusal a fresh one, and an ambiguous failure
    lengthens its policy mid-way."""
    action, media = decision.action, decision.media_id
    digest = request_digest(action, decision.region, decision.params)
    if record.nonce is not None:
        # An earlier attempt (crashed, timed out, or cut off by a store error) prepared this
        # request and may have sent it: only the identical request may go now.
        if _window_passed(record.timestamp, deps.clock()):
            raise UncertainSubmit(
                f"{action} for {media}: an earlier attempt's request (nonce {record.nonce}, signed "
                f"{record.timestamp}) may have created a job and is past VOD's 15-minute window, so re-sending "
                "it cannot tell; not resubmitted (check VOD for the job, then `vodai replay --resubmit-uncertain`)")
        nonce, timestamp = record.nonce, record.timestamp
        ambiguous = True
    else:
        nonce, timestamp = _stamp(key, None, digest, deps)
        ambiguous = False  # an attempt may have been processed: resend the identical request only
    prepared = deps.vod.prepare(action, decision.region, decision.params, nonce=nonce, timestamp=timestamp)
    attempt = 0
    while True:
        attempt += 1
        out.attempts = attempt
        timeout = (deps.settings.connect_timeout, inv.deadline.bound(deps.settings.read_timeout))
        try:
            return deps.vod.send(prepared, action, timeout=timeout)
        except VodApiError as exc:
            if ambiguous and (exc.code == NONCE_USED or exc.code.startswith(TIMESTAMP_ERRORS)):
                raise UncertainSubmit(
                    f"{action} for {media}: an earlier copy of this request (nonce {nonce}) reached VOD but "
                    f"its answer was lost ({exc.code}); not resubmitted, to avoid paying twice (check VOD for "
                    "the job, then `vodai replay --resubmit-uncertain`)"
                ) from None
            if not exc.retryable:
                raise
            error: ApiError = exc
            if not ambiguous:
                # A definite refusal: the next attempt is a fresh request (new nonce, new time).
                nonce, timestamp = _stamp(key, nonce, digest, deps)
                prepared = deps.vod.prepare(action, decision.region, decision.params, nonce=nonce, timestamp=timestamp)
        except TransportError as exc:
            ambiguous = ambiguous or exc.ambiguous
            error = exc
        policy = deps.retry
        if ambiguous:
            policy = replace(policy, max_attempts=policy.max_attempts * AMBIGUOUS_ATTEMPTS_FACTOR)
        wait = next_delay(policy, attempt, inv.deadline, deps.rand)
        call = deps.settings.connect_timeout + deps.settings.read_timeout
        if wait is not None and not ambiguous and not inv.allows_call(wait + call):
            # A fresh attempt could not learn its answer in time; a resend after an ambiguous
            # failure repeats its nonce, so it cannot pay twice and may still learn the outcome.
            wait = None
        if wait is None:
            if ambiguous:
                raise UncertainSubmit(
                    f"{action} for {media}: no answer after {attempt} attempts ({error.code}); a job may exist"
                ) from None
            raise error
        deps.sleep(wait)


def _publish(record: Record, key: str, action: str, out: oc.Outcome, deps: Dependencies, inv: Invocation,
             fields: Optional[dict] = None) -> oc.Outcome:
    topic = deps.settings.callback_topic
    # dispatch dead-letters an event before its submit when no topic is set; save_job stored the message.
    assert topic is not None and record.message is not None
    message = record.message

    def publish(attempt: int) -> dict:
        timeout = (deps.settings.connect_timeout, inv.deadline.bound(deps.settings.read_timeout))
        return deps.publisher.publish(topic, message, tag=message_tag(action), timeout=timeout)

    try:
        published = retry_call(publish, deps.retry, retryable=is_retryable_api_error, sleep=deps.sleep,
                               rand=deps.rand, deadline=inv.deadline)
    except ApiError as exc:
        # The JobId stays saved; releasing the lock lets a redelivery or a replay re-publish it.
        deps.store.release(key, now=deps.clock())
        return _api_failure(out, exc, "publish")
    out.message_id = published.get("MessageId")
    if not _track(record, key, action, out, deps, fields):
        return out
    deps.store.complete(key, message_id=out.message_id, now=deps.clock())
    out.status = oc.SUBMITTED  # Attempts stays the submit's: publishing again is no new job
    return out


def _track(record: Record, key: str, action: str, out: oc.Outcome, deps: Dependencies, fields: Optional[dict]) -> bool:
    """Start following the published job to its result (vodai.tracking). Before the key is completed:
    if the tracking store cannot be written, the key is released with the JobId kept, the outcome
    is failed, and the redelivery publishes the same message again and tracks the job.
    ``fields``: the message's fields when this invocation built it (else it is read back)."""
    if deps.tracking is None:
        return True
    try:
        body = fields if fields is not None else json.loads(record.message or "{}")
        body.setdefault("JobId", out.job_id)
        body.setdefault("Action", action)
        now = deps.clock()
        # submitted_at: precise, and on the clock the poller ages jobs by
        job = TrackedJob.from_message(body, now=now, submitted_at=now)
        deps.tracking.track(job, now=now)
        return True
    except TrackingError as exc:
        deps.store.release(key, now=deps.clock())
        out.status = oc.FAILED
        out.reason = (f"JobId {out.job_id} was published (MessageId {out.message_id}) but could not be tracked: {exc}; "
                      "a redelivery publishes it again and tracks it")
        return False


def _api_failure(out: oc.Outcome, exc: ApiError, stage: str) -> oc.Outcome:
    out.error = exc.to_dict()
    out.status = oc.FAILED if exc.retryable else oc.DEAD_LETTERED
    out.reason = f"{stage} failed: {exc.code}: {exc.message}"
    if stage == "publish" and out.job_id:
        out.reason += f" (JobId {out.job_id} is saved: a redelivery or replay publishes it without submitting again)"
    return out
