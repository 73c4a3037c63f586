"""One completion message per finished job: AIMediaAuditComplete events (redelivered, concurrent)
and polls race for it; a crash between saving the message and publishing it is recovered with the
very same message; jobs vodai never submitted are left alone."""

from __future__ import annotations

import json
import threading

import pytest

from _redis import redis_server
from vodai.events.models import AIMediaAuditComplete, parse_event
from vodai.exceptions import EventError
from vodai.idempotency import COMPLETED, SUBMITTED, open_store
from vodai.pipeline import COMPLETED as OUT_COMPLETED
from vodai.pipeline import DEAD_LETTERED, FAILED, FINAL, PLANNED, SKIPPED, SUBMITTED as OUT_SUBMITTED, dispatch, plan
from vodai.routing import DEFAULT_TABLE, decide
from vodai.routing.decision import Complete
from vodai.tracking import LOST, PENDING, SUCCESS, TrackedJob, TrackingError, open_tracking
from vodai.tracking.completion import completion_tag, notify_key

from .helpers import TOPIC, harness, settings


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


def _audit_job(h):
    h.backend.set_lifecycle("SubmitAIImageAuditJob", "at_once", suggestion="review")
    [outcome] = h.upload("image", "ap-southeast-1")
    assert outcome.status == OUT_SUBMITTED
    return outcome.job_id, h.audit_event(outcome.job_id)


def _stores(kind, tmp_path, request):
    """Separate store objects (connections) on one place, as separate processes would have."""
    if kind == "memory":
        store, tracking = open_store("memory://"), open_tracking("memory://")
        return lambda: (store, tracking)
    url = f"sqlite:///{tmp_path}/state.sqlite3" if kind == "sqlite" else request.getfixturevalue("redis_url")
    if kind == "redis":
        import redis

        redis.Redis.from_url(url).flushdb()
    if kind == "sqlite":  # a connection of its own for each, as another process has (not the process's shared one)
        from vodai.idempotency.backends.sqlite import SqliteStore
        from vodai.tracking.backends.sqlite import SqliteTracking

        path = str(tmp_path / "state.sqlite3")
        return lambda: (SqliteStore(path, shared=False), SqliteTracking(path, shared=False))
    return lambda: (open_store(url), open_tracking(url))


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_three_deliveries_and_a_concurrent_poll_publish_one_message(kind, tmp_path, request):
    opener = _stores(kind, tmp_path, request)
    store, tracking = opener()
    h = harness(store=store, tracking=tracking)
    job_id, event = _audit_job(h)
    workers = []
    for _ in range(4):
        s, t = opener()
        workers.append(harness(store=s, tracking=t, backend=h.backend, clock=h.clock))
    barrier, outcomes, polls = threading.Barrier(4), [], []

    def deliver(w):
        barrier.wait()
        outcomes.append(w.deliver(event))

    def poll(w):
        barrier.wait()
        polls.append(w.poll())

    threads = [threading.Thread(target=deliver, args=(w,)) for w in workers[:3]]
    threads.append(threading.Thread(target=poll, args=(workers[3],)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A delivery that lost the race is failed (VODAI_CONCURRENT_DUPLICATES=fail): MNS delivers it again.
    for _ in range(3):
        outcomes = [o if o.status != FAILED else workers[0].deliver(event) for o in outcomes]
    statuses = sorted(o.status for o in outcomes)
    [poll_summary] = polls
    published = statuses.count(OUT_COMPLETED) + poll_summary.counts().get("completed", 0)
    [message] = h.completions()
    assert published == 1, (statuses, poll_summary.counts())
    assert all(s in FINAL for s in statuses)
    assert message["JobId"] == job_id and message["Tag"] == "AIAuditJobDone" and message["Status"] == "success"
    for o in outcomes:
        if o.status == SKIPPED:
            assert o.duplicate and o.message_id in (None, message["Id"])
    tracked = tracking.get(job_id)
    assert (tracked.status, tracked.completion_message_id) == (SUCCESS, message["Id"])
    assert store.get(notify_key(h.deps.settings.namespace, job_id)).status == COMPLETED
    # Later deliveries and polls change nothing.
    assert h.deliver(event).status == SKIPPED and h.poll().jobs == [] and len(h.completions()) == 1


def test_redelivered_events_in_a_row():
    h = harness()
    job_id, event = _audit_job(h)
    first, second, third = (h.deliver(event) for _ in range(3))
    assert (first.status, first.action, first.template_id, first.media_type, first.region) == (
        OUT_COMPLETED, "SubmitAIImageAuditJob", "tpl-audit", "image", "ap-southeast-1")
    assert "AIAuditJobDone" in first.reason
    for again in (second, third):
        assert again.status == SKIPPED and again.duplicate and again.message_id == first.message_id
    assert h.poll().pending == 0
    [message] = h.completions()
    assert message["Id"] == first.message_id and message["DetectedBy"] == "event"
    assert message["ResultSummary"]["Suggestion"] == "review"


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in vodai catches it)."""


class CrashingPublisher:
    def __init__(self, real):
        self.real = real

    def publish(self, topic, body, tag=None, *, timeout=None):
        if tag == completion_tag("SubmitAIImageAuditJob"):
            raise Crash()
        return self.real.publish(topic, body, tag, timeout=timeout)


@pytest.mark.parametrize("recovered_by", ["event", "poll"])
def test_a_crash_between_saving_and_publishing_publishes_the_saved_message_once(recovered_by):
    h = harness()
    job_id, event = _audit_job(h)
    with pytest.raises(Crash):
        h.deliver(event, deps=h.with_deps(publisher=CrashingPublisher(h.deps.publisher)))
    saved = h.deps.store.get(notify_key(h.deps.settings.namespace, job_id))
    assert saved.status == SUBMITTED and json.loads(saved.message)["JobId"] == job_id
    assert h.completions() == [] and h.deps.tracking.get(job_id).status == PENDING
    # While the dead invocation's lock lasts, the others keep off (and say so).
    held = h.deliver(event)
    assert held.status == FAILED and "another invocation" in held.reason
    assert [c.state for c in h.poll().jobs] == ["held"] and h.completions() == []
    h.clock.advance(62)  # FC's timeout (60 s) + 1 has passed: the lock ran out
    if recovered_by == "event":
        out = h.deliver(event)
        assert out.status == OUT_COMPLETED and out.republished
    else:
        assert [c.state for c in h.poll().jobs] == ["completed"]
    [message] = h.completions()
    assert {k: v for k, v in message.items() if k not in ("Tag", "Id")} == json.loads(saved.message)
    assert h.deps.tracking.get(job_id).completion_message_id == message["Id"]
    assert h.deliver(event).status == SKIPPED and h.poll().jobs == [] and len(h.completions()) == 1


def test_a_job_vodai_did_not_submit_is_skipped_with_a_reason():
    h = harness()
    foreign = {"EventType": "AIMediaAuditComplete", "JobId": "someone-elses-job", "MediaId": "img-9", "Status": "success",
               "Code": "0", "Message": "OK", "EventTime": "2024-04-10T01:37:14:627Z", "Data": {"Suggestion": "pass"}}
    out = h.deliver(foreign)
    assert out.status == SKIPPED and "not a job vodai submitted" in out.reason and out.job_id == "someone-elses-job"
    assert h.completions() == [] and h.deps.tracking.jobs() == []


def test_a_job_submitted_before_tracking_existed_still_gets_its_message():
    h = harness()
    h.backend.set_lifecycle("SubmitAIImageAuditJob", "at_once")
    untracked = h.with_deps(tracking=None)  # the pipeline as it was before tracking
    from vodai.events import samples

    raw = samples.wrap(samples.body("image", region="ap-southeast-1", media_id="img-old"), "raw")
    [submitted] = dispatch(raw, untracked, context=h.context).outcomes
    assert submitted.status == OUT_SUBMITTED and h.deps.tracking.jobs() == []
    event = h.audit_event(submitted.job_id)
    event["Data"] = json.dumps(event["Data"])  # Data as a JSON string, read too
    out = h.deliver(event)
    assert out.status == OUT_COMPLETED
    [message] = h.completions()
    assert (message["JobId"], message["MediaId"], message["Region"], message["TemplateId"], message["MediaType"]) == (
        submitted.job_id, "img-old", "ap-southeast-1", "tpl-audit", "image")
    assert message["ResultSummary"]["Images"] == 1
    assert h.deps.tracking.get(submitted.job_id).status == SUCCESS  # tracked from now on
    assert h.deliver(event).status == SKIPPED and len(h.completions()) == 1


def test_an_event_ends_a_job_given_up_as_lost():
    h = harness()
    job_id, event = _audit_job(h)
    h.deps.tracking.finish(job_id, status=LOST, now=h.clock(), expires_at=h.clock() + 60, reason="not known")
    assert h.deliver(event).status == OUT_COMPLETED
    assert h.deps.tracking.get(job_id).status == SUCCESS and len(h.completions()) == 1


def test_an_unfinished_status_is_skipped():
    h = harness()
    job_id, event = _audit_job(h)
    out = h.deliver({**event, "Status": "Processing"})
    assert out.status == SKIPPED and "not finished" in out.reason and h.completions() == []


def test_a_permanent_publish_error_dead_letters_the_event_and_keeps_the_message():
    h = harness()
    job_id, event = _audit_job(h)
    from vodai.emulator import FaultRule

    h.backend.faults.add(FaultRule("PublishMessage", "error", code="TopicNotExist", status=404, times=1))
    out = h.deliver(event)
    assert out.status == DEAD_LETTERED and out.error["Code"] == "TopicNotExist" and out.dead_letter_id
    assert h.deps.store.get(notify_key(h.deps.settings.namespace, job_id)).status == SUBMITTED
    assert h.deliver(event).status == OUT_COMPLETED and len(h.completions()) == 1  # the replay publishes it


def test_the_completion_message():
    h = harness()
    job_id, event = _audit_job(h)
    event["EventTime"] = "2024-04-10T01:37:14:627Z"
    h.deliver({**event, "CompleteTime": "2024-04-10T01:37:10Z"})
    [message] = h.completions()
    required = {"Event", "JobId", "Action", "Status", "Code", "Message", "MediaId", "MediaType", "Region", "TemplateId",
                "ResultSummary", "SubmittedAt", "CompletedAt"}
    assert required <= set(message) and message["Event"] == "JobCompleted"
    assert message["CompletedAt"] == "2024-04-10T01:37:10Z"  # VOD's CompleteTime when given
    assert (message["Code"], message["Message"]) == ("0", "OK")
    summary = message["ResultSummary"]
    assert summary["Type"] == "AIImageAudit" and summary["Suggestions"] == {"review": 1} and summary["Top"]
    for action in ("SubmitAIImageJob", "SubmitAIImageAuditJob", "SubmitAnythingElse"):
        assert len(completion_tag(action)) <= 16
    assert completion_tag("SubmitAIImageJob") != completion_tag("SubmitAIImageAuditJob")


# -- the event, the decision, the outcome -----------------------------------------------------------

def test_the_audit_event_is_a_model_of_its_own():
    body = {"EventType": "AIMediaAuditComplete", "JobId": "j", "MediaId": "m", "Status": "success", "Code": 0,
            "Message": "OK", "Data": '{"Suggestion": "block"}', "EventTime": "2024-04-10T01:37:14:627Z"}
    event = parse_event(body)
    assert isinstance(event, AIMediaAuditComplete)
    assert (event.job_id, event.media_id, event.code, event.data, event.media_type) == ("j", "m", "0", {"Suggestion": "block"}, None)
    assert parse_event({**body, "Data": "not json"}).data == "not json"
    with pytest.raises(EventError) as info:
        parse_event({k: v for k, v in body.items() if k != "JobId"})
    assert info.value.field == "JobId"
    decision = decide(event, region=None, table=DEFAULT_TABLE, settings=settings())
    assert decision == Complete("j", "m", "AIMediaAuditComplete") and "JobId j" in decision.reason


def test_a_malformed_audit_event_is_dead_lettered_naming_the_field():
    h = harness()
    out = h.deliver({"EventType": "AIMediaAuditComplete", "MediaId": "m", "Status": "success"})
    assert out.status == DEAD_LETTERED and "JobId" in out.reason


def test_a_dry_run_plans_the_completion_and_completed_is_final():
    raw = json.dumps({"EventType": "AIMediaAuditComplete", "JobId": "j", "MediaId": "m", "Status": "success"}).encode()
    [out] = plan(raw, settings=settings(), routes=DEFAULT_TABLE).outcomes
    assert out.status == PLANNED and "JobId j" in out.reason and out.job_id == "j"
    assert OUT_COMPLETED in FINAL and FAILED not in FINAL


# -- the pipeline tracks what it submits ---------------------------------------------------------

def test_the_pipeline_tracks_each_job_after_publishing_its_jobid():
    h = harness()
    [out] = h.upload("video", "cn-beijing")
    job = h.deps.tracking.get(out.job_id)
    [jobid_message] = h.messages()
    assert (job.status, job.action, job.region, job.media_id, job.media_type, job.template_id) == (
        PENDING, "SubmitAIImageJob", "cn-beijing", out.media_id, "video", "tpl-ai")
    assert job.submitted_at == h.clock()
    assert job.source == {k: jobid_message[k] for k in ("EventType", "EventTime", "RequestId")}


class BrokenTracking:
    """A tracking store that cannot be written (passed in through Dependencies)."""

    def __init__(self, real):
        self.real, self.broken = real, True

    def track(self, job, *, now):
        if self.broken:
            raise TrackingError("tracking store down")
        return self.real.track(job, now=now)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_job_that_cannot_be_tracked_fails_and_its_redelivery_tracks_it_without_submitting_again():
    h = harness()
    broken = BrokenTracking(h.deps.tracking)
    from vodai.events import samples

    raw = samples.wrap(samples.body("video", region="cn-shanghai", media_id="vid-1"), "raw")
    [first] = dispatch(raw, h.with_deps(tracking=broken), context=h.context).outcomes
    assert first.status == FAILED and "could not be tracked" in first.reason and first.job_id
    broken.broken = False
    [again] = dispatch(raw, h.with_deps(tracking=broken), context=h.context).outcomes
    assert again.status == OUT_SUBMITTED and again.republished and again.job_id == first.job_id
    assert len(h.backend.jobs()) == 1  # paid once
    job = h.deps.tracking.get(first.job_id)
    # Made from the saved message text this time (not from the fields the first invocation built):
    # the same record as the fresh path gives.
    jobid_message = h.messages()[-1]
    assert (job.status, job.action, job.region, job.media_id, job.media_type, job.template_id) == (
        PENDING, "SubmitAIImageJob", "cn-shanghai", "vid-1", "video", "tpl-ai")
    assert job.source == {k: jobid_message[k] for k in ("EventType", "EventTime", "RequestId")}


def test_an_uncertain_audit_submit_is_resolved_by_its_completion_event():
    from vodai.emulator.faults import FaultRule
    from vodai.idempotency import UNCERTAIN

    h = harness()
    h.backend.set_lifecycle("SubmitAIImageAuditJob", "at_once", suggestion="pass")
    h.backend.faults.add(FaultRule(operation="SubmitAIImageAuditJob", kind="lost", times=1))
    [lost] = h.upload("image", "ap-southeast-1")
    assert lost.status == DEAD_LETTERED and "submit outcome unknown" in lost.reason
    [job] = h.backend.jobs()
    prefix = h.deps.settings.namespace
    [record] = h.deps.store.records(prefix, status=UNCERTAIN)

    out = h.deliver(h.audit_event(job["JobId"]))
    assert out.status == OUT_COMPLETED
    [message] = h.completions()
    assert message["JobId"] == job["JobId"]  # the JobId that was never learned is published
    resolved = h.deps.store.get(record.key)
    assert (resolved.status, resolved.job_id) == (COMPLETED, job["JobId"]) and "resolved" in resolved.reason
    assert h.deps.store.records(prefix, status=UNCERTAIN) == []
