"""The HTTP trigger path end to end, every piece a real process: VOD's signed HTTP callback reaches
``vod_callback`` behind the shim, which hands the event to the events topic; the topic trigger
delivers the message (STREAM format) to ``on_upload`` behind its shim; the job is submitted in the
region the callback URL names and its JobId is published to the callback topic."""

import json
import time
import uuid

import pytest
import requests

from _servers import emulator_server
from conftest import EVENTS
from vodai.signing.callback import callback_signature

from .checks import clear_state, AK, SECRET, TOKEN, TOPIC, settings_env, sts_headers
from .fc_headers import fc_headers
from .procs import SERVE, clean_env, shim_process

EVENTS_TOPIC = "vodai-events"
CALLBACK_URL = "https://vodai.example.com/vod/callback"
AUTH_KEY = "E2eCallbackKey2026"


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC, EVENTS_TOPIC)) as srv:
        yield srv


@pytest.fixture(scope="module")
def callback_shim(server):
    env = clean_env({"VODAI_MNS_ENDPOINT": server.url, "VODAI_EVENTS_TOPIC": EVENTS_TOPIC, "VODAI_CALLBACK_TOPIC": TOPIC,
                     "VODAI_CALLBACK_URL": CALLBACK_URL, "VODAI_CALLBACK_AUTH_KEY": AUTH_KEY})
    with shim_process(SERVE + ["--function", "vod_callback", "--port", "0"], env, "vodai serve: vod_callback") as proc:
        yield proc


@pytest.fixture(scope="module")
def upload_shim(server):
    command = SERVE + ["--function", "on_upload", "--port", "0"]
    with shim_process(command, clean_env(settings_env(server.url)), "vodai serve: on_upload") as proc:
        yield proc


def _post_callback(shim, body: bytes, *, key: str = AUTH_KEY, timestamp=None):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signed_url = CALLBACK_URL + "?region=cn-beijing"
    headers = {
        "Content-Type": "application/json",
        "X-VOD-TIMESTAMP": timestamp,
        "X-VOD-SIGNATURE": callback_signature(signed_url, timestamp, key),
        # FC adds its x-fc-* headers (the function's STS credentials) to an HTTP function's request.
        **fc_headers(str(uuid.uuid4()), AK, SECRET, TOKEN, function="vod_callback"),
    }
    return requests.post(f"{shim.url}/vod/callback?region=cn-beijing", data=body, headers=headers, timeout=30)


@pytest.mark.e2e
def test_signed_callback_becomes_a_job_through_both_shims(server, callback_shim, upload_shim):
    server.reset()
    clear_state()
    body = (EVENTS / "raw" / "video-cn-shanghai.json").read_bytes()  # stored in Shanghai; the URL says cn-beijing
    # VOD has the video in the region the callback names: on_upload checks it before paying.
    server.control("media", method="POST", json={"media_type": "video", "region": "cn-beijing",
                                                 "media_id": json.loads(body)["VideoId"]})
    answer = _post_callback(callback_shim, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] is True

    [handed_off] = server.topic_messages(EVENTS_TOPIC)
    assert handed_off["MessageId"] == answer.json()["MessageId"]
    # What FC's MNS topic trigger (STREAM format) delivers: the message body, as published.
    response = upload_shim.invoke(handed_off["MessageBody"].encode("utf-8"), sts_headers())
    assert response.status_code == 200, response.text
    [outcome] = response.json()["Outcomes"]
    assert (outcome["Status"], outcome["Action"], outcome["Region"]) == ("submitted", "SubmitAIImageJob", "cn-beijing")
    assert outcome["RegionSource"] == "envelope:query"

    [message] = server.topic_messages(TOPIC)
    assert json.loads(message["MessageBody"])["JobId"] == outcome["JobId"]
    everything = callback_shim.output() + upload_shim.output() + server.stderr_text() + json.dumps(server.requests_log())
    assert AUTH_KEY not in everything and SECRET not in everything and TOKEN not in everything


@pytest.mark.e2e
def test_a_forged_body_under_a_valid_pair_costs_nothing(server, callback_shim, upload_shim):
    # VOD signs URL|timestamp, not the body: the callback cannot tell this body from a genuine one,
    # so on_upload asks VOD (GetVideoInfo) before it pays, and VOD has no such video.
    server.reset()
    clear_state()
    server.settings(strict_media=True)  # as VOD: a media never uploaded does not exist
    forged = json.loads((EVENTS / "raw" / "video-cn-shanghai.json").read_bytes())
    forged["VideoId"] = "forged" + uuid.uuid4().hex
    answer = _post_callback(callback_shim, json.dumps(forged).encode())
    assert answer.status_code == 200, answer.text
    [handed_off] = server.topic_messages(EVENTS_TOPIC)
    response = upload_shim.invoke(handed_off["MessageBody"].encode("utf-8"), sts_headers())
    [outcome] = response.json()["Outcomes"]
    server.settings(strict_media=False)
    assert outcome["Status"] == "dead_lettered" and "does not exist in cn-beijing" in outcome["Reason"]
    assert server.jobs() == [] and server.topic_messages(TOPIC) == []


@pytest.mark.e2e
@pytest.mark.parametrize("case", ["wrong-key", "stale", "missing"])
def test_unauthenticated_callback_is_refused(server, callback_shim, case):
    server.reset()
    body = (EVENTS / "raw" / "video-cn-shanghai.json").read_bytes()
    if case == "missing":
        answer = requests.post(f"{callback_shim.url}/vod/callback", data=body, timeout=30)
    elif case == "stale":
        answer = _post_callback(callback_shim, body, timestamp=int(time.time()) - 3600)  # a captured callback, replayed
    else:
        answer = _post_callback(callback_shim, body, key="SomeOtherKey1")
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    assert server.topic_messages(EVENTS_TOPIC) == []
