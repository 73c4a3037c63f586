"""The WSGI callback function through werkzeug's test client, publishing to the in-process emulator."""

import base64
import io
import json
import threading

import pytest
from werkzeug.test import Client, EnvironBuilder

from vodai.callback import MESSAGE_TAG, CallbackApp, mns_publisher_factory
from vodai.clients import new_session
from vodai.local_context import LocalContext, LocalCredentials
from vodai.emulator import mount
from vodai.events.envelopes import unwrap
from vodai.events.models import parse_event
from vodai.idempotency import open_store
from vodai.pipeline import SUBMITTED, build, dispatch

from .helpers import (
    AK, AUTH_KEY, EMULATOR_URL, EVENT, NEW_KEY, NOW, PATH, SECRET, TOKEN,
    body, fc_context, settings, signed_headers, silent_tcp_server, target,
)


def post(app, *, data=None, headers=None, query="", context="default", **kw):
    environ = {"REMOTE_ADDR": "203.0.113.7"}
    if context == "default":
        context = fc_context()
    if context is not None:
        environ["fc.context"] = context
    response = Client(app).post(
        PATH + (f"?{query}" if query else ""),
        data=body() if data is None else data,
        headers=signed_headers() if headers is None else headers,
        environ_base=environ,
        **kw,
    )
    return response.status_code, json.loads(response.get_data()), response


def test_accepted_event_is_on_the_events_topic_with_its_region():
    t = target()
    status, doc, response = post(t.app)
    assert status == 200, doc
    assert response.headers["Content-Type"].startswith("application/json")
    [message] = t.messages()
    assert doc == {"accepted": True, "MessageId": message["MessageId"]}
    assert message["MessageTag"] == MESSAGE_TAG == "VodEvent"

    envelope = json.loads(message["MessageBody"])
    assert envelope["version"] == "v1" and envelope["isBase64Encoded"] is True
    assert base64.b64decode(envelope["body"]) == body()  # byte for byte
    assert envelope["queryParameters"] == {"region": "cn-beijing"}
    assert envelope["rawPath"] == PATH
    assert envelope["requestContext"]["requestId"] == "req-callback-1"
    assert envelope["requestContext"]["http"]["sourceIp"] == "203.0.113.7"
    # Neither the signature nor the timestamp travels on.
    assert {k.lower() for k in envelope["headers"]} == {"content-type"}
    assert signed_headers()["X-VOD-SIGNATURE"] not in message["MessageBody"]

    [record] = unwrap(message["MessageBody"].encode("utf-8"))
    assert record.error is None and record.shape == "http-trigger"
    assert record.body == EVENT
    assert (record.region, record.region_source) == ("cn-beijing", "query")
    assert record.source_id == "req-callback-1"
    assert parse_event(record.body).media_id == EVENT["VideoId"]


def test_on_upload_runs_the_handed_off_message_in_the_callback_urls_region():
    """What the callback publishes is what on_upload's topic trigger gets (STREAM: the raw body)."""
    t = target()
    assert post(t.app)[0] == 200
    [message] = t.messages()
    t.backend.create_topic("vodai-callback")
    t.backend.add_media("video", "cn-beijing", media_id=EVENT["VideoId"])  # on_upload checks it with VOD
    session = new_session()
    mount(t.backend, session)
    conf = settings(vod_endpoint=EMULATOR_URL, ai_template_id="tpl-ai")
    context = fc_context()
    deps = build(conf, context=context, session=session, store=open_store("memory://"))
    [outcome] = dispatch(message["MessageBody"].encode("utf-8"), deps, context=context).outcomes
    assert outcome.status == SUBMITTED, outcome.reason
    assert (outcome.region, outcome.region_source) == ("cn-beijing", "envelope:query")
    assert outcome.media_id == EVENT["VideoId"]


def test_one_function_serves_several_regions_through_the_signed_query():
    t = target(callback_url="https://cb.example.com/vod/callback")
    url = "https://cb.example.com/vod/callback?region=ap-southeast-1"
    status, doc, _ = post(t.app, query="region=ap-southeast-1", headers=signed_headers(url=url))
    assert status == 200, doc
    [record] = unwrap(t.messages()[0]["MessageBody"])
    assert record.region == "ap-southeast-1"


def test_a_region_changed_after_signing_is_refused():
    t = target()
    # Signed for the configured ?region=cn-beijing, delivered with another region.
    status, doc, _ = post(t.app, query="region=cn-shanghai")
    assert (status, doc["error"]) == (401, "unauthorized")
    assert t.messages() == []


def test_region_of_the_configured_url_when_the_request_has_no_query():
    t = target()
    assert post(t.app, query="")[0] == 200
    assert unwrap(t.messages()[0]["MessageBody"])[0].region == "cn-beijing"


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "X-VOD-TIMESTAMP header missing"),
        ({"X-VOD-TIMESTAMP": str(NOW)}, "X-VOD-SIGNATURE header missing"),
        (signed_headers(key="WrongKey1"), "does not match"),
        (signed_headers(timestamp=NOW - 301), "outside the 300 s window"),
        (signed_headers(timestamp=NOW + 301), "in the future"),
        ({**signed_headers(), "X-VOD-TIMESTAMP": "17000000000"}, "10 digits"),
    ],
    ids=["unsigned", "no-signature", "wrong-key", "stale", "future", "bad-timestamp"],
)
def test_unauthenticated_callbacks_get_401(headers, reason):
    t = target()
    status, doc, _ = post(t.app, headers=headers)
    assert status == 401
    assert doc["error"] == "unauthorized" and reason in doc["reason"]
    assert t.messages() == []


def test_key_rotation_accepts_old_and_new_keys():
    t = target(callback_auth_key=f"{AUTH_KEY}, {NEW_KEY}")
    assert post(t.app, headers=signed_headers(key=AUTH_KEY))[0] == 200
    assert post(t.app, headers=signed_headers(key=NEW_KEY))[0] == 200
    assert post(t.app, headers=signed_headers(key="ThirdKey789"))[0] == 401
    assert len(t.messages()) == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_other_methods_get_405(method):
    t = target()
    response = Client(t.app).open(PATH, method=method, headers=signed_headers())
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    if method != "HEAD":
        assert json.loads(response.get_data())["error"] == "method_not_allowed"
    assert t.messages() == []


def test_body_over_the_limit_gets_413():
    t = target(callback_max_body=1024)
    big = body({**EVENT, "Extend": "x" * 2000})
    status, doc, _ = post(t.app, data=big)
    assert (status, doc["error"]) == (413, "too_large")
    assert "VODAI_CALLBACK_MAX_BODY" in doc["reason"]
    assert post(t.app, data=body())[0] == 200  # a body under the limit passes
    assert len(t.messages()) == 1


def _raw_environ(data: bytes, **overrides) -> dict:
    builder = EnvironBuilder(path=PATH, method="POST", headers=signed_headers(), input_stream=io.BytesIO(data))
    environ = builder.get_environ()
    environ.update(overrides)
    environ["fc.context"] = fc_context()
    return environ


def _call(app, environ):
    seen = {}
    chunks = app(environ, lambda status, headers: seen.update(status=status, headers=headers))
    return int(seen["status"].split()[0]), json.loads(b"".join(chunks))


class _CountingStream(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.requested = []

    def read(self, size=-1):
        self.requested.append(size)
        return super().read(size)


def test_chunked_body_is_read_to_at_most_limit_plus_one_byte():
    t = target(callback_max_body=1024)
    stream = _CountingStream(b"{" + b" " * 5000 + b"}")
    environ = _raw_environ(b"", **{"wsgi.input": stream, "wsgi.input_terminated": True})
    environ.pop("CONTENT_LENGTH", None)
    assert _call(t.app, environ)[0] == 413
    assert stream.requested == [1025]

    ok = _raw_environ(b"", **{"wsgi.input": io.BytesIO(body()), "wsgi.input_terminated": True})
    ok.pop("CONTENT_LENGTH", None)
    assert _call(t.app, ok)[0] == 200


def test_declared_content_length_over_the_limit_is_refused_without_reading():
    t = target(callback_max_body=1024)
    stream = _CountingStream(body())
    environ = _raw_environ(b"", **{"wsgi.input": stream, "CONTENT_LENGTH": "999999"})
    assert _call(t.app, environ)[0] == 413
    assert stream.requested == []
    exact = _CountingStream(body() + b"trailing bytes of the next request")
    environ = _raw_environ(b"", **{"wsgi.input": exact, "CONTENT_LENGTH": str(len(body()))})
    assert _call(t.app, environ)[0] == 200
    assert exact.requested == [len(body())]  # never past Content-Length
    bad = _raw_environ(body(), CONTENT_LENGTH="12x")
    status, doc = _call(t.app, bad)
    assert (status, doc["reason"]) == (400, "Content-Length: not a number")


def test_body_too_big_for_one_mns_message_gets_413():
    t = target(callback_max_body=65536)  # a limit that lets through bodies whose base64 exceeds MNS's 64 KiB
    big = body({**EVENT, "Extend": json.dumps({"pad": "x" * 55000})})
    status, doc, _ = post(t.app, data=big)
    assert (status, doc["error"]) == (413, "too_large")
    assert "MNS" in doc["reason"]
    assert t.messages() == []


@pytest.mark.parametrize(
    "data, field",
    [
        (b"", "body: empty"),
        (b"not json", "body: not JSON"),
        (b"\xff\xfe", "body: not JSON"),
        (b"[1, 2]", "body: expected a JSON object"),
        (b"null", "body: expected a JSON object"),
        (json.dumps({"Status": "success"}).encode(), "EventType: missing"),
        (json.dumps({k: v for k, v in EVENT.items() if k != "VideoId"}).encode(), "VideoId: missing"),
        (json.dumps({**EVENT, "Size": "big"}).encode(), "Size:"),
    ],
    ids=["empty", "not-json", "not-utf8", "list", "null", "no-event-type", "no-video-id", "bad-size"],
)
def test_malformed_authenticated_body_gets_400_and_is_not_handed_off(data, field):
    t = target()
    status, doc, _ = post(t.app, data=data)
    assert status == 400
    assert doc["error"] == "bad_request" and doc["reason"].startswith(field)
    assert t.messages() == []


def test_other_event_types_are_handed_off_for_on_upload_to_decide():
    t = target()
    other = {"EventType": "VideoAnalysisComplete", "VideoId": "v-1", "Status": "success"}
    assert post(t.app, data=body(other))[0] == 200
    assert unwrap(t.messages()[0]["MessageBody"])[0].body == other


def test_missing_topic_gets_503():
    t = target(topics=())
    status, doc, _ = post(t.app)
    assert status == 503
    assert doc["error"] == "unavailable" and "TopicNotExist" in doc["reason"]


def test_rejected_credentials_get_503_without_echoing_them():
    t = target()
    context = LocalContext(credentials=LocalCredentials(AK, "not-the-secret", TOKEN))
    status, doc, _ = post(t.app, context=context)
    assert status == 503 and "SignatureDoesNotMatch" in doc["reason"]
    assert "not-the-secret" not in json.dumps(doc) and TOKEN not in json.dumps(doc)


def test_credentials_come_from_the_environment_without_an_fc_context(monkeypatch):
    t = target()
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    status, doc, _ = post(t.app, context=None)
    assert (status, doc["error"]) == (500, "misconfigured")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in doc["reason"]
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    assert post(t.app, context=None)[0] == 200


def test_context_credentials_are_preferred_over_the_environment(monkeypatch):
    t = target()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-env-not-registered")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
    assert post(t.app)[0] == 200


def test_mns_endpoint_from_account_and_region_of_the_context():
    seen = []

    def factory(context, timeout):
        from vodai.callback import mns_base_url

        seen.append(mns_base_url(conf, context))
        raise AssertionError("stop here")

    conf = settings(mns_endpoint=None, mns_region="cn-hangzhou")
    status, _, _ = post(CallbackApp(conf, factory, clock=lambda: NOW))
    assert status == 500
    assert seen == ["https://1234567890123456.mns.cn-hangzhou.aliyuncs.com"]


def test_timeouts_are_derived_from_the_budget():
    seen = []

    class Recorder:
        def publish(self, topic, body, tag=None):
            return {"MessageId": "M1"}

    def factory(context, timeout):
        seen.append(timeout)
        return Recorder()

    frozen = lambda: 100.0  # noqa: E731 - a clock that does not move: the whole budget is left
    app = CallbackApp(settings(callback_budget=2.0, connect_timeout=1.0), factory, clock=lambda: NOW, monotonic=frozen)
    assert post(app)[:2] == (200, {"accepted": True, "MessageId": "M1"})
    app = CallbackApp(settings(callback_budget=2.5), factory, clock=lambda: NOW, monotonic=frozen)
    assert post(app)[0] == 200
    assert seen == [(1.0, 2.0), (2.5, 2.5)]


def test_no_publish_is_attempted_once_the_budget_is_spent():
    ticks = iter([0.0, 10.0])  # the budget starts at 0; by the hand-off 10 s have passed
    calls = []
    app = CallbackApp(settings(), lambda c, t: calls.append(t), clock=lambda: NOW, monotonic=lambda: next(ticks, 10.0))
    status, doc, _ = post(app)
    assert status == 503 and "budget" in doc["reason"]
    assert calls == []


def test_budget_fires_when_mns_accepts_the_connection_but_never_answers():
    with silent_tcp_server() as (port, accepted):
        conf = settings(mns_endpoint=f"http://127.0.0.1:{port}", callback_budget=0.5)
        app = CallbackApp(conf, mns_publisher_factory(conf, session=new_session()), clock=lambda: NOW)
        status, doc, _ = post(app)
        assert accepted.is_set()  # the request reached the server: it was the answer that never came
    assert status == 503
    assert doc["error"] == "unavailable" and "budget of 0.5 s exhausted" in doc["reason"]


def test_budget_bounds_a_publish_that_hangs_outside_any_socket_timeout():
    release = threading.Event()

    class Hanging:  # e.g. stuck in DNS resolution, which no socket timeout covers
        def publish(self, topic, body, tag=None):
            release.wait(30)
            return {"MessageId": "late"}

    app = CallbackApp(settings(callback_budget=0.3), lambda c, t: Hanging(), clock=lambda: NOW)
    try:
        status, doc, _ = post(app)
    finally:
        release.set()
    assert status == 503 and "budget of 0.3 s exhausted" in doc["reason"]


def test_unauthenticated_opt_out_accepts_unsigned_callbacks():
    t = target(callback_auth_key=None, callback_url=None, callback_allow_unauthenticated=True)
    assert t.app.startup_error is None
    status, doc, _ = post(t.app, headers={"Content-Type": "application/json"}, query="region=cn-shanghai")
    assert status == 200, doc
    [record] = unwrap(t.messages()[0]["MessageBody"])
    assert (record.body, record.region) == (EVENT, "cn-shanghai")


def _queue_target(create_queue=True, **update):
    """The callback as FC 3.0's template deploys it: events to a queue, the URL from the request."""
    from vodai.emulator import EmulatorBackend

    backend = EmulatorBackend()
    backend.add_credentials(AK, SECRET, security_token=TOKEN)
    if create_queue:
        backend.create_queue("vodai-events")
    session = new_session()
    mount(backend, session)
    conf = settings(events_topic=None, events_queue="vodai-events", callback_url=None, **update)
    return CallbackApp(conf, mns_publisher_factory(conf, session=session), clock=lambda: NOW), backend


@pytest.mark.parametrize("scheme, forwarded", [("https", None), ("http", None), ("https", "https")])
def test_with_no_url_set_the_signed_url_is_the_one_the_request_came_to(scheme, forwarded):
    app, backend = _queue_target()
    host = "vodai-vod-callback-abc.cn-shanghai.fcapp.run"
    url = f"{scheme}://{host}{PATH}"
    headers = {**signed_headers(url=url), "Host": host}
    if forwarded:
        headers["X-Forwarded-Proto"] = forwarded
    status, doc, _ = post(app, headers=headers)
    assert status == 200, doc
    [message] = backend.queue_messages("vodai-events")
    [record] = unwrap(message["MessageBody"].encode("utf-8"))
    assert record.body == EVENT and record.shape == "http-trigger"


def test_with_no_url_set_a_signature_for_another_host_or_path_is_refused():
    app, backend = _queue_target()
    host = "vodai-vod-callback-abc.cn-shanghai.fcapp.run"
    for signed_for in (f"https://other.example.com{PATH}", f"https://{host}/elsewhere"):
        status, doc, _ = post(app, headers={**signed_headers(url=signed_for), "Host": host})
        assert status == 401 and doc["error"] == "unauthorized", signed_for
    # A forwarded scheme is the only one tried.
    headers = {**signed_headers(url=f"http://{host}{PATH}"), "Host": host, "X-Forwarded-Proto": "https"}
    assert post(app, headers=headers)[0] == 401
    assert backend.queue_messages("vodai-events") == []


def test_a_missing_events_queue_answers_503_so_vod_retries():
    app, backend = _queue_target(create_queue=False)
    host = "h.example.com"
    status, doc, _ = post(app, headers={**signed_headers(url=f"https://{host}{PATH}"), "Host": host})
    assert status == 503 and "SendMessage" in doc["reason"], doc
