"""VOD actions through the in-process adapter: successes, parameter rules, regions, envelopes."""

from __future__ import annotations

import json

import pytest

from vodai.emulator import EmulatorBackend

from .helpers import STS_AK, STS_SECRET, STS_TOKEN, TRICKY_USER_DATA, send_v1, v1, v1_params, v3

SUBMIT = {"Action": "SubmitAIImageJob", "VideoId": "video-1", "AITemplateId": "tpl-1"}
AUDIT = {
    "Action": "SubmitAIImageAuditJob",
    "RegionId": "ap-southeast-1",
    "MediaId": "image-1",
    "TemplateId": "audit-tpl",
}


def submit(session, **extra: str) -> str:
    response = v1(session, {**SUBMIT, **extra})
    assert response.status_code == 200, response.text
    return response.json()["JobId"]


def assert_error(response, status: int, code: str, region: str = "cn-shanghai") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Code"] == code
    assert body["HostId"] == f"vod.{region}.aliyuncs.com"
    assert code in body["Recommend"]
    assert response.headers["x-acs-request-id"] == body["RequestId"]
    return body


# -- SubmitAIImageJob ----------------------------------------------------------------------


def test_submit_ai_image_job_creates_a_processing_job(session, backend: EmulatorBackend):
    response = v1(session, {**SUBMIT, "UserData": TRICKY_USER_DATA, "AIPipelineId": "pipe-1"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"RequestId", "JobId"}
    job = backend.get_job(body["JobId"])
    assert job is not None
    assert job["Status"] == "Processing"
    assert job["VideoId"] == "video-1"
    assert job["TemplateId"] == "tpl-1"
    assert job["AIPipelineId"] == "pipe-1"
    assert job["UserData"] == TRICKY_USER_DATA
    assert job["Region"] == "cn-shanghai"
    assert backend.jobs() == [job]


def test_submit_with_params_in_a_form_body(session, backend: EmulatorBackend):
    response = send_v1(session, v1_params({**SUBMIT, "UserData": TRICKY_USER_DATA}), in_body=True)

    assert response.status_code == 200, response.text
    assert backend.get_job(response.json()["JobId"])["UserData"] == TRICKY_USER_DATA


def test_submit_by_get(session):
    params = v1_params(SUBMIT, method="GET")
    assert send_v1(session, params, method="GET").status_code == 200


def test_submit_with_v3_signature(session, backend: EmulatorBackend):
    query = {"VideoId": "video 3", "AITemplateId": "tpl-3", "UserData": TRICKY_USER_DATA}
    response = v3(session, "SubmitAIImageJob", query)

    assert response.status_code == 200, response.text
    job = backend.get_job(response.json()["JobId"])
    assert (job["VideoId"], job["UserData"]) == ("video 3", TRICKY_USER_DATA)


@pytest.mark.parametrize("missing", ["VideoId", "AITemplateId"])
def test_submit_requires_video_and_template(session, missing: str):
    params = {k: v for k, v in SUBMIT.items() if k != missing}
    body = assert_error(v1(session, params), 400, "MissingParameter")
    assert body["Message"] == (
        f'The input parameter "{missing}" that is mandatory for processing this request '
        "is not supplied."
    )


def test_empty_required_value_counts_as_missing(session):
    assert_error(v1(session, {**SUBMIT, "VideoId": ""}), 400, "MissingParameter")


def test_user_data_of_512_bytes_is_accepted(session):
    prefix, suffix = '{"Extend": "', '"}'
    room = 512 - len(prefix) - len(suffix)
    user_data = prefix + "视" * (room // 3) + "a" * (room % 3) + suffix  # 3 bytes per 视
    assert len(user_data.encode("utf-8")) == 512
    submit(session, UserData=user_data)


def test_user_data_over_512_bytes_is_rejected(session, backend: EmulatorBackend):
    user_data = json.dumps({"Extend": "视" * 200}, ensure_ascii=False)  # < 512 chars, > 512 bytes
    assert len(user_data) < 512 < len(user_data.encode("utf-8"))

    body = assert_error(v1(session, {**SUBMIT, "UserData": user_data}), 400, "InvalidParameter")
    assert '"UserData"' in body["Message"]
    assert backend.jobs() == []


@pytest.mark.parametrize("user_data", ["not json", "[1, 2]", '"text"'])
def test_user_data_must_be_a_json_object(session, user_data: str):
    assert_error(v1(session, {**SUBMIT, "UserData": user_data}), 400, "InvalidParameter")


# -- GetAIImageJobs ------------------------------------------------------------------------


def test_get_ai_image_jobs_lists_the_requested_jobs(session):
    first = submit(session, UserData=TRICKY_USER_DATA)
    second = submit(session)

    response = v1(session, {"Action": "GetAIImageJobs", "JobIds": f"{first}, {second},unknown"})

    assert response.status_code == 200, response.text
    jobs = response.json()["AIImageJobList"]
    assert [j["JobId"] for j in jobs] == [first, second]
    assert set(jobs[0]) == {
        "JobId", "VideoId", "Status", "Code", "Message", "CreationTime",
        "AIImageResult", "TemplateId", "TemplateConfig", "UserData",
    }
    assert jobs[0]["UserData"] == TRICKY_USER_DATA
    assert jobs[0]["Status"] == "Processing"
    assert jobs[0]["VideoId"] == "video-1"
    assert jobs[0]["CreationTime"].endswith("Z")


def test_get_ai_image_jobs_accepts_ten_ids(session):
    ids = [submit(session) for _ in range(10)]
    response = v1(session, {"Action": "GetAIImageJobs", "JobIds": ",".join(ids)})
    assert len(response.json()["AIImageJobList"]) == 10


def test_get_ai_image_jobs_rejects_more_than_ten_ids(session):
    ids = ",".join(f"job-{i}" for i in range(11))
    body = assert_error(v1(session, {"Action": "GetAIImageJobs", "JobIds": ids}), 400, "InvalidParameter")
    assert '"JobIds"' in body["Message"]


@pytest.mark.parametrize("job_ids", [None, "", " , "])
def test_get_ai_image_jobs_requires_job_ids(session, job_ids):
    params = {"Action": "GetAIImageJobs"}
    if job_ids is not None:
        params["JobIds"] = job_ids
    assert_error(v1(session, params), 400, "MissingParameter")


def test_get_ai_image_jobs_ignores_audit_jobs(session):
    audit_id = v1(session, AUDIT).json()["JobId"]
    response = v1(session, {"Action": "GetAIImageJobs", "JobIds": audit_id})
    assert response.json()["AIImageJobList"] == []


# -- SubmitAIImageAuditJob -----------------------------------------------------------------


def test_submit_ai_image_audit_job(session, backend: EmulatorBackend):
    config = '{"ResourceType":"game_1"}'
    response = v1(session, {**AUDIT, "MediaAuditConfiguration": config})

    assert response.status_code == 200, response.text
    job = backend.get_job(response.json()["JobId"])
    assert job["Type"] == "AIImageAudit"
    assert (job["MediaId"], job["TemplateId"]) == ("image-1", "audit-tpl")
    assert job["MediaAuditConfiguration"] == config
    assert job["Region"] == "ap-southeast-1"
    assert job["Status"] == "Processing"


def test_audit_requires_media(session):
    params = {k: v for k, v in AUDIT.items() if k != "MediaId"}
    body = assert_error(v1(session, params), 400, "MissingParameter", region="ap-southeast-1")
    assert '"MediaId"' in body["Message"]


def test_audit_without_template_uses_the_default_template(session, backend: EmulatorBackend):
    # Documented: without TemplateId the account's default template is used.
    params = {k: v for k, v in AUDIT.items() if k != "TemplateId"}
    response = v1(session, params)
    assert response.status_code == 200, response.text
    job = backend.get_job(response.json()["JobId"])
    assert (job["MediaId"], job["TemplateId"]) == ("image-1", "")


@pytest.mark.parametrize(
    "config",
    [
        "not json",
        '{"ResourceType": "has space"}',
        '{"ResourceType": "dash-ed"}',
        '{"ResourceType": 7}',
        '{"ResourceType": "ok", "Other": "x"}',
        "{}",
    ],
)
def test_audit_configuration_allows_only_a_plain_resource_type(session, config: str):
    response = v1(session, {**AUDIT, "MediaAuditConfiguration": config})
    assert_error(response, 400, "InvalidParameter", region="ap-southeast-1")


# -- regions and actions -------------------------------------------------------------------


def test_ai_image_job_is_not_served_in_singapore(session, backend: EmulatorBackend):
    response = v1(session, {**SUBMIT, "RegionId": "ap-southeast-1"})
    assert_error(response, 403, "Forbidden.RegionNotSupported", region="ap-southeast-1")
    assert backend.jobs() == []


def test_audit_job_is_not_served_in_shanghai_by_default(session):
    response = v1(session, {**AUDIT, "RegionId": "cn-shanghai"})
    assert_error(response, 403, "Forbidden.RegionNotSupported")


def test_region_table_is_configurable(session, backend: EmulatorBackend):
    backend.region_actions["cn-shanghai"].add("SubmitAIImageAuditJob")
    assert v1(session, {**AUDIT, "RegionId": "cn-shanghai"}).status_code == 200


def test_beijing_serves_ai_image_jobs(session, backend: EmulatorBackend):
    job_id = submit(session, RegionId="cn-beijing")
    assert backend.get_job(job_id)["Region"] == "cn-beijing"


def test_region_comes_from_the_vod_host_when_no_region_id(session):
    response = v3(session, "SubmitAIImageJob", SUBMIT, host="vod.ap-southeast-1.aliyuncs.com")
    assert_error(response, 403, "Forbidden.RegionNotSupported", region="ap-southeast-1")


def test_region_defaults_to_the_backend_default(session, backend: EmulatorBackend):
    backend.default_region = "ap-southeast-1"
    response = v3(session, "SubmitAIImageAuditJob", AUDIT, host="127.0.0.1:9100")
    assert response.status_code == 200, response.text


def test_jobs_are_regional(session):
    job_id = submit(session, RegionId="cn-beijing")
    response = v1(session, {"Action": "GetAIImageJobs", "JobIds": job_id})
    assert response.json()["AIImageJobList"] == []


def test_unknown_action(session):
    body = assert_error(v1(session, {"Action": "DeleteVideo"}), 404, "InvalidAction.NotFound")
    assert body["Message"] == "Specified api is not found, please check your url and method."


def test_missing_action(session):
    assert_error(v1(session, {}), 400, "MissingParameter")


# -- request log ---------------------------------------------------------------------------


def test_request_log_records_calls_without_secrets(session, backend: EmulatorBackend):
    v1(session, {**SUBMIT, "UserData": TRICKY_USER_DATA}, ak=STS_AK, secret=STS_SECRET, token=STS_TOKEN)
    v1(session, {"Action": "GetAIImageJobs", "JobIds": ",".join(str(i) for i in range(11))})

    ok, failed = backend.requests_log()
    assert (ok["service"], ok["action"], ok["region"], ok["status"]) == (
        "vod", "SubmitAIImageJob", "cn-shanghai", 200
    )
    assert ok["error_code"] is None
    assert ok["access_key_id"] == STS_AK
    assert ok["params"]["UserData"] == TRICKY_USER_DATA
    assert "Signature" not in ok["params"] and "SecurityToken" not in ok["params"]
    assert STS_TOKEN not in json.dumps(backend.requests_log())
    assert (failed["status"], failed["error_code"]) == (400, "InvalidParameter")
