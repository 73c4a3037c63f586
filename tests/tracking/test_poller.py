"""Polling: pending jobs asked about in batches of at most ten per region (GetAIImageJobs) or one by
one (GetAIMediaAuditJob), against the in-process emulator; finished jobs get one completion message,
unknown old ones are lost, calls are retried inside the deadline."""

from __future__ import annotations

import json

from vodai.emulator import FaultRule
from vodai.tracking import FAIL, LOST, PENDING, SUCCESS, TrackedJob
from vodai.tracking.completion import notify_key

from .helpers import TOPIC, harness


def _calls(h, action="GetAIImageJobs"):
    return [r for r in h.backend.requests_log() if r["action"] == action and r["status"] == 200]


def _upload_spaced(h, media, region, count):
    """Uploads one second apart on the harness clock, so 'oldest first' is well defined."""
    ids = []
    for _ in range(count):
        [outcome] = h.upload(media, region)
        assert outcome.status == "submitted", outcome.reason
        ids.append(outcome.job_id)
        h.clock.advance(1)
    return ids


def test_23_pending_jobs_in_one_region_are_three_calls_of_10_10_3():
    h = harness(tracking_concurrency=1)  # one lookup at a time: the calls in the order the jobs wait
    h.backend.set_lifecycle("SubmitAIImageJob", "after_queries=1")  # the first query sees Processing
    shanghai = _upload_spaced(h, "video", "cn-shanghai", 23)
    beijing = _upload_spaced(h, "video", "cn-beijing", 2)

    first = h.poll()
    calls = _calls(h)
    asked = [(r["region"], r["params"]["JobIds"].split(",")) for r in calls]
    assert [(region, len(ids)) for region, ids in asked] == [("cn-shanghai", 10), ("cn-shanghai", 10),
                                                             ("cn-shanghai", 3), ("cn-beijing", 2)]
    assert [i for region, ids in asked if region == "cn-shanghai" for i in ids] == shanghai  # oldest first, each once
    assert asked[3][1] == beijing
    assert first.counts() == {"running": 25} and first.calls == {"GetAIImageJobs": 4}
    assert h.completions() == [] and all(j.vod_status == "Processing" for j in h.deps.tracking.jobs())

    second = h.poll()
    assert second.counts() == {"completed": 25} and len(_calls(h)) == 8
    done = h.completions()
    assert sorted(m["JobId"] for m in done) == sorted(shanghai + beijing)
    assert {m["Tag"] for m in done} == {"AIImageJobDone"} and {m["Status"] for m in done} == {"success"}
    assert all(m["ResultSummary"]["Images"] >= 1 and m["ResultSummary"]["Best"] for m in done)
    assert {j.status for j in h.deps.tracking.jobs()} == {SUCCESS} and h.deps.tracking.pending(100) == []

    third = h.poll()  # nothing pending: nothing asked, nothing published
    assert third.pending == 0 and third.jobs == [] and len(_calls(h)) == 8 and len(h.completions()) == 25


def test_a_bounded_poll_checks_the_least_recently_seen_first():
    h = harness(tracking_concurrency=1)
    h.backend.set_lifecycle("SubmitAIImageJob", "after_queries=1")
    ids = _upload_spaced(h, "video", "cn-shanghai", 23)
    asked = []
    for _ in range(3):
        before = len(_calls(h))
        h.poll(limit=10)
        h.clock.advance(1)
        asked.append([i for r in _calls(h)[before:] for i in r["params"]["JobIds"].split(",")])
    assert asked[0] == ids[:10] and asked[1] == ids[10:20]
    assert asked[2] == ids[20:] + ids[:7]  # the never-checked ones, then those seen longest ago
    assert len(h.completions()) == 7  # the first ten finished on their second query


def test_audit_jobs_are_read_with_get_ai_media_audit_job():
    h = harness()
    h.backend.set_lifecycle("SubmitAIImageAuditJob", "after_queries=1", suggestion="block")
    h.backend.set_lifecycle("SubmitAIImageJob", "at_once", outcome="fail", code="InvalidVideo.Damaged",
                            message="The video is damaged.")
    [audit_id] = _upload_spaced(h, "image", "ap-southeast-1", 1)
    [video_id] = _upload_spaced(h, "video", "cn-beijing", 1)
    first = h.poll()
    assert {c.job_id: c.state for c in first.jobs} == {audit_id: "running", video_id: "completed"}
    second = h.poll()
    assert {c.job_id: c.state for c in second.jobs} == {audit_id: "completed"}
    assert [r["params"]["JobId"] for r in _calls(h, "GetAIMediaAuditJob")] == [audit_id, audit_id]
    by_id = {m["JobId"]: m for m in h.completions()}
    audit, video = by_id[audit_id], by_id[video_id]
    assert audit["Tag"] == "AIAuditJobDone" and audit["Status"] == "success" and audit["MediaType"] == "image"
    assert audit["ResultSummary"]["Suggestion"] == "block" and audit["ResultSummary"]["Suggestions"] == {"block": 1}
    assert (video["Status"], video["Code"], video["Message"]) == ("fail", "InvalidVideo.Damaged", "The video is damaged.")
    tracked = h.deps.tracking.get(video_id)
    assert (tracked.status, tracked.code, tracked.completion_message_id) == (FAIL, "InvalidVideo.Damaged", video["Id"])


def test_jobs_vod_does_not_know_are_lost_only_when_old():
    h = harness(tracking_lost_after=600)
    for job_id, action, region in (("ghost-ai", "SubmitAIImageJob", "cn-shanghai"),
                                   ("ghost-audit", "SubmitAIImageAuditJob", "ap-southeast-1")):
        h.deps.tracking.track(TrackedJob(job_id, action, region, media_id="m", submitted_at=h.clock()), now=h.clock())
    h.clock.advance(599)
    young = h.poll()
    assert young.counts() == {"unknown": 2}
    assert {j.status for j in h.deps.tracking.jobs()} == {PENDING}
    assert {j.vod_status for j in h.deps.tracking.jobs()} == {"unknown"}
    h.clock.advance(2)
    old = h.poll()
    assert old.counts() == {"lost": 2}
    reasons = {c.job_id: c.reason for c in old.jobs}
    assert "GetAIImageJobs in cn-shanghai does not list it" in reasons["ghost-ai"] and "600" in reasons["ghost-ai"]
    assert "GetAIMediaAuditJob in ap-southeast-1 returns no job" in reasons["ghost-audit"]
    for job in h.deps.tracking.jobs():
        assert job.status == LOST and job.reason == reasons[job.job_id]
    assert h.completions() == [] and h.deps.tracking.pending(10) == []  # lost: not published, not polled again


def test_throttling_is_retried_with_backoff_inside_the_poll():
    h = harness()
    h.backend.set_lifecycle("SubmitAIImageJob", "at_once")
    ids = _upload_spaced(h, "video", "cn-shanghai", 3)
    h.backend.faults.add(FaultRule("GetAIImageJobs", "error", code="Throttling.User", status=400, times=2))
    summary = h.poll()
    assert summary.calls == {"GetAIImageJobs": 3} and len(h.slept) == 2
    assert summary.counts() == {"completed": 3} and summary.errors == []
    assert sorted(m["JobId"] for m in h.completions()) == sorted(ids)


def test_a_permanent_error_leaves_the_jobs_pending_and_says_so():
    h = harness()
    ids = _upload_spaced(h, "video", "cn-shanghai", 2)
    h.backend.faults.add(FaultRule("GetAIImageJobs", "error", code="Forbidden.RAM", status=403))
    summary = h.poll()
    assert summary.counts() == {"error": 2} and summary.calls == {"GetAIImageJobs": 1} and h.slept == []
    [error] = summary.errors
    assert error["Code"] == "Forbidden.RAM" and error["JobIds"] == ids and error["Region"] == "cn-shanghai"
    assert summary.all_calls_failed and h.completions() == []
    assert [j.status for j in h.deps.tracking.jobs()] == [PENDING, PENDING]
    text = json.dumps(summary.to_dict())
    assert "tracking-secret" not in text and "tracking-sts-token" not in text


def test_no_call_starts_when_the_deadline_is_near():
    h = harness()
    _upload_spaced(h, "video", "cn-shanghai", 12)
    _upload_spaced(h, "image", "ap-southeast-1", 1)
    before = len(h.backend.requests_log())
    summary = h.poll(started=h.clock() - 59.5)  # FC's default 60 s timeout is almost used up
    assert summary.counts() == {"deferred": 13} and summary.calls == {}
    assert (summary.stopped, summary.backlog) == ("budget", 13)
    assert len(h.backend.requests_log()) == before
    assert not summary.all_calls_failed


class CaseVod:
    """VOD answering with statuses in any case (a fake client passed in through Dependencies)."""

    def __init__(self, statuses):
        self.statuses = statuses
        self.asked = []

    def get_ai_image_jobs(self, region, job_ids, *, timeout=None):
        self.asked.append(("GetAIImageJobs", region, list(job_ids)))
        return {"AIImageJobList": [{"JobId": i, "Status": self.statuses[i], "Code": "c", "Message": "m",
                                    "AIImageResult": '[{"Score":"7.5","Url":"http://x/1.gif"}]'} for i in job_ids]}

    def get_ai_media_audit_job(self, region, job_id, *, timeout=None):
        self.asked.append(("GetAIMediaAuditJob", region, job_id))
        return {"MediaAuditJob": {"JobId": job_id, "Status": self.statuses[job_id], "Data": {"Suggestion": "pass"}}}


def test_statuses_are_read_case_insensitively():
    h = harness()
    statuses = {"a": "SUCCESS", "b": "Failed", "c": "init", "d": "Processing", "e": "Success"}
    for job_id in "abcd":
        h.deps.tracking.track(TrackedJob(job_id, "SubmitAIImageJob", "cn-shanghai", submitted_at=h.clock()), now=h.clock())
    h.deps.tracking.track(TrackedJob("e", "SubmitAIImageAuditJob", "ap-southeast-1", submitted_at=h.clock()), now=h.clock())
    h.deps.tracking.track(TrackedJob("f", "SubmitSomethingElse", "cn-shanghai", submitted_at=h.clock()), now=h.clock())
    vod = CaseVod(statuses)
    summary = h.poll(h.with_deps(vod=vod))
    assert {c.job_id: c.state for c in summary.jobs} == {
        "a": "completed", "b": "completed", "c": "running", "d": "running", "e": "completed", "f": "unsupported"}
    assert {m["JobId"]: m["Status"] for m in h.completions()} == {"a": "success", "b": "fail", "e": "success"}
    assert vod.asked[0] == ("GetAIImageJobs", "cn-shanghai", ["a", "b", "c", "d"])
    assert h.deps.tracking.get("c").vod_status == "init"


def test_a_failed_publish_is_published_by_the_next_poll_from_the_saved_message():
    h = harness(callback_topic="not-yet")
    h.backend.set_lifecycle("SubmitAIImageJob", "at_once")
    h.backend.create_topic("not-yet")
    [job_id] = _upload_spaced(h, "video", "cn-shanghai", 1)
    h.backend.faults.add(FaultRule("PublishMessage", "error", code="TopicNotExist", status=404, times=1))
    first = h.poll()
    [check] = first.jobs
    assert check.state == "failed" and "TopicNotExist" in check.reason
    saved = h.deps.store.get(notify_key(h.deps.settings.namespace, job_id))
    assert saved.status == "SUBMITTED" and json.loads(saved.message)["JobId"] == job_id
    assert h.deps.tracking.get(job_id).status == PENDING
    h.clock.advance(30)
    second = h.poll()
    assert [c.state for c in second.jobs] == ["completed"]
    done = [json.loads(m["MessageBody"]) for m in h.backend.topic_messages("not-yet") if m["MessageTag"] == "AIImageJobDone"]
    assert done == [json.loads(saved.message)]  # the very message saved before the failed publish
    assert h.deps.tracking.get(job_id).status == SUCCESS
    assert h.backend.topic_messages(TOPIC) == []  # everything went to the configured topic
