"""The floor: the same handler with nothing but the standard library.

Parses the MNS-topic envelope and the VOD event with ``json``, takes the region from the OSS
host, builds the same UserData, signs ``SubmitAIImageJob`` with V3 (ACS3-HMAC-SHA256) and the
``PublishMessage`` with the MNS signature by hand (``hmac``/``hashlib``), and sends both over one
keep-alive ``http.client`` connection. No idempotency, no retries, no dead letters, no models:
the least any handler doing this job can cost, so vodai's cold start is judged against it.

:func:`submit_and_publish` is also the raw-request baseline of the replay benchmark (one
keep-alive connection per worker thread).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import time
from urllib.parse import quote, urlsplit

_OSS_REGION = re.compile(r"oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com")
_MESSAGE_ID = re.compile(rb"<MessageId>([^<]+)</MessageId>")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AI_REGIONS = ("cn-beijing", "cn-shanghai")


def _enc(value):
    return quote(value, safe="-_.~")


def _utc(fmt="%Y-%m-%dT%H:%M:%SZ"):
    return time.strftime(fmt, time.gmtime())


def signed_submit(host, query, ak, secret, token):
    """(path?query, headers) of a V3-signed SubmitAIImageJob."""
    headers = {
        "host": host,
        "x-acs-action": "SubmitAIImageJob",
        "x-acs-version": "2017-03-21",
        "x-acs-date": _utc(),
        "x-acs-signature-nonce": os.urandom(16).hex(),
        "x-acs-content-sha256": EMPTY_SHA256,
    }
    if token:
        headers["x-acs-accesskey-id"] = ak
        headers["x-acs-security-token"] = token
    canonical_query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(query.items()))
    names = sorted(headers)
    canonical = "\n".join(["POST", "/", canonical_query, "".join(f"{n}:{headers[n]}\n" for n in names),
                           ";".join(names), EMPTY_SHA256])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={';'.join(names)},Signature={signature}"
    headers["Accept"] = "application/json"
    return "/?" + canonical_query, headers


def signed_publish(topic, body, tag, ak, secret, token):
    """(path, headers, xml) of an MNS-signed PublishMessage."""
    def esc(text):
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    xml = ('<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
           f"<MessageBody>{esc(body)}</MessageBody><MessageTag>{esc(tag)}</MessageTag></Message>").encode()
    path = f"/topics/{_enc(topic)}/messages"
    headers = {
        "Content-Type": "text/xml;charset=UTF-8",
        "Content-MD5": base64.b64encode(hashlib.md5(xml).digest()).decode(),
        "Date": _utc("%a, %d %b %Y %H:%M:%S GMT"),
        "x-mns-version": "2015-06-06",
    }
    to_sign = "\n".join(["POST", headers["Content-MD5"], headers["Content-Type"], headers["Date"],
                         "x-mns-version:2015-06-06\n" + path])
    signature = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    headers["Authorization"] = f"MNS {ak}:{signature}"
    if token:
        headers["security-token"] = token
    return path, headers, xml


def _request(conn, method, path, headers, body=b""):
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def connect(base_url):
    url = urlsplit(base_url)
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    return cls(url.hostname, url.port, timeout=10), url.netloc


def submit_and_publish(event, creds, conn, host, *, template, topic, default_region=None):
    """The whole job for one event over ``conn`` (keep-alive); returns (JobId, MessageId)."""
    envelope = json.loads(event)
    body = json.loads(envelope["Message"]) if "Message" in envelope else envelope
    if body.get("EventType") != "FileUploadComplete" or (body.get("Status") or "success") != "success":
        return None, None
    match = _OSS_REGION.search(body.get("FileUrl") or "")
    region = match.group(1) if match else default_region
    if region not in AI_REGIONS:
        return None, None
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
    ak, secret, token = creds
    query = {"AITemplateId": template, "RegionId": region, "UserData": user_data, "VideoId": body["VideoId"]}
    path, headers = signed_submit(host, query, ak, secret, token)
    status, data = _request(conn, "POST", path, headers)
    answer = json.loads(data)
    if status != 200 or "JobId" not in answer:
        raise RuntimeError(f"SubmitAIImageJob: HTTP {status}: {answer.get('Code')}: {answer.get('Message')}")
    message = json.dumps({
        "JobId": answer["JobId"], "RequestId": answer.get("RequestId"), "Action": "SubmitAIImageJob",
        "MediaId": body["VideoId"], "MediaType": "video", "Region": region, "EventType": body["EventType"],
        "EventTime": body.get("EventTime"), "TemplateId": template, "SourceMessageId": envelope.get("MessageId"),
        "SubmittedAt": _utc(),
    }, ensure_ascii=False, separators=(",", ":"))
    path, headers, xml = signed_publish(topic, message, "AIImageJob", ak, secret, token)
    status, data = _request(conn, "POST", path, headers, xml)
    found = _MESSAGE_ID.search(data)
    if status != 201 or not found:
        raise RuntimeError(f"PublishMessage: HTTP {status}: {data[:200]!r}")
    return answer["JobId"], found.group(1).decode()


def handler(event, context):
    creds = context.credentials
    vod = os.environ["VODAI_VOD_ENDPOINT"]
    mns = os.environ["VODAI_MNS_ENDPOINT"]
    conn, host = connect(vod)
    if mns.rstrip("/") != vod.rstrip("/"):
        raise RuntimeError("the floor sends both requests over one connection: VOD and MNS must share an endpoint")
    try:
        job_id, message_id = submit_and_publish(
            event, (creds.access_key_id, creds.access_key_secret, creds.security_token), conn, host,
            template=os.environ["VODAI_AI_TEMPLATE_ID"], topic=os.environ["VODAI_CALLBACK_TOPIC"],
            default_region=os.environ.get("VODAI_REGION") or context.region)
    finally:
        conn.close()
    return json.dumps({"Status": "submitted" if job_id else "skipped", "JobId": job_id, "MessageId": message_id})
