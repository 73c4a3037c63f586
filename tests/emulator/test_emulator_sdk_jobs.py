"""The official SDKs read GetAIImageJobs and GetAIMediaAuditJob from a real emulator process:
``alibabacloud_vod20170321`` (V3 and ``signature_algorithm="v2"``) with its typed models, and
the legacy AcsClient with ``aliyunsdkvod`` requests."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vod20170321 import models as vod_models

from _servers import emulator_server

from . import sdk_clients as sdk

pytestmark = pytest.mark.e2e

AK, SECRET = "sdk-jobs-ak", "sdk-jobs-secret"


@pytest.fixture(scope="module")
def server():
    args = ["--lifecycle", "SubmitAIImageJob:after_queries=1",
            "--lifecycle", "SubmitAIImageAuditJob:at_once,suggestion=review"]
    with emulator_server(AK, SECRET, seed=2024, extra_args=args) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


def _audit_job(server, media_id: str = "image-1") -> str:
    client = sdk.vod_client(server, AK, SECRET, region_id="ap-southeast-1", via_region_host=True)
    request = vod_models.SubmitAIImageAuditJobRequest(media_id=media_id, template_id="audit-tpl")
    return client.submit_aiimage_audit_job(request).body.job_id


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_sdk_reads_ai_image_jobs(server, signature: str):
    media = server.control("media", method="POST", json={"media_type": "video", "region": "cn-shanghai"})
    client = sdk.vod_client(server, AK, SECRET, signature=signature)
    first = sdk.submit_ai_image_job(client, media["MediaId"], "tpl-1", '{"Extend":{"n":1}}')
    second = sdk.submit_ai_image_job(client, "video-2", "tpl-2", '{"Extend":{"n":2}}')
    request = vod_models.GetAIImageJobsRequest(job_ids=f"{first},{second},{'0' * 32}")

    processing = client.get_aiimage_jobs(request).body
    done = client.get_aiimage_jobs(request).body

    assert isinstance(done, vod_models.GetAIImageJobsResponseBody)
    assert [j.status for j in processing.aiimage_job_list] == ["Processing", "Processing"]
    job, other = done.aiimage_job_list  # the unknown id is left out
    assert isinstance(job, vod_models.GetAIImageJobsResponseBodyAIImageJobList)
    assert (job.job_id, job.video_id, job.template_id, job.status) == (first, media["MediaId"], "tpl-1", "success")
    assert (job.code, job.message, job.user_data) == ("Success", "success", '{"Extend":{"n":1}}')
    assert job.creation_time.endswith("Z") and json.loads(job.template_config)["Format"] == "gif"
    images = json.loads(job.aiimage_result)
    host = urlsplit(media["FileUrl"]).netloc
    assert images and all(urlsplit(i["Url"]).netloc == host and isinstance(i["Score"], float) for i in images)
    assert other.job_id == second and done.request_id


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_sdk_reads_ai_media_audit_job(server, signature: str):
    job_id = _audit_job(server)
    client = sdk.vod_client(server, AK, SECRET, signature=signature, region_id="ap-southeast-1", via_region_host=True)

    body = client.get_aimedia_audit_job(vod_models.GetAIMediaAuditJobRequest(job_id=job_id)).body

    job = body.media_audit_job
    assert isinstance(job, vod_models.GetAIMediaAuditJobResponseBodyMediaAuditJob)
    assert (job.job_id, job.media_id, job.type, job.status, job.code, job.message) == (
        job_id, "image-1", "AIMediaAudit", "success", "0", "OK"
    )
    assert job.creation_time.endswith("Z") and job.complete_time.endswith("Z")
    data = job.data
    assert isinstance(data, vod_models.GetAIMediaAuditJobResponseBodyMediaAuditJobData)
    assert data.suggestion == "review" and data.label != "normal" and data.abnormal_modules == "image-cover"
    (image,) = data.image_result
    assert (image.type, image.suggestion, image.label) == ("cover", "review", data.label)
    assert ".oss-ap-southeast-1.aliyuncs.com/" in image.url
    scenes = {r.scene: r for r in image.result}
    assert set(scenes) == {"porn", "terrorism", "ad", "live", "logo"}
    assert scenes[data.label].suggestion == "review" and 60 <= float(scenes[data.label].score) < 90
    assert data.audio_result == [] and data.text_result == []


def test_sdk_unknown_audit_job(server):
    client = sdk.vod_client(server, AK, SECRET, region_id="ap-southeast-1", via_region_host=True)
    body = client.get_aimedia_audit_job(vod_models.GetAIMediaAuditJobRequest(job_id="0" * 32)).body
    assert body.media_audit_job is None and body.request_id


def test_sdk_sees_the_ten_id_limit(server):
    client = sdk.vod_client(server, AK, SECRET)
    with pytest.raises(ClientException) as caught:
        client.get_aiimage_jobs(vod_models.GetAIImageJobsRequest(job_ids=",".join(f"j{i}" for i in range(11))))
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)


def test_legacy_sdk_reads_both(server):
    shanghai = sdk.legacy_client(server, AK, SECRET)
    job_id = sdk.legacy_submit(shanghai, "video-9", "tpl-1", '{"Extend":{}}')["JobId"]
    sdk.legacy_get_jobs(shanghai, job_id)
    (job,) = sdk.legacy_get_jobs(shanghai, job_id)["AIImageJobList"]
    assert (job["JobId"], job["Status"]) == (job_id, "success") and json.loads(job["AIImageResult"])

    singapore = sdk.legacy_client(server, AK, SECRET, region_id="ap-southeast-1")
    audit_id = sdk.legacy_audit(singapore, "image-9", "audit-tpl", '{"ResourceType":"a1"}')["JobId"]
    answer = sdk.legacy_get_audit(singapore, audit_id)
    audit = answer["MediaAuditJob"]
    assert (audit["JobId"], audit["MediaId"], audit["Status"]) == (audit_id, "image-9", "success")
    assert audit["Data"]["Suggestion"] == "review" and audit["Data"]["ImageResult"][0]["Result"]


def test_results_repeat_with_the_seed(server):
    first = server.control("jobs/" + _audit_job(server, "image-x"))["Data"]
    server.reset()
    again = server.control("jobs/" + _audit_job(server, "image-x"))["Data"]
    assert first == again
