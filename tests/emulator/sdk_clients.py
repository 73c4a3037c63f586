"""The official Alibaba SDKs, pointed at an emulator server process (tests/_servers.py).

They are the independent oracle: if vodai.signing and the emulator shared a mistake, these
clients would still sign the way Alibaba's servers expect, and the round trips would fail.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_vod20170321 import models as vod_models
from alibabacloud_vod20170321.client import Client as VodClient
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest
from aliyunsdkvod.request.v20170321.GetAIImageJobsRequest import GetAIImageJobsRequest
from aliyunsdkvod.request.v20170321.GetAIMediaAuditJobRequest import GetAIMediaAuditJobRequest
from aliyunsdkvod.request.v20170321.SubmitAIImageAuditJobRequest import (
    SubmitAIImageAuditJobRequest,
)
from aliyunsdkvod.request.v20170321.SubmitAIImageJobRequest import SubmitAIImageJobRequest
from mns.account import Account
from mns.topic import TopicMessage

# Which signature the current SDK uses: its default (V3) or "v2" (= RPC signature V1).
SIGNATURES = ["v3", "v1"]


def vod_client(
    server: Any,
    access_key_id: str,
    access_key_secret: str,
    *,
    signature: str = "v3",
    security_token: Optional[str] = None,
    region_id: str = "cn-shanghai",
    via_region_host: bool = False,
) -> VodClient:
    """The current SDK. ``via_region_host``: let the SDK derive ``vod.<region>.aliyuncs.com``
    from ``region_id`` and reach the emulator through it as an HTTP proxy; that is the only
    way the region travels, as this SDK sends no RegionId.
    """
    config = open_api_models.Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        security_token=security_token,
        protocol="http",
        region_id=region_id,
    )
    if via_region_host:
        config.http_proxy = server.url
    else:
        config.endpoint = f"127.0.0.1:{server.port}"
    if signature == "v1":
        config.signature_algorithm = "v2"
    return VodClient(config)


def submit_ai_image_job(client: VodClient, video_id: str, template_id: str, user_data: str) -> str:
    request = vod_models.SubmitAIImageJobRequest(
        video_id=video_id, aitemplate_id=template_id, user_data=user_data
    )
    return client.submit_aiimage_job(request).body.job_id


def legacy_client(
    server: Any,
    access_key_id: str,
    access_key_secret: str,
    *,
    security_token: Optional[str] = None,
    region_id: str = "cn-shanghai",
) -> AcsClient:
    if security_token:
        credential = StsTokenCredential(access_key_id, access_key_secret, security_token)
        return AcsClient(region_id=region_id, credential=credential, port=server.port, auto_retry=False)
    return AcsClient(access_key_id, access_key_secret, region_id, port=server.port, auto_retry=False)


def legacy_call(client: AcsClient, request: RpcRequest) -> dict:
    request.set_endpoint("127.0.0.1")
    request.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(request))


def legacy_submit(client: AcsClient, video_id: str, template_id: str, user_data: str) -> dict:
    request = SubmitAIImageJobRequest()
    request.set_VideoId(video_id)
    request.set_AITemplateId(template_id)
    request.set_UserData(user_data)
    return legacy_call(client, request)


def legacy_get_jobs(client: AcsClient, job_ids: str) -> dict:
    request = GetAIImageJobsRequest()
    request.set_JobIds(job_ids)
    return legacy_call(client, request)


def legacy_get_audit(client: AcsClient, job_id: str) -> dict:
    request = GetAIMediaAuditJobRequest()
    request.set_JobId(job_id)
    return legacy_call(client, request)


def legacy_audit(client: AcsClient, media_id: str, template_id: str, config: str) -> dict:
    request = SubmitAIImageAuditJobRequest()
    request.set_MediaId(media_id)
    request.set_TemplateId(template_id)
    request.set_MediaAuditConfiguration(config)
    return legacy_call(client, request)


def mns_publish(
    server: Any,
    access_key_id: str,
    access_key_secret: str,
    topic: str,
    body: str,
    tag: str,
    security_token: str = "",
) -> TopicMessage:
    account = Account(server.url, access_key_id, access_key_secret, security_token)
    return account.get_topic(topic).publish_message(TopicMessage(body, tag))
