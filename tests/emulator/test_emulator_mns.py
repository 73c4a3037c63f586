"""MNS PublishMessage through the in-process adapter: XML in and out, auth, STS, errors."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from xml.etree import ElementTree

import pytest

from vodai.emulator import EmulatorBackend

from .helpers import (
    AK,
    SECRET,
    STS_AK,
    STS_SECRET,
    STS_TOKEN,
    TOPIC,
    TRICKY_USER_DATA,
    XMLNS,
    message_xml,
    mns_date,
    mns_error,
    mns_publish,
)


def test_publish_stores_the_message_and_answers_201(session, backend: EmulatorBackend):
    body = TRICKY_USER_DATA + " <&> "
    response = mns_publish(session, message_xml(body, tag="vod-upload"))

    assert response.status_code == 201, response.text
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{XMLNS}Message"
    answer = {child.tag.replace(XMLNS, ""): child.text for child in root}
    assert answer["MessageBodyMD5"] == hashlib.md5(body.encode("utf-8")).hexdigest().upper()

    (stored,) = backend.topic_messages(TOPIC)
    assert stored["MessageId"] == answer["MessageId"]
    assert stored["MessageBody"] == body
    assert stored["MessageTag"] == "vod-upload"
    assert stored["MessageBodyMD5"] == answer["MessageBodyMD5"]
    assert isinstance(stored["PublishTime"], int)
    assert response.headers["x-mns-request-id"]


def test_publish_without_tag(session, backend: EmulatorBackend):
    assert mns_publish(session, message_xml("hello")).status_code == 201
    assert backend.topic_messages(TOPIC)[0]["MessageTag"] is None


def test_publish_without_namespace_is_accepted(session, backend: EmulatorBackend):
    xml = b"<Message><MessageBody>plain</MessageBody></Message>"
    assert mns_publish(session, xml).status_code == 201
    assert backend.topic_messages(TOPIC)[0]["MessageBody"] == "plain"


def test_messages_keep_their_order(session, backend: EmulatorBackend):
    for i in range(3):
        mns_publish(session, message_xml(f"m{i}"))
    assert [m["MessageBody"] for m in backend.topic_messages(TOPIC)] == ["m0", "m1", "m2"]


def test_unknown_topic(session):
    response = mns_publish(session, message_xml("x"), topic="no-such-topic")
    assert response.status_code == 404
    error = mns_error(response)
    assert error["Code"] == "TopicNotExist"
    assert error["RequestId"] == response.headers["x-mns-request-id"]
    assert error["HostId"] == "mns.cn-shanghai.aliyuncs.com"


@pytest.mark.parametrize("xml", [b"", b"not xml", b"<Message><MessageBody>x</Message>"])
def test_malformed_xml(session, xml: bytes, backend: EmulatorBackend):
    response = mns_publish(session, xml)
    assert (response.status_code, mns_error(response)["Code"]) == (400, "MalformedXML")
    assert backend.topic_messages(TOPIC) == []


@pytest.mark.parametrize(
    "xml",
    [
        b"<Queue><MessageBody>x</MessageBody></Queue>",
        b"<Message><MessageTag>t</MessageTag></Message>",
        b"<Message><MessageBody></MessageBody></Message>",
    ],
)
def test_invalid_message_document(session, xml: bytes):
    response = mns_publish(session, xml)
    assert (response.status_code, mns_error(response)["Code"]) == (400, "InvalidArgument")


def test_missing_date_header(session):
    response = mns_publish(session, message_xml("x"), omit=["Date"])
    assert (response.status_code, mns_error(response)["Code"]) == (400, "MissingDateHeader")


def test_unparseable_date_header(session):
    response = mns_publish(session, message_xml("x"), date="yesterday")
    assert (response.status_code, mns_error(response)["Code"]) == (400, "InvalidDateHeader")


def test_date_more_than_15_minutes_off(session):
    response = mns_publish(session, message_xml("x"), date=mns_date(timedelta(minutes=-16)))
    assert (response.status_code, mns_error(response)["Code"]) == (408, "TimeExpired")


def test_missing_authorization(session):
    response = mns_publish(session, message_xml("x"), omit=["Authorization"])
    assert (response.status_code, mns_error(response)["Code"]) == (400, "MissingAuthorizationHeader")


def test_unknown_access_key(session):
    response = mns_publish(session, message_xml("x"), ak="nobody")
    assert (response.status_code, mns_error(response)["Code"]) == (403, "InvalidAccessKeyId")


def test_wrong_secret(session, backend: EmulatorBackend):
    response = mns_publish(session, message_xml("x"), secret="wrong")
    assert (response.status_code, mns_error(response)["Code"]) == (403, "SignatureDoesNotMatch")
    assert backend.topic_messages(TOPIC) == []


def test_the_resource_includes_the_query_as_sent(session):
    assert mns_publish(session, message_xml("x"), query="a=1&b=x%20y").status_code == 201
    response = mns_publish(
        session, message_xml("x"), query="a=1", signed_resource=f"/topics/{TOPIC}/messages"
    )
    assert mns_error(response)["Code"] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("header", ["security-token", "x-mns-security-token"])
def test_sts_token_in_either_header(session, header: str):
    response = mns_publish(
        session, message_xml("x"), ak=STS_AK, secret=STS_SECRET, token=STS_TOKEN, token_header=header
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("token", [None, "other-token"])
def test_sts_token_missing_or_wrong(session, token):
    response = mns_publish(session, message_xml("x"), ak=STS_AK, secret=STS_SECRET, token=token)
    assert (response.status_code, mns_error(response)["Code"]) == (403, "AccessDenied")


def test_only_publish_is_served(session):
    response = session.get("https://123456.mns.cn-shanghai.aliyuncs.com/topics/vodai-callback")
    assert (response.status_code, mns_error(response)["Code"]) == (400, "InvalidRequestURL")


def test_request_log_has_no_token(session, backend: EmulatorBackend):
    mns_publish(session, message_xml("x", tag="t"), ak=STS_AK, secret=STS_SECRET, token=STS_TOKEN)
    (entry,) = backend.requests_log()
    assert (entry["service"], entry["action"], entry["status"]) == ("mns", "PublishMessage", 201)
    assert entry["params"] == {"TopicName": TOPIC, "MessageTag": "t"}
    assert entry["access_key_id"] == STS_AK
    assert STS_TOKEN not in str(entry)


# -- Content-MD5 and tokens ------------------------------------------------------------------


def _md5_forms(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body)
    return {
        "rfc1864": base64.b64encode(digest.digest()).decode(),
        "python-sdk": base64.b64encode(digest.hexdigest().encode()).decode(),  # base64 of the hex
    }


@pytest.mark.parametrize("form", ["rfc1864", "python-sdk"])
def test_content_md5_matching_the_body_is_accepted(session, backend: EmulatorBackend, form: str):
    xml = message_xml("original")
    response = mns_publish(session, xml, content_md5=_md5_forms(xml)[form])
    assert response.status_code == 201, response.text
    assert backend.topic_messages(TOPIC)[0]["MessageBody"] == "original"


@pytest.mark.parametrize("form", ["rfc1864", "python-sdk"])
def test_body_changed_under_the_old_content_md5_is_refused(session, backend: EmulatorBackend, form: str):
    signed_md5 = _md5_forms(message_xml("original"))[form]
    response = mns_publish(session, message_xml("swapped"), content_md5=signed_md5)
    assert response.status_code == 400
    assert mns_error(response)["Code"] == "InvalidDigest"
    assert backend.topic_messages(TOPIC) == []


@pytest.mark.parametrize("header", ["security-token", "x-mns-security-token"])
def test_token_with_a_key_that_has_none_is_refused(session, backend: EmulatorBackend, header: str):
    response = mns_publish(session, message_xml("x"), ak=AK, secret=SECRET, token="made-up", token_header=header)
    assert response.status_code == 403
    assert mns_error(response)["Code"] == "AccessDenied"
    assert backend.topic_messages(TOPIC) == []
