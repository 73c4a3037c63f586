"""The VOD client and the MNS publisher against in-process HTTP (responses): requests, results, typed errors."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from vodai.clients import MnsPublisher, VodClient, new_session
from vodai.credentials import Credentials
from vodai.exceptions import MnsApiError, TransportError, VodApiError
from vodai.signing import acs3, mns, rpc

CREDS = Credentials("AKID", "s3cr3t", "sts-token")
VOD = "http://vod.test"
MNS = "http://mns.test"


def _query(request) -> dict:
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


@responses.activate
@pytest.mark.parametrize("version", ["v3", "v1"])
def test_vod_submit_sends_region_and_a_verifiable_signature(version):
    responses.post(re.compile(VOD + ".*"), json={"RequestId": "r-1", "JobId": "job-1"})
    client = VodClient(CREDS, new_session(), endpoint=VOD, signature_version=version)
    params = {"VideoId": "v 1*~/+=&视频", "AITemplateId": "t", "UserData": '{"Extend":{"a":"b c"}}'}
    assert client.submit_ai_image_job("cn-beijing", params) == {"RequestId": "r-1", "JobId": "job-1"}
    sent = responses.calls[0].request
    query = _query(sent)
    assert query["RegionId"] == "cn-beijing" and query["VideoId"] == params["VideoId"]
    if version == "v1":
        assert query["SecurityToken"] == "sts-token" and query["Action"] == "SubmitAIImageJob"
        signature = query.pop("Signature")
        assert rpc.sign("POST", query, "s3cr3t") == signature
    else:
        parts = acs3.parse_authorization(sent.headers["Authorization"])
        assert sent.headers["x-acs-security-token"] == "sts-token"
        canonical = acs3.canonical_request("POST", "/", query, sent.headers, parts["SignedHeaders"].split(";"),
                                           sent.headers["x-acs-content-sha256"])
        assert acs3.signature("s3cr3t", canonical) == parts["Signature"]
        assert "x-acs-security-token" in parts["SignedHeaders"].split(";")


@responses.activate
@pytest.mark.parametrize(
    "status, code, retryable",
    [(400, "Throttling.User", True), (503, "ServiceUnavailable", True), (500, "InternalError", True),
     (400, "InvalidParameter", False), (400, "SignatureDoesNotMatch", False), (403, "Forbidden.RAM", False),
     (404, "InvalidAccessKeyId.NotFound", False)],
)
def test_vod_errors_are_typed_and_classified(status, code, retryable):
    responses.post(re.compile(VOD + ".*"), status=status,
                   json={"RequestId": "r-err", "HostId": "vod.test", "Code": code, "Message": "m", "Recommend": "x"})
    client = VodClient(CREDS, new_session(), endpoint=VOD)
    with pytest.raises(VodApiError) as info:
        client.submit_ai_image_audit_job("ap-southeast-1", {"MediaId": "m", "TemplateId": "t"})
    err = info.value
    assert (err.code, err.status, err.request_id, err.retryable, err.action) == (code, status, "r-err", retryable, "SubmitAIImageAuditJob")
    assert "s3cr3t" not in str(err) and "sts-token" not in str(err)


@responses.activate
def test_vod_non_json_error_still_typed():
    responses.post(re.compile(VOD + ".*"), status=502, body="<html>bad gateway</html>")
    with pytest.raises(VodApiError) as info:
        VodClient(CREDS, new_session(), endpoint=VOD).call("GetAIImageJobs", "cn-shanghai", {"JobIds": "a"})
    assert info.value.code == "HTTP502" and info.value.retryable


@responses.activate
@pytest.mark.parametrize("exc", [requests.ConnectTimeout, requests.ReadTimeout, requests.ConnectionError])
def test_transport_failures_are_retryable_transport_errors(exc):
    responses.post(re.compile(VOD + ".*"), body=exc("boom"))
    with pytest.raises(TransportError) as info:
        VodClient(CREDS, new_session(), endpoint=VOD).submit_ai_image_job("cn-shanghai", {"VideoId": "v", "AITemplateId": "t"})
    assert info.value.retryable


def test_get_ai_image_jobs_limits_ids_to_ten():
    with pytest.raises(ValueError):
        VodClient(CREDS, new_session(), endpoint=VOD).get_ai_image_jobs("cn-shanghai", [str(i) for i in range(11)])


def test_default_endpoint_is_regional_and_maps_hangzhou():
    client = VodClient(CREDS, new_session())
    assert client.prepare("GetAIImageJobs", "cn-beijing", {"JobIds": "x"}).url.startswith("https://vod.cn-beijing.aliyuncs.com/?")
    assert client.prepare("GetAIImageJobs", "cn-hangzhou", {"JobIds": "x"}).url.startswith("https://vod.cn-shanghai.aliyuncs.com/?")


@responses.activate
def test_mns_publish_escapes_body_and_signs():
    responses.post(f"{MNS}/topics/vodai-callback/messages", status=201,
                   body='<?xml version="1.0"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageId>MID</MessageId>'
                        "<MessageBodyMD5>ABC</MessageBodyMD5></Message>", headers={"x-mns-request-id": "rq"})
    pub = MnsPublisher(CREDS, new_session(), endpoint=MNS)
    assert pub.publish("vodai-callback", '{"a":"<b>&"}', tag="SubmitAIImageJob") == {"MessageId": "MID", "MessageBodyMD5": "ABC", "RequestId": "rq"}
    sent = responses.calls[0].request
    assert b'<MessageBody>{"a":"&lt;b&gt;&amp;"}</MessageBody>' in sent.body
    assert b"<MessageTag>SubmitAIImageJob</MessageTag>" in sent.body
    ak, sig = mns.parse_authorization(sent.headers["Authorization"])
    assert ak == "AKID" and sig == mns.sign("POST", "/topics/vodai-callback/messages", sent.headers, "s3cr3t")
    assert sent.headers["security-token"] == "sts-token"


@pytest.mark.parametrize("text", ["", "plain", "a&b<c>d", "&amp; already", "<<>>&&", '"quotes" \'too\'',
                                  "]]>", "视频 & ünïcode <x/>", "\n\t\r &#13;"])
def test_mns_body_escape_matches_the_standard_library(text):
    # The oracle: xml.sax.saxutils.escape, which the publisher no longer imports (cold start).
    from xml.sax.saxutils import escape as sax_escape

    from vodai.clients.mns import escape

    assert escape(text) == sax_escape(text)
    # And what an XML parser reads back is the text itself.
    from xml.etree import ElementTree
    assert (ElementTree.fromstring(f"<b>{escape(text)}</b>").text or "") == text.replace("\r\n", "\n").replace("\r", "\n")


@responses.activate
@pytest.mark.parametrize("body", [
    # The compact answer MNS sends (read without building a tree) ...
    '<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageId>5F29</MessageId>'
    "<MessageBodyMD5>C5DD</MessageBodyMD5></Message>",
    # ... and shapes it may also take: pretty-printed, other order, no namespace, an extra element.
    '<?xml version="1.0"?>\n<Message xmlns="http://mns.aliyuncs.com/doc/v1/">\n  <MessageId>5F29</MessageId>\n'
    "  <MessageBodyMD5>C5DD</MessageBodyMD5>\n</Message>",
    "<Message><MessageBodyMD5>C5DD</MessageBodyMD5><MessageId>5F29</MessageId></Message>",
    "<Message><MessageId>5F29</MessageId><MessageBodyMD5>C5DD</MessageBodyMD5><ReceiptHandle>r</ReceiptHandle></Message>",
])
def test_mns_publish_reads_every_answer_shape(body):
    responses.post(f"{MNS}/topics/t/messages", status=201, body=body, headers={"x-mns-request-id": "rq"})
    assert MnsPublisher(CREDS, new_session(), endpoint=MNS).publish("t", "x") == {
        "MessageId": "5F29", "MessageBodyMD5": "C5DD", "RequestId": "rq"}


@responses.activate
def test_mns_error_document_with_a_2xx_status_is_still_an_error():
    responses.post(f"{MNS}/topics/t/messages", status=200,
                   body='<Error xmlns="http://mns.aliyuncs.com/doc/v1/"><Code>InternalError</Code><Message>m</Message></Error>')
    with pytest.raises(MnsApiError) as info:
        MnsPublisher(CREDS, new_session(), endpoint=MNS).publish("t", "x")
    assert info.value.code == "InternalError"


def test_mns_tag_over_16_characters_is_refused_before_any_call():
    from vodai.exceptions import ParameterError

    with pytest.raises(ParameterError) as info:
        MnsPublisher(CREDS, new_session(), endpoint=MNS).publish("t", "x", tag="SubmitAIImageAuditJob")
    assert info.value.parameter == "MessageTag" and "16" in str(info.value)


@responses.activate
@pytest.mark.parametrize("status, code, retryable", [(404, "TopicNotExist", False), (500, "InternalError", True), (403, "AccessDenied", False)])
def test_mns_errors_are_typed(status, code, retryable):
    responses.post(f"{MNS}/topics/t/messages", status=status,
                   body=f'<Error xmlns="http://mns.aliyuncs.com/doc/v1/"><Code>{code}</Code><Message>m</Message>'
                        "<RequestId>rid</RequestId><HostId>h</HostId></Error>")
    with pytest.raises(MnsApiError) as info:
        MnsPublisher(CREDS, new_session(), endpoint=MNS).publish("t", "x")
    assert (info.value.code, info.value.status, info.value.request_id, info.value.retryable) == (code, status, "rid", retryable)


def test_a_renewed_queue_client_shares_no_connection():
    from vodai.clients.mns import MnsQueueClient
    from vodai.clients.session import new_session
    from vodai.credentials import Credentials

    client = MnsQueueClient(Credentials("ak-renewed", "secret-renewed"), new_session(), endpoint="http://mns.example/")
    copy = client.renewed()
    assert type(copy) is MnsQueueClient and copy.session is not client.session
    assert (copy.endpoint, copy.timeout, copy.credentials) == (client.endpoint, client.timeout, client.credentials)
