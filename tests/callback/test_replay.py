"""Callbacks that can't be replayed (issue 26, item 4): an identical request accepted once is
refused for the rest of the window, in every instance (a seen mark in the idempotency store), while
genuine callbacks of one busy second (same header pair, other bodies) still get through; JSON
nested too deep is a 400, not a 500."""

import json
import time

import pytest
import redis

from _redis import redis_url  # noqa: F401 (fixture)
from vodai.callback import CallbackApp

from .helpers import EVENT, NOW, body, signed_headers, target
from .test_app import post


def test_an_identical_request_accepted_once_is_refused_as_a_replay():
    t = target()
    assert post(t.app)[0] == 200
    status, doc, _ = post(t.app)
    assert status == 401 and doc == {"error": "unauthorized", "reason": "replayed: an identical callback was already accepted"}
    assert len(t.messages()) == 1  # handed off once


def test_the_signatures_hex_in_upper_case_is_the_same_request():
    t = target()
    assert post(t.app)[0] == 200
    upper = dict(signed_headers())
    upper["X-VOD-SIGNATURE"] = upper["X-VOD-SIGNATURE"].upper()
    assert post(t.app, headers=upper)[0] == 401
    assert len(t.messages()) == 1


def test_other_bodies_under_one_header_pair_are_genuine_callbacks_of_a_busy_second():
    # VOD signs URL|timestamp only: every callback to the URL within one second has this pair.
    t = target()
    for n in range(3):
        other = dict(EVENT, VideoId=f"video-of-the-same-second-{n}")
        assert post(t.app, data=body(other))[0] == 200
    assert len(t.messages()) == 3


def test_a_replay_is_accepted_again_once_the_window_has_passed_the_mark_only():
    # After the window the timestamp check refuses it: the mark has done its work and expired.
    early, late = target(clock_now=NOW), None
    assert post(early.app)[0] == 200
    late = CallbackApp(early.app.settings, early.app.publisher_factory, clock=lambda: NOW + 302, store=early.app.store())
    status, doc, _ = post(late)
    assert status == 401 and "outside the 300 s window" in doc["reason"]


def test_a_failed_hand_off_drops_the_mark_so_vods_retry_gets_through():
    t = target(topics=())
    assert post(t.app)[0] == 503
    t.backend.create_topic("vodai-events")
    assert post(t.app)[0] == 200  # VOD's retry of the very same request
    assert post(t.app)[0] == 401


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_replay_is_refused_by_every_instance_sharing_the_store(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/idempotency.sqlite3"
    else:
        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
    now = time.time()  # Redis expires marks by its own clock
    headers = signed_headers(timestamp=int(now))
    first, second = target(clock_now=now, idempotency_store=url), target(clock_now=now, idempotency_store=url)
    assert post(first.app, headers=headers)[0] == 200
    status, doc, _ = post(second.app, headers=headers)
    assert status == 401 and "replayed" in doc["reason"]
    assert second.messages() == []


def test_the_mark_holds_neither_the_signature_nor_the_body(tmp_path):
    url = f"sqlite:///{tmp_path}/idempotency.sqlite3"
    t = target(idempotency_store=url)
    assert post(t.app)[0] == 200
    stored = (tmp_path / "idempotency.sqlite3").read_bytes()
    assert signed_headers()["X-VOD-SIGNATURE"].encode() not in stored
    assert EVENT["VideoId"].encode() not in stored


@pytest.mark.parametrize("depth", [1000, 5000])
def test_json_nested_too_deep_with_a_valid_signature_is_a_400(depth):
    t = target()
    status, doc, _ = post(t.app, data=b"[" * depth + b"]" * depth)
    assert status == 400 and doc["error"] == "bad_request", doc
    nested = '{"EventType":"FileUploadComplete","VideoId":"v","Extend":' + '{"a":' * depth + "1" + "}" * depth + "}"
    status, doc, _ = post(t.app, data=nested.encode())
    assert status == 400 and "nested too deep" in doc["reason"], doc
    assert t.messages() == []
    json.dumps(doc)  # a plain answer, no traceback
