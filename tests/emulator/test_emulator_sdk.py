"""The official SDKs against a real ``vodai emulator`` process, over HTTP (one server per module)."""

from __future__ import annotations

import hashlib

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vod20170321 import models as vod_models
from aliyunsdkcore.acs_exception.exceptions import ServerException
from mns.mns_exception import MNSServerException

from _servers import emulator_server

from . import sdk_clients as sdk
from .helpers import TRICKY_USER_DATA, USER_DATA

pytestmark = pytest.mark.e2e

AK, SECRET = "sdk-test-ak", "sdk-test-secret"
TOPIC = "vodai-callback"
TRICKY_ID = "video id/with*odd~chars+and=more&视频"


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, topics=(TOPIC, "other-topic")) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


# -- alibabacloud_vod20170321 (current SDK), V3 and V1 signatures --------------------------


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_submit_and_get_ai_image_jobs(server, signature: str):
    client = sdk.vod_client(server, AK, SECRET, signature=signature)

    job_id = sdk.submit_ai_image_job(client, TRICKY_ID, "tpl * 1", TRICKY_USER_DATA)
    listed = client.get_aiimage_jobs(vod_models.GetAIImageJobsRequest(job_ids=job_id))

    (job,) = listed.body.aiimage_job_list
    assert job.job_id == job_id
    assert (job.video_id, job.template_id, job.user_data) == (TRICKY_ID, "tpl * 1", TRICKY_USER_DATA)
    assert job.status == "Processing"
    assert listed.body.request_id
    (stored,) = server.jobs()
    assert stored["UserData"] == TRICKY_USER_DATA


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_submit_ai_image_audit_job_in_singapore(server, signature: str):
    client = sdk.vod_client(
        server, AK, SECRET, signature=signature, region_id="ap-southeast-1", via_region_host=True
    )
    request = vod_models.SubmitAIImageAuditJobRequest(
        media_id="image 1", template_id="audit-tpl", media_audit_configuration='{"ResourceType":"game_x"}'
    )

    job_id = client.submit_aiimage_audit_job(request).body.job_id

    (stored,) = server.jobs()
    assert (stored["JobId"], stored["MediaId"], stored["Region"]) == (job_id, "image 1", "ap-southeast-1")


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_audit_without_template_id_uses_the_default_template(server, signature: str):
    # The SDK lets TemplateId out; VOD then uses the account's default template (documented).
    client = sdk.vod_client(
        server, AK, SECRET, signature=signature, region_id="ap-southeast-1", via_region_host=True
    )
    request = vod_models.SubmitAIImageAuditJobRequest(media_id="image-2")

    job_id = client.submit_aiimage_audit_job(request).body.job_id

    (stored,) = server.jobs()
    assert (stored["JobId"], stored["MediaId"], stored["TemplateId"]) == (job_id, "image-2", "")


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_wrong_secret_is_refused(server, signature: str):
    client = sdk.vod_client(server, AK, "wrong-secret", signature=signature)
    with pytest.raises(ClientException) as caught:
        sdk.submit_ai_image_job(client, "video-1", "tpl-1", USER_DATA)
    assert (caught.value.code, caught.value.status_code) == ("SignatureDoesNotMatch", 400)
    assert server.jobs() == []


def test_region_restriction_reaches_the_sdk(server):
    client = sdk.vod_client(server, AK, SECRET, region_id="ap-southeast-1", via_region_host=True)
    with pytest.raises(ClientException) as caught:
        sdk.submit_ai_image_job(client, "video-1", "tpl-1", USER_DATA)
    assert (caught.value.code, caught.value.status_code) == ("Forbidden.RegionNotSupported", 403)


# -- aliyunsdkcore + aliyunsdkvod (legacy SDK, RPC V1, RegionId parameter) -----------------


def test_legacy_submit_and_get(server):
    client = sdk.legacy_client(server, AK, SECRET)

    job_id = sdk.legacy_submit(client, TRICKY_ID, "tpl-1", TRICKY_USER_DATA)["JobId"]
    listed = sdk.legacy_get_jobs(client, job_id)

    (job,) = listed["AIImageJobList"]
    assert (job["JobId"], job["VideoId"], job["UserData"]) == (job_id, TRICKY_ID, TRICKY_USER_DATA)


def test_legacy_audit_in_singapore(server):
    client = sdk.legacy_client(server, AK, SECRET, region_id="ap-southeast-1")
    job_id = sdk.legacy_audit(client, "image-1", "audit-tpl", '{"ResourceType":"a1"}')["JobId"]
    assert server.jobs()[0]["JobId"] == job_id


def test_legacy_wrong_secret_is_refused(server):
    client = sdk.legacy_client(server, AK, "wrong-secret")
    with pytest.raises(ServerException) as caught:
        sdk.legacy_submit(client, "video-1", "tpl-1", USER_DATA)
    # The server answers SignatureDoesNotMatch with its string to sign; this SDK compares it
    # with its own and, when equal (only the secret differs), reports InvalidAccessKeySecret.
    assert (caught.value.get_error_code(), caught.value.get_http_status()) == (
        "InvalidAccessKeySecret",
        400,
    )
    assert server.requests_log()[-1]["error_code"] == "SignatureDoesNotMatch"


# -- aliyun-mns-sdk ------------------------------------------------------------------------


def test_mns_publish(server):
    message = sdk.mns_publish(server, AK, SECRET, TOPIC, TRICKY_USER_DATA, "vod-ai")

    (stored,) = server.topic_messages(TOPIC)
    assert stored["MessageBody"] == TRICKY_USER_DATA
    assert stored["MessageTag"] == "vod-ai"
    assert stored["MessageId"] == message.message_id
    assert message.message_body_md5 == hashlib.md5(TRICKY_USER_DATA.encode()).hexdigest().upper()
    assert server.topic_messages("other-topic") == []


def test_mns_wrong_secret_is_refused(server):
    with pytest.raises(MNSServerException) as caught:
        sdk.mns_publish(server, AK, "wrong-secret", TOPIC, "body", "tag")
    assert caught.value.type == "SignatureDoesNotMatch"
    assert server.topic_messages(TOPIC) == []


def test_mns_unknown_topic(server):
    with pytest.raises(MNSServerException) as caught:
        sdk.mns_publish(server, AK, SECRET, "no-such-topic", "body", "tag")
    assert caught.value.type == "TopicNotExist"


# -- the server process itself -------------------------------------------------------------


def test_control_api_and_logs_hold_no_secrets(server):
    sdk.submit_ai_image_job(sdk.vod_client(server, AK, SECRET), "video-1", "tpl-1", USER_DATA)
    sdk.legacy_submit(sdk.legacy_client(server, AK, SECRET), "video-2", "tpl-1", USER_DATA)
    sdk.mns_publish(server, AK, SECRET, TOPIC, "body", "tag")

    log = server.requests_log()
    assert [(e["service"], e["action"], e["status"]) for e in log] == [
        ("vod", "SubmitAIImageJob", 200),
        ("vod", "SubmitAIImageJob", 200),
        ("mns", "PublishMessage", 201),
    ]
    assert all("Signature" not in e["params"] for e in log)
    stderr = server.stderr_text()
    assert "vod SubmitAIImageJob region=cn-shanghai status=200" in stderr
    assert "mns PublishMessage" in stderr
    assert SECRET not in stderr and "Signature=" not in stderr and "Authorization" not in stderr


def test_reset_through_the_control_api(server):
    sdk.submit_ai_image_job(sdk.vod_client(server, AK, SECRET), "video-1", "tpl-1", USER_DATA)
    server.reset()
    assert server.jobs() == [] and server.requests_log() == []
