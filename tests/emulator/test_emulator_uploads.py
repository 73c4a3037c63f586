"""Uploads and VOD's deliveries: signed HTTP callbacks with VOD's retry rule, MNS queues and
topics, FC topic triggers in STREAM and JSON shapes, and the AIMediaAuditComplete event.

The other end of every HTTP delivery is a real :class:`Receiver` on a local port; attempts are
counted, never timed (retry pauses are 0 in these tests)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime, timezone

import pytest

from _servers import Answer, Receiver
from vodai.callback.auth import CallbackAuthError, verify
from vodai.emulator import Clock, EmulatorBackend, Subscription
from vodai.events import samples
from vodai.events.envelopes import unwrap

from .helpers import AK, SECRET, get_audit, submit_audit

AUTH_KEY = "EmulatorKey2024"


def _body(record: dict) -> dict:
    return json.loads(record["Body"])


# -- the upload and its event --------------------------------------------------------------


@pytest.mark.parametrize("media_type", ["video", "audio", "image", "attached"])
def test_upload_event_is_what_samples_builds(backend: EmulatorBackend, clock: Clock, media_type: str):
    result = backend.upload(media_type, "cn-beijing", media_id="m" * 32, extend={"k": "v"})

    when = datetime.fromtimestamp(clock.now(), tz=timezone.utc)
    expected = samples.body(media_type, region="cn-beijing", media_id="m" * 32, event_time=when, extend={"k": "v"})
    assert result["Event"] == expected
    assert result["MediaId"] == "m" * 32
    assert result["Delivery"] is None  # no callback configured
    assert backend.get_media("m" * 32)["Event"] == expected


def test_upload_defaults(backend: EmulatorBackend):
    event = backend.upload("image", "ap-southeast-1")["Event"]
    assert len(event["ImageId"]) == 32 and "Extend" not in event
    assert ".oss-ap-southeast-1.aliyuncs.com/" in event["FileURL"]
    assert event["EventTime"].count(":") == 3  # the colon-milliseconds style of image events


def test_upload_keeps_the_file_extension(backend: EmulatorBackend):
    event = backend.upload("audio", "cn-shanghai", media_id="a1", file_name="Song.M4A")["Event"]
    assert event["FileUrl"].endswith("/a1.m4a")
    assert backend.get_media("a1")["FileName"] == "Song.M4A"


@pytest.mark.parametrize(
    "kwargs",
    [{"media_type": "hologram"}, {"region": "Shanghai"}, {"extend": {"x": "y" * 600}}, {"media_id": ""}],
)
def test_bad_uploads_are_refused(backend: EmulatorBackend, kwargs: dict):
    args = {"media_type": "video", "region": "cn-shanghai", **kwargs}
    with pytest.raises(ValueError):
        backend.upload(args.pop("media_type"), args.pop("region"), **args)
    assert backend.media() == []


# -- HTTP callback ---------------------------------------------------------------------------


def test_signed_http_callback_verifies(backend: EmulatorBackend):
    with Receiver() as receiver:
        url = f"{receiver.url}/vod/callback?region=cn-shanghai"
        backend.set_callback(url=url, auth_key=AUTH_KEY)
        result = backend.upload("video", "cn-shanghai", extend={"a": 1})
        assert backend.deliveries.wait(10)
        (request,) = receiver.requests

    assert (request.method, request.path) == ("POST", "/vod/callback?region=cn-shanghai")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == result["Event"]
    verify(request.headers, url=url, keys=[AUTH_KEY], window=300, now=time.time())
    with pytest.raises(CallbackAuthError):
        verify(request.headers, url=url, keys=["OtherKey1"], window=300, now=time.time())
    (record,) = backend.deliveries.log()
    assert (record["Kind"], record["Result"], record["Signed"]) == ("http-callback", "delivered", True)
    assert AUTH_KEY not in json.dumps(record)


def test_unsigned_callback_has_no_vod_headers(backend: EmulatorBackend):
    with Receiver() as receiver:
        backend.set_callback(url=receiver.url + "/cb")
        backend.upload("video", "cn-shanghai")
        (request,) = receiver.wait_for(1)
    assert "X-VOD-SIGNATURE" not in request.headers and "X-VOD-TIMESTAMP" not in request.headers


def test_callback_retries_twice_then_succeeds(backend: EmulatorBackend):
    with Receiver([Answer(500), Answer(503)]) as receiver:
        backend.set_callback(url=receiver.url, auth_key=AUTH_KEY)
        backend.upload("video", "cn-shanghai")
        assert backend.deliveries.wait(10)
        assert len(receiver.requests) == 3
        bodies = {r.body for r in receiver.requests}

    (record,) = backend.deliveries.log()
    assert [a["Status"] for a in record["Attempts"]] == [500, 503, 200]
    assert record["Result"] == "delivered"
    assert len(bodies) == 1  # the same event each time


def test_callback_dropped_after_three_failures(backend: EmulatorBackend):
    with Receiver(default=Answer(500)) as receiver:
        backend.set_callback(url=receiver.url)
        backend.upload("video", "cn-shanghai")
        assert backend.deliveries.wait(10)
        assert len(receiver.requests) == 3

    (record,) = backend.deliveries.log()
    assert record["Result"] == "dropped" and [a["Attempt"] for a in record["Attempts"]] == [1, 2, 3]


def test_only_http_200_counts(backend: EmulatorBackend):
    with Receiver([Answer(204), Answer(302, {"Location": "/elsewhere"})]) as receiver:
        backend.set_callback(url=receiver.url)
        backend.upload("video", "cn-shanghai")
        assert backend.deliveries.wait(10)
    (record,) = backend.deliveries.log()
    assert [a["Status"] for a in record["Attempts"]] == [204, 302, 200]


def test_a_slow_answer_is_a_failed_attempt(backend: EmulatorBackend):
    backend.deliveries.configure(http_timeout=0.2)  # VOD: 5 s
    with Receiver([Answer(delay=1.0)]) as receiver:
        backend.set_callback(url=receiver.url)
        backend.upload("video", "cn-shanghai")
        assert backend.deliveries.wait(10)
    (record,) = backend.deliveries.log()
    assert [a["Status"] for a in record["Attempts"]] == [None, 200]
    assert record["Attempts"][0]["Error"] == "ReadTimeout"


def test_upload_never_waits_for_the_delivery(backend: EmulatorBackend):
    release = threading.Event()
    with Receiver([Answer(block=release)]) as receiver:
        backend.set_callback(url=receiver.url)
        result = backend.upload("video", "cn-shanghai")
        receiver.wait_for(1)  # the receiver holds the request...
        assert result["Delivery"]["Result"] == "pending"  # ...and upload() has long returned
        assert backend.deliveries.pending() == 1
        release.set()
        assert backend.deliveries.wait(10)
    assert backend.deliveries.log()[0]["Result"] == "delivered"


def test_region_setting_beats_the_default(backend: EmulatorBackend):
    backend.create_queue("beijing-events")
    backend.create_queue("other-events")
    backend.set_callback("cn-beijing", mns="queue:beijing-events")
    backend.set_callback(mns="queue:other-events")

    backend.upload("video", "cn-beijing", media_id="b")
    backend.upload("video", "cn-shanghai", media_id="s")
    assert backend.deliveries.wait(10)

    assert [json.loads(m["MessageBody"])["VideoId"] for m in backend.queue_messages("beijing-events")] == ["b"]
    assert [json.loads(m["MessageBody"])["VideoId"] for m in backend.queue_messages("other-events")] == ["s"]
    assert backend.clear_callback("cn-beijing") and not backend.clear_callback("cn-beijing")
    assert backend.callback_for("cn-beijing").name == "other-events"


def test_event_type_filter(backend: EmulatorBackend):
    backend.create_queue("q")
    backend.set_callback(mns="queue:q", event_types=["ImageUploadComplete"])
    assert backend.upload("video", "cn-shanghai")["Delivery"] is None
    assert backend.upload("image", "cn-shanghai")["Delivery"] is not None
    assert backend.deliveries.wait(10)
    assert len(backend.queue_messages("q")) == 1


# -- MNS -------------------------------------------------------------------------------------


def test_mns_queue_delivery(backend: EmulatorBackend):
    backend.create_queue("vod-events")
    backend.set_callback(mns="queue:vod-events")
    event = backend.upload("image", "ap-southeast-1", media_id="img-1")["Event"]
    assert backend.deliveries.wait(10)

    (message,) = backend.queue_messages("vod-events")
    assert json.loads(message["MessageBody"]) == event
    assert message["MessageBodyMD5"] == hashlib.md5(message["MessageBody"].encode()).hexdigest().upper()
    (record,) = backend.deliveries.log()
    assert (record["Kind"], record["Result"], record["MessageId"]) == ("mns-queue", "delivered", message["MessageId"])


def test_mns_topic_delivery(backend: EmulatorBackend):
    backend.create_topic("vod-events")
    backend.set_callback(mns="topic:vod-events")
    event = backend.upload("video", "cn-shanghai")["Event"]
    assert backend.deliveries.wait(10)
    (message,) = backend.topic_messages("vod-events")
    assert json.loads(message["MessageBody"]) == event and message["MessageTag"] is None


def test_missing_queue_drops_the_event(backend: EmulatorBackend):
    backend.set_callback(mns="queue:nowhere")
    backend.upload("video", "cn-shanghai")
    assert backend.deliveries.wait(10)
    (record,) = backend.deliveries.log()
    assert record["Result"] == "dropped" and "QueueNotExist" in record["Error"]


# -- FC MNS topic triggers -------------------------------------------------------------------


def test_trigger_stream_format(backend: EmulatorBackend):
    backend.set_callback(mns="topic:vod-events")
    with Receiver() as function:
        backend.subscribe("vod-events", function.url, "STREAM", function_name="on_upload")
        event = backend.upload("video", "cn-shanghai")["Event"]
        assert backend.deliveries.wait(10)
        (request,) = function.requests

    assert (request.method, request.path) == ("POST", "/invoke")
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert json.loads(request.body) == event  # STREAM: the message body as is
    headers = request.headers
    assert headers["x-fc-function-name"] == "on_upload"
    assert headers["x-fc-request-id"]
    assert (headers["x-fc-access-key-id"], headers["x-fc-access-key-secret"]) == (AK, SECRET)
    assert "x-fc-security-token" not in headers  # the first key has none
    assert headers["x-fc-account-id"] == backend.account_id
    kinds = [(r["Kind"], r["Result"]) for r in backend.deliveries.log()]
    assert kinds == [("mns-topic", "delivered"), ("fc-trigger", "delivered")]


def test_trigger_json_format(backend: EmulatorBackend):
    backend.set_callback(mns="topic:vod-events")
    with Receiver() as function:
        backend.subscribe("vod-events", function.url + "/invoke", "JSON", name="vodai-fc")
        event = backend.upload("image", "ap-southeast-1")["Event"]
        assert backend.deliveries.wait(10)
        (request,) = function.requests

    (message,) = backend.topic_messages("vod-events")
    envelope = json.loads(request.body)
    assert set(envelope) == {"TopicOwner", "Message", "Subscriber", "PublishTime", "SubscriptionName",
                             "MessageMD5", "TopicName", "MessageId"}
    assert json.loads(envelope["Message"]) == event
    assert (envelope["TopicName"], envelope["SubscriptionName"]) == ("vod-events", "vodai-fc")
    assert (envelope["MessageId"], envelope["MessageMD5"], envelope["PublishTime"]) == (
        message["MessageId"], message["MessageBodyMD5"], message["PublishTime"]
    )
    assert envelope["TopicOwner"] == envelope["Subscriber"] == backend.account_id
    # vodai's own parser reads it as the FC topic trigger's JSON shape.
    (piece,) = unwrap(request.body)
    assert piece.shape == "mns-topic-json"


def test_trigger_stream_with_attributes(backend: EmulatorBackend):
    with Receiver() as function:
        backend.subscribe("t1", function.url)
        backend.publish("t1", "hello", None, attributes={"Extend": '{"origin":"vod"}'})
        (request,) = function.wait_for(1)
    assert json.loads(request.body) == {"body": "hello", "attrs": {"Extend": '{"origin":"vod"}'}}


def test_trigger_carries_the_sts_credentials(backend: EmulatorBackend):
    from vodai.emulator import Credentials

    backend.trigger_credentials = Credentials("STS.role", "role-secret", "role-token")
    with Receiver() as function:
        backend.subscribe("t1", function.url)
        backend.publish("t1", "x", None)
        (request,) = function.wait_for(1)
    assert (request.headers["x-fc-access-key-id"], request.headers["x-fc-security-token"]) == ("STS.role", "role-token")
    assert "role-secret" not in json.dumps(backend.deliveries.log())


def test_trigger_retries_on_errors_and_fc_status(backend: EmulatorBackend):
    failed_invocation = Answer(404, {"x-fc-status": "404"}, b'{"errorMessage": "boom"}')
    with Receiver([Answer(500), failed_invocation]) as function:
        backend.subscribe("t1", function.url)
        backend.publish("t1", "x", None)
        assert backend.deliveries.wait(10)
        assert len(function.requests) == 3
        retry_counts = [r.headers["x-fc-retry-count"] for r in function.requests]

    (record,) = backend.deliveries.log()
    assert [(a["Status"], a.get("FcStatus")) for a in record["Attempts"]] == [(500, None), (404, "404"), (200, None)]
    assert record["Result"] == "delivered" and retry_counts == ["0", "1", "2"]
    assert len({a["RequestId"] for a in record["Attempts"]}) == 3


def test_trigger_2xx_with_fc_status_404_is_a_failure(backend: EmulatorBackend):
    with Receiver(default=Answer(200, {"x-fc-status": "404"})) as function:
        backend.subscribe("t1", function.url)
        backend.publish("t1", "x", None)
        assert backend.deliveries.wait(10)
        assert len(function.requests) == 3
    assert backend.deliveries.log()[0]["Result"] == "dropped"


def test_trigger_filter_tag(backend: EmulatorBackend):
    with Receiver() as function:
        backend.subscribe("t1", function.url, filter_tag="AIImageJob")
        backend.publish("t1", "skipped", "Other")
        backend.publish("t1", "taken", "AIImageJob")
        assert backend.deliveries.wait(10)
        assert [r.body for r in function.requests] == [b"taken"]


def test_mns_publish_runs_the_triggers(session, backend: EmulatorBackend):
    from .helpers import TOPIC, message_xml, mns_publish

    with Receiver() as function:
        backend.subscribe(TOPIC, function.url, "JSON")
        assert mns_publish(session, message_xml("from vodai", "AIImageJob")).status_code == 201
        (request,) = function.wait_for(1)
    assert json.loads(request.body)["Message"] == "from vodai"


def test_subscription_spec():
    sub = Subscription.parse("vod-events=http://127.0.0.1:9000/invoke,format=json,function=on_upload,tag=T1")
    assert (sub.topic, sub.url, sub.format, sub.function_name, sub.filter_tag) == (
        "vod-events", "http://127.0.0.1:9000", "JSON", "on_upload", "T1"
    )
    assert Subscription.parse(sub.spec()) == sub
    for bad in ("vod-events", "=http://x", "t=ftp://x", "t=http://x,format=XML", "t=http://x,color=red"):
        with pytest.raises(ValueError):
            Subscription.parse(bad)


# -- AIMediaAuditComplete ----------------------------------------------------------------------


def test_audit_completion_is_delivered_once(session, backend: EmulatorBackend, clock: Clock):
    backend.create_queue("vod-events")
    backend.set_callback(mns="queue:vod-events")
    backend.set_lifecycle("SubmitAIImageAuditJob", "after_queries=1", suggestion="review")
    job_id = submit_audit(session, MediaId="img-9")

    for _ in range(5):
        job = get_audit(session, job_id)
    backend.advance(3600)
    assert backend.deliveries.wait(10)

    (message,) = backend.queue_messages("vod-events")
    event = json.loads(message["MessageBody"])
    assert event == {
        "EventTime": event["EventTime"],
        "EventType": "AIMediaAuditComplete",
        "JobId": job_id,
        "MediaId": "img-9",
        "Status": "success",
        "Code": "0",
        "Message": "OK",
        "Data": job["MediaAuditJob"]["Data"],
    }
    assert event["Data"]["Suggestion"] == "review"
    assert event["EventTime"].count(":") == 3 and event["EventTime"].endswith("Z")


def test_each_audit_job_gets_its_own_event(session, backend: EmulatorBackend):
    backend.create_queue("q")
    backend.set_callback(mns="queue:q")
    backend.set_lifecycle("SubmitAIImageAuditJob", "at_once")
    ids = [submit_audit(session, MediaId=f"img-{i}") for i in range(3)]
    for job_id in ids:
        get_audit(session, job_id)
    assert backend.deliveries.wait(10)
    events = [json.loads(m["MessageBody"]) for m in backend.queue_messages("q")]
    assert sorted(e["JobId"] for e in events) == sorted(ids)


def test_failed_audit_event(session, backend: EmulatorBackend, clock: Clock):
    backend.create_queue("q")
    backend.set_callback(mns="queue:q")
    backend.set_lifecycle("SubmitAIImageAuditJob", "after_seconds=10", outcome="fail", code="AuditError")
    submit_audit(session)
    backend.advance(10)
    assert backend.deliveries.wait(10)
    (message,) = backend.queue_messages("q")
    event = json.loads(message["MessageBody"])
    assert (event["Status"], event["Code"], event["Data"]) == ("fail", "AuditError", {})


def test_ai_image_jobs_send_no_event(session, backend: EmulatorBackend):
    from .helpers import submit_job

    backend.create_queue("q")
    backend.set_callback(mns="queue:q")
    backend.set_lifecycle("SubmitAIImageJob", "at_once")
    submit_job(session)
    assert backend.deliveries.wait(10)
    assert backend.queue_messages("q") == [] and backend.deliveries.log() == []


def test_reset_forgets_media_and_deliveries(backend: EmulatorBackend):
    backend.create_queue("q")
    backend.set_callback(mns="queue:q")
    backend.upload("video", "cn-shanghai")
    assert backend.deliveries.wait(10)
    backend.reset()
    assert backend.media() == [] and backend.deliveries.log() == []
    assert backend.callback_for("cn-shanghai") is not None  # configuration is kept
