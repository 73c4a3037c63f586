"""A job-completion event (AIMediaAuditComplete) through the pipeline: publish the job's result once.

The event may arrive many times (VOD's retries, MNS's redeliveries), and a poll may see the same job
finish: :func:`vodai.tracking.completion.publish_completion` makes sure exactly one completion
message goes out, whoever comes first.

Which jobs: the ones vodai submitted. A job vodai tracks is found by its JobId. A job submitted
before tracking existed is still recognised by the submit's own idempotency record (key
``prefix:SubmitAIImageAuditJob:<MediaId>:<template>``, for each audit template configured, while
that record lives: ``VODAI_IDEMPOTENCY_TTL``); it is tracked from that record and its completion is
published. An UNCERTAIN submit (its answer was lost) for that media and template is resolved by the
event: its record takes the JobId the event names. Any other JobId (an audit someone else submitted in the same account) is skipped with a
reason: the callback topic carries vodai's jobs only.
"""

from __future__ import annotations

from typing import Optional

from ..events.models import AIMediaAuditComplete
from ..idempotency import UNCERTAIN, job_key
from ..invocation import Invocation
from ..routing.decision import Complete
from ..routing.rules import SUBMIT_AI_IMAGE_AUDIT_JOB
from ..tracking import LOST, TrackedJob
from ..tracking import completion as tc
from ..tracking.results import audit_result
from . import outcome as oc
from .dependencies import Dependencies


def run_completion(event: AIMediaAuditComplete, decision: Complete, out: oc.Outcome, deps: Dependencies,
                   inv: Invocation) -> oc.Outcome:
    out.job_id = decision.job_id
    report = {"JobId": event.job_id, "Status": event.status, "Code": event.code, "Message": event.message,
              "Data": event.data, "CompleteTime": (event.model_extra or {}).get("CompleteTime") or event.event_time_text}
    result = audit_result(report, detected_by="event")
    if result is None:
        out.status = oc.SKIPPED
        out.reason = f"{event.event_type} for JobId {decision.job_id} reports Status {event.status!r}: not finished"
        return out
    job = find_job(decision, out.region, deps)
    if job is None:
        out.status = oc.SKIPPED
        out.reason = (f"JobId {decision.job_id} is not a job vodai submitted (not tracked, and no job record for "
                      f"{decision.media_id} under the configured audit templates): no completion message")
        return out
    out.action, out.template_id, out.media_type = job.action, job.template_id, job.media_type
    if job.region and job.region != out.region:
        out.region, out.region_source = job.region, "tracked-job"  # where the job was submitted
    if job.action != SUBMIT_AI_IMAGE_AUDIT_JOB:
        out.status = oc.SKIPPED
        out.reason = f"{event.event_type} names JobId {job.job_id}, a {job.action} job: only audit jobs end this way"
        return out
    if job.done and job.status != LOST:
        out.status, out.duplicate, out.message_id = oc.SKIPPED, True, job.completion_message_id
        out.reason = f"duplicate: the completion of JobId {job.job_id} was published before (MessageId {job.completion_message_id})"
        return out
    return _publish(job, result, out, deps, inv)


def _publish(job: TrackedJob, result, out: oc.Outcome, deps: Dependencies, inv: Invocation) -> oc.Outcome:
    policy = deps.settings.concurrent_duplicates
    bound = min(deps.clock() + deps.settings.concurrent_wait, inv.deadline.at)
    while True:
        done = tc.publish_completion(job, result, deps, deadline=inv.deadline, lock_until=inv.lock_until)
        out.attempts = (out.attempts or 0) + done.attempts
        if done.status != tc.HELD or policy != "wait" or deps.clock() >= bound:
            break
        deps.sleep(0.2)  # another invocation is publishing it: its outcome decides ours
    if done.published:
        out.status, out.message_id = oc.COMPLETED, done.message_id
        out.republished = True if done.status == tc.REPUBLISHED else None
        status = (done.body or {}).get("Status", result.status)
        out.reason = f"published the completion of JobId {job.job_id} ({status}) with tag {tc.completion_tag(job.action)}"
    elif done.status == tc.DUPLICATE:
        out.status, out.duplicate, out.message_id = oc.SKIPPED, True, done.message_id
        out.reason = f"duplicate: {done.reason}"
    elif done.status == tc.HELD:
        if policy == "drop":
            out.status, out.duplicate = oc.SKIPPED, True
            out.reason = f"duplicate: {done.reason} (dropped)"
        else:
            out.status = oc.FAILED
            out.reason = f"concurrent duplicate: {done.reason}; retry later"
    else:
        exc = done.error
        out.error = exc.to_dict() if exc is not None else None
        out.status = oc.FAILED if exc is None or exc.retryable else oc.DEAD_LETTERED
        out.reason = done.reason
    return out


def find_job(decision: Complete, region: Optional[str], deps: Dependencies) -> Optional[TrackedJob]:
    """The tracked job, or one vodai submitted before tracking existed (then tracked from now on)."""
    now = deps.clock()
    if deps.tracking is not None:
        job = deps.tracking.get(decision.job_id, now=now)
        if job is not None:
            return job
    s = deps.settings
    templates = [s.audit_template_id, *(r.audit_template_id for r in deps.routes.regions.values())]
    # None last: a job submitted without TemplateId (the account's default template).
    for template in [*dict.fromkeys(t for t in templates if t), None]:
        key = job_key(s.namespace, SUBMIT_AI_IMAGE_AUDIT_JOB, decision.media_id, template)
        record = deps.store.get(key, now=now)
        if record is not None and record.status == UNCERTAIN and record.job_id is None:
            # The submit whose answer was lost made this job: the completion names it. Resolved,
            # so a redelivered upload is a duplicate of it, and its completion is published.
            record = deps.store.resolve(key, job_id=decision.job_id, how=f"AIMediaAuditComplete named JobId "
                                        f"{decision.job_id}", now=now)
        if record is None or record.job_id != decision.job_id:
            continue
        body = tc.message_body(record.message)
        body.update(JobId=decision.job_id, Action=body.get("Action") or SUBMIT_AI_IMAGE_AUDIT_JOB,
                    MediaId=body.get("MediaId") or decision.media_id, TemplateId=body.get("TemplateId") or template,
                    Region=body.get("Region") or region or "", MediaType=body.get("MediaType") or "image")
        job = TrackedJob.from_message(body, now=record.updated_at or now)
        if deps.tracking is not None:
            deps.tracking.track(job, now=now)
        return job
    return None
