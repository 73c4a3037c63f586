"""Job lifecycle: schedules (at once, after N queries, after T seconds, never), outcomes and
failures, the spec grammar, and deterministic results. No timing: a frozen clock, query counts."""

from __future__ import annotations

import json
import random
from urllib.parse import urlsplit

import pytest

from vodai.emulator import Clock, EmulatorBackend, LifecycleRule, LifecycleSpecError

from .helpers import get_audit, get_jobs, submit_audit, submit_job

# -- schedules -------------------------------------------------------------------------------


def test_default_is_one_processing_query_then_success(session, backend: EmulatorBackend):
    job_id = submit_job(session)

    assert [j["Status"] for j in get_jobs(session, job_id)] == ["Processing"]
    (done,) = get_jobs(session, job_id)
    assert (done["Status"], done["Code"], done["Message"]) == ("success", "Success", "success")
    assert json.loads(done["AIImageResult"])
    assert backend.get_job(job_id)["QueryCount"] == 2


def test_at_once_finishes_before_the_submit_returns(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageJob", "at_once")
    job_id = submit_job(session)

    assert backend.get_job(job_id)["Status"] == "success"  # before any query
    assert get_jobs(session, job_id)[0]["Status"] == "success"


@pytest.mark.parametrize("n", [0, 1, 3])
def test_after_n_queries(session, backend: EmulatorBackend, n: int):
    backend.set_lifecycle("SubmitAIImageJob", f"after_queries={n}")
    job_id = submit_job(session)

    statuses = [get_jobs(session, job_id)[0]["Status"] for _ in range(n + 2)]

    assert statuses == ["Processing"] * n + ["success", "success"]


def test_queries_count_per_job(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageJob", "after_queries=1")
    first, second = submit_job(session), submit_job(session)

    get_jobs(session, first)  # only the first job is queried
    listed = get_jobs(session, first, second)

    assert [j["Status"] for j in listed] == ["success", "Processing"]


def test_after_seconds_follows_the_emulator_clock(session, backend: EmulatorBackend, clock: Clock):
    backend.set_lifecycle("SubmitAIImageJob", "after_seconds=30")
    job_id = submit_job(session)

    backend.advance(29.9)
    assert get_jobs(session, job_id)[0]["Status"] == "Processing"
    assert backend.advance(0.1) == 1  # one job finished
    (job,) = get_jobs(session, job_id)
    assert job["Status"] == "success"
    assert backend.get_job(job_id)["CompleteTime"] == _utc(clock.now())


def test_after_seconds_needs_no_query(backend: EmulatorBackend, clock: Clock, session):
    backend.set_lifecycle("SubmitAIImageAuditJob", "after_seconds=5")
    job_id = submit_audit(session)

    backend.advance(5)

    assert backend.get_job(job_id)["Status"] == "success"
    assert backend.get_job(job_id)["QueryCount"] == 0


def test_never_stays_processing(session, backend: EmulatorBackend, clock: Clock):
    backend.set_lifecycle("*", "never")
    job_id = submit_job(session)
    backend.advance(10**6)
    assert [get_jobs(session, job_id)[0]["Status"] for _ in range(5)] == ["Processing"] * 5


def test_a_rule_applies_to_jobs_submitted_after_it(session, backend: EmulatorBackend):
    before = submit_job(session)  # default: after_queries=1
    backend.set_lifecycle("SubmitAIImageJob", "at_once")
    after = submit_job(session)

    assert [j["Status"] for j in get_jobs(session, before, after)] == ["Processing", "success"]


# -- outcomes --------------------------------------------------------------------------------


def test_failure_with_code_and_message(session, backend: EmulatorBackend):
    backend.set_lifecycle(
        "SubmitAIImageJob", "at_once", outcome="fail", code="InvalidVideo.Damaged", message="broken file"
    )
    (job,) = get_jobs(session, submit_job(session))
    assert (job["Status"], job["Code"], job["Message"], job["AIImageResult"]) == (
        "fail", "InvalidVideo.Damaged", "broken file", ""
    )


def test_failure_has_a_default_code(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageJob:at_once,outcome=fail")
    (job,) = get_jobs(session, submit_job(session))
    assert (job["Status"], job["Code"]) == ("fail", "ProcessFailed")
    assert job["Message"]


def test_audit_failure(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageAuditJob", "at_once", outcome="fail", code="AuditFailed")
    job = get_audit(session, submit_audit(session))["MediaAuditJob"]
    assert (job["Status"], job["Code"], job["Data"]) == ("fail", "AuditFailed", {})


def test_failure_probability_draws_from_the_seeded_rng(session, backend: EmulatorBackend):
    backend.seed(1234)
    backend.set_lifecycle("SubmitAIImageJob", "at_once", fail_probability=0.5)
    ids = [submit_job(session) for _ in range(20)]

    statuses = [backend.get_job(i)["Status"] for i in ids]

    draws = random.Random(1234)  # the same draws, in submit order
    assert statuses == ["fail" if draws.random() < 0.5 else "success" for _ in ids]
    assert {"fail", "success"} == set(statuses)


def test_same_seed_same_failures(session, backend: EmulatorBackend):
    def run() -> list[str]:
        backend.reset()
        backend.seed(99)
        return [backend.get_job(submit_job(session))["Status"] for _ in range(12)]

    backend.set_lifecycle("*", "at_once", fail_probability=0.3)
    assert run() == run()


def test_star_sets_both_actions(session, backend: EmulatorBackend):
    rules = backend.set_lifecycle("*:after_queries=2,suggestion=block")
    assert [r.action for r in rules] == ["SubmitAIImageJob", "SubmitAIImageAuditJob"]
    assert [r.suggestion for r in rules] == [None, "block"]  # suggestion is for audits only
    assert all(r.queries == 2 for r in backend.lifecycle.rules())


def test_lifecycle_reset_restores_the_default(backend: EmulatorBackend):
    backend.set_lifecycle("*", "never")
    backend.lifecycle.reset()
    assert [r.spec() for r in backend.lifecycle.rules()] == [
        "SubmitAIImageJob:after_queries=1,outcome=success",
        "SubmitAIImageAuditJob:after_queries=1,outcome=success",
    ]


# -- the spec grammar ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("SubmitAIImageJob:after_queries=2", {"schedule": "after_queries", "queries": 2}),
        ("SubmitAIImageAuditJob:after_seconds=1.5,suggestion=review",
         {"schedule": "after_seconds", "seconds": 1.5, "suggestion": "review"}),
        ("SubmitAIImageJob:at_once,outcome=fail,code=X.Y,message=no luck",
         {"schedule": "at_once", "outcome": "fail", "code": "X.Y", "message": "no luck"}),
        ("*:never,p_fail=0.25", {"schedule": "never", "fail_probability": 0.25}),
        ('{"action": "SubmitAIImageJob", "schedule": "at_once", "message": "a, b"}',
         {"schedule": "at_once", "message": "a, b"}),
    ],
)
def test_spec_parsing(spec: str, expected: dict):
    rule = LifecycleRule.parse(spec)
    assert {k: getattr(rule, k) for k in expected} == expected
    assert LifecycleRule.parse(rule.spec()) == rule or "," in (rule.message or "")
    assert LifecycleRule.from_dict(rule.to_dict()) == rule


@pytest.mark.parametrize(
    "spec",
    [
        "SubmitAIImageJob",
        "DeleteVideo:at_once",
        "SubmitAIImageJob:at_once,never",
        "SubmitAIImageJob:after_queries=-1",
        "SubmitAIImageJob:after_queries=x",
        "SubmitAIImageJob:after_seconds=-2",
        "SubmitAIImageJob:outcome=maybe",
        "SubmitAIImageJob:p_fail=2",
        "SubmitAIImageJob:suggestion=block",
        "SubmitAIImageAuditJob:suggestion=ok",
        "SubmitAIImageJob:code=has space",
        "SubmitAIImageJob:colour=red",
        '{"action": "SubmitAIImageJob", "extra": 1}',
    ],
)
def test_bad_specs_are_refused(spec: str):
    with pytest.raises(LifecycleSpecError):
        LifecycleRule.parse(spec)


def test_set_lifecycle_keeps_unnamed_fields(backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageJob", "at_once", outcome="fail", code="C1")
    (rule,) = backend.set_lifecycle("SubmitAIImageJob", "after_queries=3")
    assert (rule.schedule, rule.queries, rule.outcome, rule.code) == ("after_queries", 3, "fail", "C1")
    (rule,) = backend.set_lifecycle("SubmitAIImageJob", outcome="success")
    assert (rule.outcome, rule.code) == ("success", None)


# -- results ---------------------------------------------------------------------------------


def test_ai_image_result_is_on_the_media_oss_host(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageJob", "at_once")
    media = backend.add_media("video", "cn-beijing")
    (job,) = get_jobs(session, submit_job(session, VideoId=media["MediaId"], RegionId="cn-beijing"), region="cn-beijing")

    images = json.loads(job["AIImageResult"])
    assert 1 <= len(images) <= 3
    host = urlsplit(media["FileUrl"]).netloc
    assert host.endswith(".oss-cn-beijing.aliyuncs.com")
    for image in images:
        assert set(image) == {"Score", "Url"}
        assert isinstance(image["Score"], float)
        url = urlsplit(image["Url"])
        assert url.netloc == host
        assert url.path.startswith(f"/{media['MediaId']}/image/ai/") and url.path.endswith(".gif")
    assert [i["Score"] for i in images] == sorted((i["Score"] for i in images), reverse=True)


def test_results_depend_on_the_seed_and_the_media_only(session):
    def result(seed: int, video_id: str) -> str:
        other = EmulatorBackend(verify_signatures=False, seed=seed)
        other.set_lifecycle("*", "at_once")
        job = other.submit_job("SubmitAIImageJob", {"JobId": "j", "Type": "AIImage", "Region": "cn-shanghai",
                                                    "Status": "Processing", "VideoId": video_id, "TemplateId": "t"})
        return job["AIImageResult"]

    assert result(7, "v1") == result(7, "v1")
    assert len({result(7, "v1"), result(8, "v1"), result(7, "v2")}) == 3


def test_audit_data_shape(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageAuditJob", "at_once", suggestion="block")
    media = backend.add_media("image", "ap-southeast-1")
    job = get_audit(session, submit_audit(session, MediaId=media["MediaId"]))["MediaAuditJob"]

    data = job["Data"]
    assert (data["Suggestion"], data["AbnormalModules"]) == ("block", "image-cover")
    assert data["Label"] in ("porn", "terrorism", "ad", "live", "logo")
    (image,) = data["ImageResult"]
    assert (image["Url"], image["Type"], image["Suggestion"], image["Label"]) == (
        media["FileUrl"], "cover", "block", data["Label"]
    )
    scenes = {r["Scene"]: r for r in image["Result"]}
    assert set(scenes) == {"porn", "terrorism", "ad", "live", "logo"}
    hit = scenes[data["Label"]]
    assert hit["Suggestion"] == "block" and hit["Label"] != "normal" and float(hit["Score"]) >= 90
    assert all(r["Suggestion"] == "pass" and r["Label"] == "normal" for s, r in scenes.items() if s != data["Label"])
    assert all(isinstance(r["Score"], str) for r in image["Result"])  # strings, as VOD sends them
    assert (data["AudioResult"], data["TextResult"]) == ([], [])


def test_audit_pass_is_all_normal(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageAuditJob", "at_once", suggestion="pass")
    data = get_audit(session, submit_audit(session))["MediaAuditJob"]["Data"]
    assert (data["Suggestion"], data["Label"], data["AbnormalModules"]) == ("pass", "normal", "")
    assert {r["Label"] for r in data["ImageResult"][0]["Result"]} == {"normal"}


def test_drawn_suggestions_repeat_with_the_seed(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageAuditJob", "at_once")
    backend.seed(5)

    def suggestions() -> list[str]:
        return [get_audit(session, submit_audit(session, MediaId=f"img-{i}"))["MediaAuditJob"]["Data"]["Suggestion"]
                for i in range(30)]

    first = suggestions()
    assert suggestions() == first
    assert "pass" in first and set(first) <= {"pass", "review", "block"}


def _utc(epoch: float) -> str:
    from vodai.emulator.backend import utc_timestamp

    return utc_timestamp(epoch)
