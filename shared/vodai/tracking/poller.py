"""One poll: ask VOD about the pending jobs, publish the completion of each one that finished.

- ``SubmitAIImageJob`` jobs are read with ``GetAIImageJobs``, grouped per region, at most ten
  JobIds per call (VOD's limit);
- ``SubmitAIImageAuditJob`` jobs with ``GetAIMediaAuditJob``, one call each;
- a job in a final state (``success``, ``fail``/``failed``, in any case) goes through
  :func:`vodai.tracking.completion.publish_completion` (exactly one message, whoever comes first);
- a job still running is noted (what VOD said, and when: the next poll checks the least recently
  seen first);
- a job VOD does not know (left out of ``AIImageJobList``, or a not-found answer) is given up as
  **lost** once it is older than ``VODAI_TRACKING_LOST_AFTER``, with a reason; younger, it is
  only noted (VOD may not list a job the moment it is accepted).

One timer run works through the pending set in **pages** of ``VODAI_TRACKING_POLL_LIMIT`` jobs
(the least recently seen first) until every pending job was checked once or its **budget** is
spent (``VODAI_TRACKING_BUDGET`` seconds, default: the invocation's deadline, a margin under the
function's timeout). The lookups of a page run ``VODAI_TRACKING_CONCURRENCY`` at a time. What is
left is the **backlog**: pending jobs this run did not reach, reported in the summary and in the
run's one ``vodai.tracking`` summary line (``Event: PollDone``), so a growing backlog is visible
in the logs and alarms.

Calls are retried like the pipeline's (throttling, 5xx, lost connections; backoff with full
jitter), every wait and timeout inside the invocation's deadline; a batch that still fails leaves
its jobs pending for the next poll. No new call starts in the last second before the budget's
end: the jobs of the page not reached are ``deferred``. Everything it calls comes in through ``deps``
(:class:`vodai.pipeline.Dependencies`), so tests pass fakes instead of patching.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable, Dict, List, Optional, Set

from ..clients.vod import MAX_JOB_IDS
from ..exceptions import ApiError, ConfigError, VodApiError
from ..invocation import invocation
from ..logs import outcome_logger
from ..retry import Deadline, is_retryable_api_error, retry_call
from . import completion as tc
from .base import LOST, TrackedJob
from .results import AI_IMAGE, AI_IMAGE_AUDIT, JobResult, ai_image_result, audit_result, final_status

# What a poll concluded about each job it looked at.
RUNNING = "running"  # VOD says it is still running
COMPLETED = "completed"  # finished: this poll published its completion message
DUPLICATE = "duplicate"  # finished, and its completion was published before (e.g. by an event)
HELD = "held"  # finished, and another invocation is publishing its completion right now
FAILED = "failed"  # finished, but publishing failed: the next poll publishes the saved message
UNKNOWN = "unknown"  # VOD does not know it (yet): noted, lost once older than VODAI_TRACKING_LOST_AFTER
LOST_STATE = LOST  # VOD does not know it, long after it was submitted: given up, with a reason
ERROR = "error"  # the VOD call failed (after retries): still pending
DEFERRED = "deferred"  # not checked: the invocation's deadline was near
UNSUPPORTED = "unsupported"  # an action vodai cannot ask VOD about
STATES = (RUNNING, COMPLETED, DUPLICATE, HELD, FAILED, UNKNOWN, LOST_STATE, ERROR, DEFERRED, UNSUPPORTED)

# No new call starts when less than this is left before the deadline.
CALL_MARGIN = 1.0
# How far the end of a run looks to count the backlog it leaves (beyond: "at least").
BACKLOG_SCAN = 10_000
# States after which a job stays pending without a new last-seen time: a page is read past them.
_NOT_NOTED = (ERROR, DEFERRED, UNSUPPORTED, HELD, FAILED)

@dataclass
class JobCheck:
    """What one poll found for one job, as the poll's summary reports it."""

    job_id: str
    action: str
    region: str
    state: str
    media_id: Optional[str] = None
    vod_status: Optional[str] = None
    status: Optional[str] = None  # success / fail, once finished
    message_id: Optional[str] = None
    reason: Optional[str] = None

    def to_dict(self) -> dict:
        doc = {"JobId": self.job_id, "Action": self.action, "Region": self.region, "MediaId": self.media_id,
               "State": self.state, "VodStatus": self.vod_status, "Status": self.status,
               "MessageId": self.message_id, "Reason": self.reason}
        return {k: v for k, v in doc.items() if v is not None}


@dataclass
class PollSummary:
    """One poll of the tracked jobs: the calls made, each job's check, and the errors."""

    request_id: Optional[str] = None
    pending: int = 0
    calls: Dict[str, int] = field(default_factory=dict)
    jobs: List[JobCheck] = field(default_factory=list)
    errors: List[dict] = field(default_factory=list)
    started_at: Optional[str] = None
    pages: int = 0
    backlog: int = 0  # pending jobs this run did not reach
    backlog_capped: bool = False  # the backlog is at least ``backlog`` (the count stopped at BACKLOG_SCAN)
    budget: Optional[float] = None  # seconds the run could spend
    elapsed: Optional[float] = None
    stopped: str = "done"  # done: every pending job checked; budget: time ran out; limit: Limit reached

    def counts(self) -> dict:
        out: dict = {}
        for check in self.jobs:
            out[check.state] = out.get(check.state, 0) + 1
        return out

    def checks(self, state: str) -> List[JobCheck]:
        return [c for c in self.jobs if c.state == state]

    @property
    def all_calls_failed(self) -> bool:
        """Jobs were due and not one VOD call worked: a configuration or service problem."""
        worked = any(c.state not in (ERROR, DEFERRED, UNSUPPORTED) for c in self.jobs)
        return bool(self.errors) and not worked

    def to_dict(self) -> dict:
        return {"RequestId": self.request_id, "StartedAt": self.started_at, "Pending": self.pending,
                **self.progress(), "Calls": dict(self.calls), "Counts": self.counts(),
                "Jobs": [c.to_dict() for c in self.jobs], "Errors": list(self.errors)}

    def progress(self) -> dict:
        """How far the run got: pages, why it stopped, the backlog it left, its time."""
        return {"Pages": self.pages, "Stopped": self.stopped, "Backlog": self.backlog,
                "BacklogAtLeast": self.backlog_capped,
                "BudgetSeconds": None if self.budget is None else round(self.budget, 3),
                "ElapsedSeconds": None if self.elapsed is None else round(self.elapsed, 3)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def poll_once(deps: Any, *, limit: Optional[int] = None, context: Any = None, started: Optional[float] = None) -> PollSummary:
    """One timer run: check the pending jobs, page after page, until each was checked once, the
    budget is spent, or ``limit`` jobs (the timer payload's ``Limit``) were checked.

    Parameters
    ----------
    deps : vodai.pipeline.Dependencies
        The store, the VOD client, the settings (``tracking_poll_limit`` per page,
        ``tracking_budget``, ``tracking_concurrency``), the clock.
    limit : int, optional
        At most this many jobs this run (default: no limit but the budget).
    context : FC context, optional
        Its request id and function timeout (the default budget).
    started : float, optional
        When the invocation started (default: now).

    Returns
    -------
    PollSummary
        Each job's check, the calls made, and the backlog left (``Backlog``).
    """
    if deps.tracking is None:
        raise ConfigError("VODAI_TRACKING_STORE", "no tracking store: nothing to poll")
    if not deps.settings.callback_topic:
        raise ConfigError("VODAI_CALLBACK_TOPIC", "not set: completion messages have nowhere to go")
    s = deps.settings
    start = deps.clock() if started is None else started
    inv = invocation(context, s, start, deps.clock)
    budget = inv.deadline if s.tracking_budget is None else Deadline(min(inv.deadline.at, start + s.tracking_budget), deps.clock)
    summary = PollSummary(inv.request_id, started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                          budget=budget.at - start)
    poll = _Poll(deps, inv.deadline, inv.lock_until, summary, budget=budget)
    checked: Set[str] = set()  # every job looked at this run
    stuck: Set[str] = set()  # of those, the ones still pending with their old last-seen time
    with ThreadPoolExecutor(max_workers=s.tracking_concurrency, thread_name_prefix="vodai-poll") as pool:
        while True:
            room = s.tracking_poll_limit if limit is None else min(s.tracking_poll_limit, limit - len(checked))
            if room <= 0:
                summary.stopped = "limit"
                break
            if summary.pages and not budget.allows(CALL_MARGIN):  # the first page is read anyway: deferred, reported
                summary.stopped = "budget"
                break
            page = [j for j in deps.tracking.pending(room + len(stuck)) if j.job_id not in checked][:room]
            if not page:
                break
            summary.pages += 1
            summary.pending += len(page)
            checked.update(j.job_id for j in page)
            for _ in pool.map(lambda unit: unit(), poll.units(page)):
                pass
            stuck.update(c.job_id for c in summary.jobs if c.state in _NOT_NOTED)
            if summary.checks(DEFERRED):
                summary.stopped = "budget"
                break
    if summary.stopped != "done":
        left = [j for j in deps.tracking.pending(BACKLOG_SCAN + len(checked)) if j.job_id not in checked]
        deferred = len(summary.checks(DEFERRED))
        summary.backlog = min(len(left), BACKLOG_SCAN) + deferred
        summary.backlog_capped = len(left) >= BACKLOG_SCAN
        if not summary.backlog:  # the budget or limit ran out just as the last pending job was checked
            summary.stopped = "done"
    summary.elapsed = deps.clock() - start
    _log_run(summary)
    return summary


class _Poll:
    def __init__(self, deps: Any, deadline: Deadline, lock_until: float, summary: PollSummary, *,
                 budget: Optional[Deadline] = None) -> None:
        self.deps, self.deadline, self.lock_until, self.summary = deps, deadline, lock_until, summary
        self.budget = budget or deadline  # when to stop starting calls; calls themselves keep the deadline
        self._lock = threading.Lock()  # the summary is shared by the lookups running at once

    def units(self, jobs: List[TrackedJob]) -> List[Callable[[], None]]:
        """The lookups of one page: a GetAIImageJobs per ten jobs of a region, a GetAIMediaAuditJob
        per audit job; a job of another action is recorded as unsupported at once."""
        groups: "OrderedDict[str, List[TrackedJob]]" = OrderedDict()
        units: List[Callable[[], None]] = []
        for job in jobs:
            if job.action == AI_IMAGE:
                groups.setdefault(job.region, []).append(job)
            elif job.action == AI_IMAGE_AUDIT:
                units.append(functools.partial(self.audit_job, job))
            else:
                self.record(job, UNSUPPORTED, reason=f"vodai cannot ask VOD about {job.action or 'an unnamed action'} jobs")
        batches = [functools.partial(self.ai_image_batch, region, group[i:i + MAX_JOB_IDS])
                   for region, group in groups.items() for i in range(0, len(group), MAX_JOB_IDS)]
        return batches + units

    # -- the two kinds of job ------------------------------------------------------------------
    def ai_image_batch(self, region: str, jobs: List[TrackedJob]) -> None:
        if not self._time_left(jobs):
            return
        ids = [j.job_id for j in jobs]
        try:
            answer = self._call("GetAIImageJobs", region, lambda timeout: self.deps.vod.get_ai_image_jobs(region, ids, timeout=timeout))
        except ApiError as exc:
            self._error(exc, "GetAIImageJobs", region, jobs)
            return
        listed = answer.get("AIImageJobList") if isinstance(answer, dict) else None
        found = {}
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, dict) and item.get("JobId"):
                found[str(item["JobId"])] = item
        for job in jobs:
            item = found.get(job.job_id)
            if item is None:
                self._unknown(job, f"GetAIImageJobs in {region} does not list it")
                continue
            self._seen(job, item.get("Status"), ai_image_result(item, detected_by="poll"))

    def audit_job(self, job: TrackedJob) -> None:
        if not self._time_left([job]):
            return
        try:
            answer = self._call("GetAIMediaAuditJob", job.region,
                                lambda timeout: self.deps.vod.get_ai_media_audit_job(job.region, job.job_id, timeout=timeout))
        except VodApiError as exc:
            if _not_found(exc):
                self._unknown(job, f"GetAIMediaAuditJob in {job.region} answers {exc.code}")
            else:
                self._error(exc, "GetAIMediaAuditJob", job.region, [job])
            return
        except ApiError as exc:
            self._error(exc, "GetAIMediaAuditJob", job.region, [job])
            return
        audit = answer.get("MediaAuditJob") if isinstance(answer, dict) else None
        if not isinstance(audit, dict) or not audit.get("JobId") and not audit.get("Status"):
            self._unknown(job, f"GetAIMediaAuditJob in {job.region} returns no job")
            return
        self._seen(job, audit.get("Status"), audit_result({**audit, "JobId": audit.get("JobId") or job.job_id}, detected_by="poll"))

    # -- what each answer means ----------------------------------------------------------------
    def _seen(self, job: TrackedJob, vod_status: Any, result: Optional[JobResult]) -> None:
        text = None if vod_status is None else str(vod_status)
        if result is None or final_status(text) is None:
            self.deps.tracking.note(job.job_id, vod_status=text, now=self.deps.clock())
            self.record(job, RUNNING, vod_status=text)
            return
        done = tc.publish_completion(job, result, self.deps, deadline=self.deadline, lock_until=self.lock_until)
        state = {tc.PUBLISHED: COMPLETED, tc.REPUBLISHED: COMPLETED, tc.DUPLICATE: DUPLICATE, tc.HELD: HELD}.get(done.status, FAILED)
        status = (done.body or {}).get("Status") or result.status
        self.record(job, state, vod_status=text, status=status, message_id=done.message_id, reason=done.reason)

    def _unknown(self, job: TrackedJob, why: str) -> None:
        now = self.deps.clock()
        age = now - job.submitted_at
        limit = self.deps.settings.tracking_lost_after
        if age < limit:
            self.deps.tracking.note(job.job_id, vod_status=UNKNOWN, now=now)
            self.record(job, UNKNOWN, vod_status=UNKNOWN, reason=f"{why} ({age:.0f} s after it was submitted; "
                        f"given up after {limit:.0f} s)")
            return
        reason = f"{why}, {age:.0f} s after it was submitted (VODAI_TRACKING_LOST_AFTER is {limit:.0f} s)"
        self.deps.tracking.finish(job.job_id, status=LOST, now=now, expires_at=now + self.deps.settings.idempotency_ttl,
                                  reason=reason)
        self.record(job, LOST_STATE, vod_status=UNKNOWN, reason=reason)

    def _error(self, exc: ApiError, action: str, region: str, jobs: List[TrackedJob]) -> None:
        with self._lock:
            self.summary.errors.append({**exc.to_dict(), "Action": action, "Region": region,
                                        "JobIds": [j.job_id for j in jobs]})
        for job in jobs:
            self.record(job, ERROR, reason=f"{action} failed: {exc.code}: {exc.message}")

    # -- calls -----------------------------------------------------------------------------------
    def _time_left(self, jobs: List[TrackedJob]) -> bool:
        if self.budget.allows(CALL_MARGIN):
            return True
        for job in jobs:
            self.record(job, DEFERRED, reason="not checked: the invocation's deadline is near; the next poll checks it first")
        return False

    def _call(self, action: str, region: str, call: Callable[[tuple], dict]) -> dict:
        """``call`` with retries: reads are safe to repeat, so every attempt is a fresh request."""
        s = self.deps.settings

        def attempt(number: int) -> dict:
            with self._lock:
                self.summary.calls[action] = self.summary.calls.get(action, 0) + 1
            return call((s.connect_timeout, self.deadline.bound(s.read_timeout)))

        return retry_call(attempt, self.deps.retry, retryable=is_retryable_api_error, sleep=self.deps.sleep,
                          rand=self.deps.rand, deadline=self.deadline)

    def record(self, job: TrackedJob, state: str, **kw: Any) -> None:
        check = JobCheck(job.job_id, job.action, job.region, state, media_id=job.media_id, **kw)
        with self._lock:
            self.summary.jobs.append(check)
        if state not in (RUNNING, UNKNOWN, DEFERRED):
            _log(check, self.summary.request_id)


def _not_found(exc: VodApiError) -> bool:
    """A not-found answer about the job itself (never about the caller's AccessKey or the action)."""
    code = (exc.code or "").lower()
    if code.startswith(("invalidaccesskeyid", "invalidaction", "forbidden", "signature", "invalidtimestamp")):
        return False
    return any(word in code for word in ("notexist", "notfound", "nonexist", "nosuch")) or (
        exc.status == 404 and "job" in code)


def _log_run(summary: PollSummary) -> None:
    """The run's one summary line: what it checked and the backlog it left (a WARNING when it left one)."""
    doc = {"time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
           "level": "WARNING" if summary.backlog else "INFO", "logger": "vodai.tracking", "Event": "PollDone",
           "fcRequestId": summary.request_id, "Checked": summary.pending, **summary.progress(),
           "Calls": dict(summary.calls), "Counts": summary.counts()}
    outcome_logger().log(logging.WARNING if summary.backlog else logging.INFO,
                         json.dumps(doc, ensure_ascii=False, separators=(",", ":")))


def _log(check: JobCheck, request_id: Optional[str]) -> None:
    doc = {"time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
           "level": "WARNING" if check.state in (FAILED, ERROR, LOST_STATE) else "INFO", "logger": "vodai.tracking",
           "fcRequestId": request_id, **check.to_dict()}
    outcome_logger().log(logging.WARNING if doc["level"] == "WARNING" else logging.INFO,
                         json.dumps(doc, ensure_ascii=False, separators=(",", ":")))


__all__ = ["COMPLETED", "DEFERRED", "DUPLICATE", "ERROR", "FAILED", "HELD", "JobCheck", "LOST_STATE", "PollSummary",
           "RUNNING", "STATES", "UNKNOWN", "UNSUPPORTED", "poll_once"]
