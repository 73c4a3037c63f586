"""The whole "triggered automatically on upload" path, locally: an upload in the emulator ->
VOD's event on an MNS topic -> the FC topic trigger -> ``vodai serve`` running on_upload -> a
signed SubmitAI* call back into the emulator -> the JobId on the callback topic; and the audit
job's AIMediaAuditComplete event takes the same path to the function."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from alibabacloud_vod20170321 import models as vod_models

from _servers import emulator_server, serve_process

from . import sdk_clients as sdk

pytestmark = pytest.mark.e2e

AK, SECRET, TOKEN = "STS.upload-e2e", "upload-e2e-secret", "upload-e2e-token"
EVENTS_TOPIC, CALLBACK_TOPIC = "vod-events", "vodai-callback"


@pytest.mark.parametrize("trigger_format", ["STREAM", "JSON"])
def test_upload_becomes_a_job_and_a_topic_message(trigger_format: str):
    args = ["--callback-mns", f"topic:{EVENTS_TOPIC}", "--lifecycle", "SubmitAIImageAuditJob:at_once",
            "--trigger-retry-interval", "0"]
    with tempfile.TemporaryDirectory() as tmp, emulator_server(
        AK, SECRET, TOKEN, topics=(CALLBACK_TOPIC,), extra_args=args
    ) as server:
        env = {
            "VODAI_VOD_ENDPOINT": server.url,
            "VODAI_MNS_ENDPOINT": server.url,
            "VODAI_AI_TEMPLATE_ID": "tpl-ai",
            "VODAI_AUDIT_TEMPLATE_ID": "tpl-audit",
            "VODAI_CALLBACK_TOPIC": CALLBACK_TOPIC,
            "VODAI_IDEMPOTENCY_STORE": f"sqlite:///{Path(tmp) / 'jobs.sqlite3'}",
            "VODAI_DEAD_LETTERS": str(Path(tmp) / "dead-letters"),
        }
        with serve_process("on_upload", env) as function:
            server.add_trigger(f"{EVENTS_TOPIC}={function.url},format={trigger_format}")

            video = server.upload("video", "cn-shanghai", extend={"title": "t"})["MediaId"]
            image = server.upload("image", "ap-southeast-1")["MediaId"]
            server.wait_deliveries(60)

            log = server.deliveries()
            triggers = [d for d in log if d["Kind"] == "fc-trigger"]
            assert [d["Result"] for d in log] == ["delivered"] * len(log), log
            assert len(triggers) == 3  # two uploads and the audit's completion event
            outcomes = [o for d in triggers for o in json.loads(d["Attempts"][-1]["Answer"])["Outcomes"]]
            by_type = {o["EventType"]: o for o in outcomes}
            assert set(by_type) == {"FileUploadComplete", "ImageUploadComplete", "AIMediaAuditComplete"}
            assert by_type["FileUploadComplete"]["Status"] == by_type["ImageUploadComplete"]["Status"] == "submitted"
            # What on_upload does with a completion event is its own business; it must not fail.
            assert by_type["AIMediaAuditComplete"]["Status"] not in ("failed", "dead_lettered"), outcomes

            jobs = {job["Type"]: job for job in server.jobs()}
            assert (jobs["AIImage"]["VideoId"], jobs["AIImage"]["Region"]) == (video, "cn-shanghai")
            assert json.loads(jobs["AIImage"]["UserData"])["Extend"]["Upload"] == {"title": "t"}
            assert (jobs["AIImageAudit"]["MediaId"], jobs["AIImageAudit"]["Status"]) == (image, "success")
            signed_with = {e["access_key_id"] for e in server.requests_log() if e["service"] == "vod"}
            assert signed_with == {AK}  # the trigger's x-fc-* credentials reached VOD

            messages = [json.loads(m["MessageBody"]) for m in server.topic_messages(CALLBACK_TOPIC)]
            assert {j["JobId"] for j in jobs.values()} <= {m.get("JobId") for m in messages}

            client = sdk.vod_client(server, AK, SECRET, security_token=TOKEN)
            request = vod_models.GetAIImageJobsRequest(job_ids=jobs["AIImage"]["JobId"])
            assert client.get_aiimage_jobs(request).body.aiimage_job_list[0].status == "Processing"
            assert client.get_aiimage_jobs(request).body.aiimage_job_list[0].status == "success"
