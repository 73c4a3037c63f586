"""GetAIImageJobs (batches, unknown ids, regions) and GetAIMediaAuditJob, in process."""

from __future__ import annotations

import pytest

from vodai.emulator import EmulatorBackend

from .helpers import get_audit, get_jobs, submit_audit, submit_job, v1, vod_error

# -- GetAIImageJobs ------------------------------------------------------------------------


def test_ten_ids_in_one_call_keep_their_order(session, backend: EmulatorBackend):
    ids = [submit_job(session, VideoId=f"video-{i}") for i in range(10)]
    listed = get_jobs(session, *reversed(ids))
    assert [j["JobId"] for j in listed] == list(reversed(ids))
    assert [j["VideoId"] for j in listed] == [f"video-{i}" for i in reversed(range(10))]


def test_eleven_ids_are_refused_and_count_no_query(session, backend: EmulatorBackend):
    ids = [submit_job(session) for _ in range(11)]
    body = vod_error(v1(session, {"Action": "GetAIImageJobs", "JobIds": ",".join(ids)}), 400, "InvalidParameter")
    assert "JobIds" in body["Message"]
    assert all(backend.get_job(i)["QueryCount"] == 0 for i in ids)


def test_repeated_ids_count_once(session, backend: EmulatorBackend):
    job_id = submit_job(session)
    # Eleven times the same id is one id: not over the limit, one entry, one query.
    listed = get_jobs(session, *[job_id] * 11)
    assert [j["JobId"] for j in listed] == [job_id]
    assert backend.get_job(job_id)["QueryCount"] == 1


def test_unknown_ids_are_left_out(session):
    job_id = submit_job(session)
    listed = get_jobs(session, "0" * 32, job_id, "no-such-job")
    assert [j["JobId"] for j in listed] == [job_id]
    assert get_jobs(session, "0" * 32) == []


def test_jobs_of_another_region_or_type_are_left_out_and_not_counted(session, backend: EmulatorBackend):
    beijing = submit_job(session, RegionId="cn-beijing")
    backend.region_actions["cn-shanghai"].add("SubmitAIImageAuditJob")
    audit = submit_audit(session, RegionId="cn-shanghai")

    assert get_jobs(session, beijing, audit) == []
    assert backend.get_job(beijing)["QueryCount"] == backend.get_job(audit)["QueryCount"] == 0
    assert [j["JobId"] for j in get_jobs(session, beijing, region="cn-beijing")] == [beijing]


def test_list_item_has_the_sdk_fields_only(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageJob", "at_once")
    (job,) = get_jobs(session, submit_job(session, UserData='{"Extend":{"a":1}}'))
    assert set(job) == {
        "JobId", "VideoId", "Status", "Code", "Message", "CreationTime",
        "AIImageResult", "TemplateId", "TemplateConfig", "UserData",
    }
    assert job["UserData"] == '{"Extend":{"a":1}}'
    assert job["TemplateConfig"] == '{"Format":"gif","SetDefaultCover":"true"}'


# -- GetAIMediaAuditJob --------------------------------------------------------------------


def test_audit_job_while_processing(session, backend: EmulatorBackend):
    job_id = submit_audit(session, MediaId="img-7")
    body = get_audit(session, job_id)

    assert set(body) == {"RequestId", "MediaAuditJob"}
    job = body["MediaAuditJob"]
    assert (job["JobId"], job["MediaId"], job["Type"], job["Status"]) == (job_id, "img-7", "AIMediaAudit", "Processing")
    assert "Data" not in job and "CompleteTime" not in job
    assert job["CreationTime"].endswith("Z")


def test_audit_job_when_done(session, backend: EmulatorBackend, clock):
    job_id = submit_audit(session)
    get_audit(session, job_id)  # the default: one query sees Processing
    job = get_audit(session, job_id)["MediaAuditJob"]

    assert set(job) == {"JobId", "MediaId", "Type", "Status", "Code", "Message", "CreationTime", "CompleteTime", "Data"}
    assert (job["Status"], job["Code"], job["Message"]) == ("success", "0", "OK")
    assert job["Data"]["Suggestion"] in ("pass", "review", "block")
    assert backend.get_job(job_id)["QueryCount"] == 2


def test_unknown_audit_job_has_no_media_audit_job(session):
    assert set(get_audit(session, "0" * 32)) == {"RequestId"}


def test_an_ai_image_job_is_not_an_audit_job(session, backend: EmulatorBackend):
    backend.region_actions["cn-shanghai"].add("GetAIMediaAuditJob")
    job_id = submit_job(session)
    assert "MediaAuditJob" not in get_audit(session, job_id, region="cn-shanghai")


def test_audit_job_requires_a_job_id(session):
    response = v1(session, {"Action": "GetAIMediaAuditJob", "RegionId": "ap-southeast-1"})
    vod_error(response, 400, "MissingParameter")


@pytest.mark.parametrize("region", ["cn-shanghai", "cn-beijing"])
def test_audit_query_is_served_in_singapore_only_by_default(session, region: str):
    response = v1(session, {"Action": "GetAIMediaAuditJob", "JobId": "x", "RegionId": region})
    vod_error(response, 403, "Forbidden.RegionNotSupported")


def test_ai_image_jobs_are_not_served_in_singapore(session):
    response = v1(session, {"Action": "GetAIImageJobs", "JobIds": "x", "RegionId": "ap-southeast-1"})
    vod_error(response, 403, "Forbidden.RegionNotSupported")
