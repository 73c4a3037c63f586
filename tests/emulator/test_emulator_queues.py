"""MNS queues (SendMessage, for dead letters) through the in-process adapter."""

from __future__ import annotations

import hashlib
from xml.etree import ElementTree

import pytest
import requests

from vodai.emulator import EmulatorBackend, create_app

from .helpers import (
    QUEUE,
    STS_AK,
    STS_SECRET,
    STS_TOKEN,
    TOPIC,
    XMLNS,
    message_xml,
    mns_error,
    mns_publish,
    mns_send,
    queue_message_xml,
)


def test_send_stores_the_message_and_answers_201(session, backend: EmulatorBackend):
    body = '{"Reason": "failed <&> 视频"}'
    response = mns_send(session, queue_message_xml(body, delay_seconds="30", priority="2"), queue=QUEUE)

    assert response.status_code == 201, response.text
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{XMLNS}Message"
    answer = {child.tag.replace(XMLNS, ""): child.text for child in root}
    assert set(answer) == {"MessageId", "MessageBodyMD5"}
    assert answer["MessageBodyMD5"] == hashlib.md5(body.encode("utf-8")).hexdigest().upper()
    assert response.headers["x-mns-request-id"]

    (stored,) = backend.queue_messages(QUEUE)
    assert stored["MessageId"] == answer["MessageId"]
    assert (stored["MessageBody"], stored["DelaySeconds"], stored["Priority"]) == (body, 30, 2)
    assert stored["NextVisibleTime"] == stored["EnqueueTime"] + 30_000
    assert backend.topic_messages(TOPIC) == []


def test_send_defaults(session, backend: EmulatorBackend):
    assert mns_send(session, queue_message_xml("x"), queue=QUEUE).status_code == 201
    (stored,) = backend.queue_messages(QUEUE)
    assert (stored["DelaySeconds"], stored["Priority"]) == (0, 8)


def test_messages_keep_their_order(session, backend: EmulatorBackend):
    for i in range(3):
        mns_send(session, queue_message_xml(f"m{i}"), queue=QUEUE)
    assert [m["MessageBody"] for m in backend.queue_messages(QUEUE)] == ["m0", "m1", "m2"]


def test_unknown_queue(session):
    response = mns_send(session, queue_message_xml("x"), queue="no-such-queue")
    assert response.status_code == 404
    error = mns_error(response)
    assert error["Code"] == "QueueNotExist"
    assert error["Message"] == "The queue name you provided is not exist."
    assert error["HostId"] == "mns.cn-shanghai.aliyuncs.com"


def test_queues_and_topics_are_separate(session, backend: EmulatorBackend):
    # A queue is not a topic and a topic is not a queue.
    assert mns_error(mns_publish(session, message_xml("x"), topic=QUEUE))["Code"] == "TopicNotExist"
    assert mns_error(mns_send(session, queue_message_xml("x"), queue=TOPIC))["Code"] == "QueueNotExist"
    with pytest.raises(KeyError):
        backend.queue_messages(TOPIC)


@pytest.mark.parametrize(
    "delay,priority,name",
    [("-1", None, "DelaySeconds"), ("604801", None, "DelaySeconds"), ("soon", None, "DelaySeconds"),
     (None, "0", "Priority"), (None, "17", "Priority")],
)
def test_out_of_range_delay_or_priority(session, backend: EmulatorBackend, delay, priority, name):
    response = mns_send(session, queue_message_xml("x", delay, priority), queue=QUEUE)
    assert (response.status_code, mns_error(response)["Code"]) == (400, "InvalidArgument")
    assert name in mns_error(response)["Message"]
    assert backend.queue_messages(QUEUE) == []


@pytest.mark.parametrize("xml", [b"not xml", b"<Message><DelaySeconds>1</DelaySeconds></Message>"])
def test_bad_documents(session, xml: bytes):
    response = mns_send(session, xml, queue=QUEUE)
    assert response.status_code == 400
    assert mns_error(response)["Code"] in {"MalformedXML", "InvalidArgument"}


def test_same_signature_checks_as_topics(session, backend: EmulatorBackend):
    wrong = mns_send(session, queue_message_xml("x"), queue=QUEUE, secret="wrong")
    assert (wrong.status_code, mns_error(wrong)["Code"]) == (403, "SignatureDoesNotMatch")
    no_token = mns_send(session, queue_message_xml("x"), queue=QUEUE, ak=STS_AK, secret=STS_SECRET)
    assert (no_token.status_code, mns_error(no_token)["Code"]) == (403, "AccessDenied")
    with_token = mns_send(
        session, queue_message_xml("x"), queue=QUEUE, ak=STS_AK, secret=STS_SECRET, token=STS_TOKEN
    )
    assert with_token.status_code == 201
    assert len(backend.queue_messages(QUEUE)) == 1


@pytest.mark.parametrize("method,path", [("PATCH", f"/queues/{QUEUE}/messages"), ("GET", f"/topics/{TOPIC}/messages"),
                                         ("GET", f"/queues/{QUEUE}")])
def test_only_the_message_api_is_served(session, method: str, path: str):
    response = session.request(method, f"https://123456.mns.cn-shanghai.aliyuncs.com{path}")
    assert (response.status_code, mns_error(response)["Code"]) == (400, "InvalidRequestURL")


def test_a_deleted_message_cannot_be_deleted_twice(session, backend: EmulatorBackend):
    mns_send(session, queue_message_xml("body"), queue=QUEUE)
    (message,) = backend.receive_from_queue(QUEUE, 16)
    assert backend.delete_from_queue(QUEUE, message["ReceiptHandle"])
    assert not backend.delete_from_queue(QUEUE, message["ReceiptHandle"])  # gone
    assert backend.queue_messages(QUEUE) == []


def test_request_log(session, backend: EmulatorBackend):
    mns_send(session, queue_message_xml("x", "5", "3"), queue=QUEUE, ak=STS_AK, secret=STS_SECRET, token=STS_TOKEN)
    (entry,) = backend.requests_log()
    assert (entry["service"], entry["action"], entry["status"]) == ("mns", "SendMessage", 201)
    assert entry["params"] == {"QueueName": QUEUE, "DelaySeconds": 5, "Priority": 3}
    assert STS_TOKEN not in str(entry)


def test_reset_empties_queues_but_keeps_them(session, backend: EmulatorBackend):
    mns_send(session, queue_message_xml("x"), queue=QUEUE)
    backend.reset()
    assert backend.queue_messages(QUEUE) == []
    assert mns_send(session, queue_message_xml("y"), queue=QUEUE).status_code == 201


def test_send_message_faults(session, backend: EmulatorBackend):
    backend.faults.extend(["PublishMessage:error=InternalError", "SendMessage:error=ServiceUnavailable,times=1"])

    failed = mns_send(session, queue_message_xml("x"), queue=QUEUE)
    assert (failed.status_code, mns_error(failed)["Code"]) == (503, "ServiceUnavailable")
    assert backend.queue_messages(QUEUE) == []
    assert mns_send(session, queue_message_xml("x"), queue=QUEUE).status_code == 201
    assert backend.requests_log()[0]["fault_rule"] == "SendMessage:error=ServiceUnavailable/503,times=1"


def test_star_faults_apply_to_queues(session, backend: EmulatorBackend):
    backend.faults.add("*:lost")
    with pytest.raises(requests.ConnectionError):
        mns_send(session, queue_message_xml("x"), queue=QUEUE)
    assert [m["MessageBody"] for m in backend.queue_messages(QUEUE)] == ["x"]


def test_control_api_lists_queue_messages(backend: EmulatorBackend):
    backend.send_to_queue(QUEUE, "dead", delay_seconds=0, priority=8)
    client = create_app(backend).test_client()
    (message,) = client.get(f"/_emulator/queues/{QUEUE}/messages").get_json()
    assert message["MessageBody"] == "dead"
    assert client.get("/_emulator/queues/nope/messages").status_code == 404
