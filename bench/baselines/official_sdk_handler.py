"""The natural alternative to vodai: an FC handler written with Alibaba's official SDKs, as
Alibaba's own samples do (``alibabacloud-vod20170321`` + ``alibabacloud-tea-openapi`` for VOD,
``aliyun-mns-sdk`` for the topic).

Same event, same work as vodai's ``on_upload`` for a video upload delivered by an MNS topic
trigger (JSON format): parse the envelope and the VOD event with ``json``, take the region from
the OSS host of ``FileUrl``, choose ``SubmitAIImageJob`` (video in cn-beijing/cn-shanghai),
build ``UserData`` as vodai does, submit it (V3 ACS3-HMAC-SHA256, the SDK's default), publish
the JobId message (tag ``AIImageJob``) and return a JSON summary. What it does *not* do, and
vodai does: idempotency records, dead letters, retries with a deadline, every delivery shape.

Settings are vodai's environment variables, so one environment serves all handlers:
``VODAI_VOD_ENDPOINT`` (``http://127.0.0.1:PORT``), ``VODAI_MNS_ENDPOINT``,
``VODAI_AI_TEMPLATE_ID``, ``VODAI_CALLBACK_TOPIC``.
"""

import json
import os
import re
from datetime import datetime, timezone

from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_vod20170321 import models as vod_models
from alibabacloud_vod20170321.client import Client as VodClient
from mns.account import Account
from mns.topic import TopicMessage

_OSS_REGION = re.compile(r"oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com")
AI_REGIONS = ("cn-beijing", "cn-shanghai")


def handler(event, context):
    envelope = json.loads(event)
    body = json.loads(envelope["Message"]) if "Message" in envelope else envelope
    if body.get("EventType") != "FileUploadComplete" or (body.get("Status") or "success") != "success":
        return json.dumps({"Status": "skipped", "Reason": "not a successful video upload"})
    match = _OSS_REGION.search(body.get("FileUrl") or "")
    region = match.group(1) if match else os.environ.get("VODAI_REGION") or context.region
    if region not in AI_REGIONS:
        return json.dumps({"Status": "skipped", "Reason": f"SubmitAIImageJob is not offered in {region}"})

    extend = body.get("Extend")
    try:
        extend = json.loads(extend) if isinstance(extend, str) else extend
    except ValueError:
        pass
    source = {"EventType": body["EventType"], "MediaId": body["VideoId"], "EventTime": body.get("EventTime"),
              "MessageId": envelope.get("MessageId")}
    user_data = json.dumps({"Extend": {"Upload": extend, "vodai": source}}, ensure_ascii=False,
                           separators=(",", ":"), sort_keys=True)
    if len(user_data.encode("utf-8")) > 512:
        raise ValueError("UserData: over VOD's 512-byte limit")
    template = os.environ["VODAI_AI_TEMPLATE_ID"]

    creds = context.credentials  # FC 2.0: the service role's STS credentials
    config = open_api_models.Config(
        access_key_id=creds.access_key_id,
        access_key_secret=creds.access_key_secret,
        security_token=creds.security_token,
        endpoint=os.environ["VODAI_VOD_ENDPOINT"].split("://", 1)[-1],
        protocol="http" if os.environ["VODAI_VOD_ENDPOINT"].startswith("http://") else "https",
        region_id=region,
    )
    client = VodClient(config)
    request = vod_models.SubmitAIImageJobRequest(video_id=body["VideoId"], aitemplate_id=template, user_data=user_data)
    response = client.submit_aiimage_job(request).body

    message = json.dumps({
        "JobId": response.job_id, "RequestId": response.request_id, "Action": "SubmitAIImageJob",
        "MediaId": body["VideoId"], "MediaType": "video", "Region": region, "EventType": body["EventType"],
        "EventTime": body.get("EventTime"), "TemplateId": template, "PipelineId": None,
        "SourceMessageId": envelope.get("MessageId"),
        "SubmittedAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }, separators=(",", ":"))
    account = Account(os.environ["VODAI_MNS_ENDPOINT"], creds.access_key_id, creds.access_key_secret,
                      creds.security_token or "")
    published = account.get_topic(os.environ["VODAI_CALLBACK_TOPIC"]).publish_message(TopicMessage(message, "AIImageJob"))
    return json.dumps({"Status": "submitted", "JobId": response.job_id, "MessageId": published.message_id})
