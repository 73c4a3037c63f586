"""functions/vod_callback/index.py served over real HTTP (werkzeug's server in a thread), configured
from the environment, publishing to the emulator running as a real server process."""

import importlib.util
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

import vodai.callback
from _servers import emulator_server
from vodai.events.envelopes import unwrap

from .helpers import AK, AUTH_KEY, EVENT, SECRET, TOKEN, body, md5_signature

pytestmark = pytest.mark.e2e

INDEX = Path(__file__).resolve().parents[2] / "functions" / "vod_callback" / "index.py"
TOPIC = "vodai-events"
PUBLIC_URL = "https://cb.example.com/vod/callback?region=cn-beijing"


@pytest.fixture(scope="module")
def emulator():
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as server:
        yield server


@pytest.fixture
def callback(emulator, monkeypatch):
    for name, value in {
        "VODAI_CALLBACK_URL": PUBLIC_URL,
        "VODAI_CALLBACK_AUTH_KEY": AUTH_KEY,
        "VODAI_EVENTS_TOPIC": TOPIC,
        "VODAI_MNS_ENDPOINT": emulator.url,
        "VODAI_CALLBACK_MAX_BODY": "4096",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,  # no fc.context over plain HTTP: FC 3.0's environment
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
    }.items():
        monkeypatch.setenv(name, value)
    vodai.callback.reset()
    spec = importlib.util.spec_from_file_location("vod_callback_index_http", INDEX)
    index = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(index)
    index.initializer(None)
    server = make_server("127.0.0.1", 0, index.handler, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/vod/callback"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        vodai.callback.reset()


def _signed(key=AUTH_KEY):
    ts = str(int(time.time()))
    return {"X-VOD-TIMESTAMP": ts, "X-VOD-SIGNATURE": md5_signature(PUBLIC_URL, ts, key), "Content-Type": "application/json"}


def test_signed_callback_over_http_reaches_the_events_topic(callback, emulator):
    before = len(emulator.topic_messages(TOPIC))
    response = requests.post(callback + "?region=cn-beijing", data=body(), headers=_signed(), timeout=10)
    assert response.status_code == 200, response.text
    messages = emulator.topic_messages(TOPIC)[before:]
    assert len(messages) == 1
    assert response.json() == {"accepted": True, "MessageId": messages[0]["MessageId"]}
    assert messages[0]["MessageTag"] == "VodEvent"
    [record] = unwrap(messages[0]["MessageBody"].encode("utf-8"))
    assert (record.body, record.region, record.shape) == (EVENT, "cn-beijing", "http-trigger")


def test_refusals_over_http(callback, emulator):
    before = len(emulator.topic_messages(TOPIC))
    unsigned = requests.post(callback, data=body(), timeout=10)
    assert unsigned.status_code == 401 and unsigned.json()["error"] == "unauthorized"
    wrong = requests.post(callback + "?region=cn-beijing", data=body(), headers=_signed("WrongKey1"), timeout=10)
    assert wrong.status_code == 401
    get = requests.get(callback, timeout=10)
    assert get.status_code == 405 and get.headers["Allow"] == "POST"
    chunked = requests.post(callback + "?region=cn-beijing", data=iter([b"{", b" " * 8000, b"}"]), headers=_signed(), timeout=10)
    assert chunked.status_code == 413
    malformed = requests.post(callback + "?region=cn-beijing", data=b'{"Status": "success"}', headers=_signed(), timeout=10)
    assert malformed.status_code == 400 and malformed.json()["reason"].startswith("EventType")
    assert len(emulator.topic_messages(TOPIC)) == before


def test_chunked_signed_callback_is_accepted(callback, emulator):
    before = len(emulator.topic_messages(TOPIC))
    response = requests.post(callback + "?region=cn-beijing", data=iter([body()]), headers=_signed(), timeout=10)
    assert response.status_code == 200, response.text
    [record] = unwrap(emulator.topic_messages(TOPIC)[before]["MessageBody"])
    assert record.body == EVENT
