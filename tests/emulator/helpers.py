"""Hand-built, hand-signed requests (with vodai.signing) for the in-process emulator tests."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, Iterable, Mapping, Optional, Sequence, Union
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

import requests

from vodai.signing import acs3, mns, rpc

AK, SECRET = "test-ak", "test-secret"
STS_AK, STS_SECRET, STS_TOKEN = "STS.test-ak", "sts-secret", "sts-token/with+odd=chars"
TOPIC = "vodai-callback"
QUEUE = "vodai-dead-letters"
VOD_HOST = "vod.cn-shanghai.aliyuncs.com"
MNS_HOST = "123456.mns.cn-shanghai.aliyuncs.com"
XMLNS = "{http://mns.aliyuncs.com/doc/v1/}"

# The smallest UserData VOD accepts: it must hold MessageCallback or Extend.
USER_DATA = '{"Extend":{}}'

# Every character class the encoders disagree on, plus non-ASCII text, inside JSON.
TRICKY_USER_DATA = json.dumps(
    {"Extend": {"note": "a b*c~d/e+f=g&h%i 视频 ünï"}, "MessageCallback": {"Type": "none"}},
    ensure_ascii=False,
)


def vod_timestamp(offset: timedelta = timedelta()) -> str:
    return (datetime.now(timezone.utc) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def nonce() -> str:
    return uuid.uuid4().hex


def v1_params(
    params: Mapping[str, str],
    *,
    method: str = "POST",
    ak: str = AK,
    secret: str = SECRET,
    token: Optional[str] = None,
    timestamp: Optional[str] = None,
    signature_nonce: Optional[str] = None,
) -> dict[str, str]:
    """``params`` with the RPC V1 common parameters and a valid Signature."""
    base = {"Format": "JSON", "Version": "2017-03-21", **params}
    return rpc.signed_params(
        base,
        method=method,
        access_key_id=ak,
        access_key_secret=secret,
        security_token=token,
        timestamp=timestamp or vod_timestamp(),
        nonce=signature_nonce or nonce(),
    )


def send_v1(
    session: requests.Session,
    params: Mapping[str, str],
    *,
    method: str = "POST",
    in_body: bool = False,
    host: str = VOD_HOST,
) -> requests.Response:
    """Send already-signed V1 params in the query (as the SDKs do) or as a form body."""
    url = f"https://{host}/"
    if in_body:
        return session.request(method, url, data=dict(params))
    return session.request(method, f"{url}?{urlencode(params, quote_via=quote)}")


def v1(session: requests.Session, params: Mapping[str, str], **sign: Any) -> requests.Response:
    """Sign and send one V1 POST (``sign``: keyword arguments of :func:`v1_params`)."""
    return send_v1(session, v1_params(params, **sign))


def v3(
    session: requests.Session,
    action: str,
    query: Union[Mapping[str, str], Sequence[tuple[str, str]]],
    *,
    ak: str = AK,
    secret: str = SECRET,
    token: Optional[str] = None,
    date: Optional[str] = None,
    signature_nonce: Optional[str] = None,
    host: str = VOD_HOST,
    body: bytes = b"",
    content_sha256: Optional[str] = None,
    extra_headers: Optional[Mapping[str, str]] = None,
    signed_headers: Optional[Iterable[str]] = None,
    raw_query: Optional[str] = None,
) -> requests.Response:
    """Sign with ACS3-HMAC-SHA256 and send a POST; the knobs let a test break one part."""
    body_sha256 = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": "2017-03-21",
        "x-acs-date": date or vod_timestamp(),
        "x-acs-signature-nonce": signature_nonce or nonce(),
        "x-acs-content-sha256": content_sha256 or body_sha256,
    }
    if token:
        headers["x-acs-security-token"] = token
    headers["Authorization"] = acs3.authorization(
        "POST",
        "/",
        query,
        headers,
        access_key_id=ak,
        access_key_secret=secret,
        body_sha256=headers["x-acs-content-sha256"],
        signed_headers=signed_headers,
    )
    headers.update(extra_headers or {})
    query_string = raw_query if raw_query is not None else urlencode(query, quote_via=quote)
    return session.post(f"https://{host}/?{query_string}", headers=headers, data=body)


def message_xml(body: str, tag: Optional[str] = None) -> bytes:
    tag_xml = f"<MessageTag>{tag}</MessageTag>" if tag is not None else ""
    escaped = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
        f"<MessageBody>{escaped}</MessageBody>{tag_xml}</Message>"
    ).encode("utf-8")


def mns_date(offset: timedelta = timedelta()) -> str:
    return format_datetime(datetime.now(timezone.utc) + offset, usegmt=True)


def mns_publish(session: requests.Session, xml: bytes, *, topic: str = TOPIC, **sign: Any) -> requests.Response:
    """Sign like the MNS SDK and POST to /topics/<topic>/messages (``sign``: see :func:`mns_post`)."""
    return mns_post(session, f"/topics/{topic}/messages", xml, **sign)


def mns_send(session: requests.Session, xml: bytes, *, queue: str, **sign: Any) -> requests.Response:
    """Sign like the MNS SDK and POST to /queues/<queue>/messages (SendMessage)."""
    return mns_post(session, f"/queues/{queue}/messages", xml, **sign)


def queue_message_xml(body: str, delay_seconds: Optional[str] = None, priority: Optional[str] = None) -> bytes:
    extra = "".join(
        f"<{name}>{value}</{name}>"
        for name, value in (("DelaySeconds", delay_seconds), ("Priority", priority))
        if value is not None
    )
    escaped = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
        f"<MessageBody>{escaped}</MessageBody>{extra}</Message>"
    ).encode("utf-8")


def mns_post(
    session: requests.Session,
    path: str,
    xml: bytes,
    *,
    ak: str = AK,
    secret: str = SECRET,
    token: Optional[str] = None,
    token_header: str = "security-token",
    date: Optional[str] = None,
    query: str = "",
    signed_resource: Optional[str] = None,
    omit: Iterable[str] = (),
    content_md5: Optional[str] = None,
) -> requests.Response:
    """Sign like the MNS SDK and POST ``xml`` to ``path``; the knobs let a test break one part."""
    resource = path + (f"?{query}" if query else "")
    headers = {
        "Content-Type": "text/xml;charset=UTF-8",
        "x-mns-version": "2015-06-06",
        "Date": date or mns_date(),
    }
    if content_md5 is not None:
        headers["Content-MD5"] = content_md5  # signed, as every header of the string to sign
    if token and token_header.startswith("x-mns-"):
        headers[token_header] = token  # signed through its prefix
    headers["Authorization"] = mns.authorization(
        "POST",
        signed_resource if signed_resource is not None else resource,
        headers,
        access_key_id=ak,
        access_key_secret=secret,
    )
    if token and not token_header.startswith("x-mns-"):
        headers[token_header] = token  # added after signing, as the Python SDK does
    for name in omit:
        headers.pop(name, None)
    return session.post(f"https://{MNS_HOST}{resource}", headers=headers, data=xml)


def mns_error(response: requests.Response) -> dict[str, str]:
    """The children of an MNS ``<Error>`` document, by local name."""
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{XMLNS}Error"
    return {child.tag.replace(XMLNS, ""): child.text or "" for child in root}


# -- VOD actions, signed and sent through the in-process adapter ----------------------------

SUBMIT_PARAMS = {"Action": "SubmitAIImageJob", "VideoId": "video-1", "AITemplateId": "tpl-1"}
AUDIT_PARAMS = {
    "Action": "SubmitAIImageAuditJob",
    "RegionId": "ap-southeast-1",
    "MediaId": "image-1",
    "TemplateId": "audit-tpl",
}


def submit_job(session: requests.Session, **params: str) -> str:
    """SubmitAIImageJob (cn-shanghai unless RegionId says otherwise); returns the JobId."""
    response = v1(session, {**SUBMIT_PARAMS, **params})
    assert response.status_code == 200, response.text
    return response.json()["JobId"]


def submit_audit(session: requests.Session, **params: str) -> str:
    """SubmitAIImageAuditJob (ap-southeast-1); returns the JobId."""
    response = v1(session, {**AUDIT_PARAMS, **params})
    assert response.status_code == 200, response.text
    return response.json()["JobId"]


def get_jobs(session: requests.Session, *job_ids: str, region: str = "cn-shanghai") -> list[dict]:
    """GetAIImageJobs' AIImageJobList."""
    response = v1(session, {"Action": "GetAIImageJobs", "JobIds": ",".join(job_ids), "RegionId": region})
    assert response.status_code == 200, response.text
    return response.json()["AIImageJobList"]


def get_audit(session: requests.Session, job_id: str, region: str = "ap-southeast-1") -> dict:
    """GetAIMediaAuditJob's whole body."""
    response = v1(session, {"Action": "GetAIMediaAuditJob", "JobId": job_id, "RegionId": region})
    assert response.status_code == 200, response.text
    return response.json()


def vod_error(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["Code"] == code, body
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    return body
