"""Shared pieces of the callback tests: an independent signer, signed requests, the emulator."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
from dataclasses import dataclass
from typing import Iterator, Optional

from vodai.callback import CallbackApp, mns_publisher_factory
from vodai.clients import new_session
from vodai.config import Settings
from vodai.local_context import LocalContext, LocalCredentials
from vodai.emulator import EmulatorBackend, mount

AK, SECRET, TOKEN = "STS.callback-ak", "callback-sts-secret-value", "callback-sts-token-value"
AUTH_KEY = "CallbackKey123abc"
NEW_KEY = "RotatedKey456def"
EVENTS_TOPIC = "vodai-events"
EMULATOR_URL = "http://emulator.test"
CALLBACK_URL = "https://cb.example.com/vod/callback?region=cn-beijing"
PATH = "/vod/callback"
NOW = 1_700_000_000  # the clock of the app under test (UNIX seconds)

# A documented-shape FileUploadComplete whose file is stored in Shanghai: the callback URL's
# region (cn-beijing) must win over the file URL's, so the region hint is seen to survive.
EVENT = {
    "Status": "success",
    "EventTime": "2017-03-20T07:49:17Z",
    "EventType": "FileUploadComplete",
    "VideoId": "43q91jdh7dfcallback",
    "Size": 1439213,
    "FileUrl": "http://example-bucket.oss-cn-shanghai.aliyuncs.com/27ffc438-164h67f57ef.mp4",
    "Extend": "{\"test\":\"your extend data\"}",
}


def md5_signature(url: str, timestamp: str, key: str) -> str:
    """VOD's signature, computed here independently of vodai.signing."""
    return hashlib.md5(f"{url}|{timestamp}|{key}".encode("utf-8")).hexdigest()


def signed_headers(url: str = CALLBACK_URL, key: str = AUTH_KEY, timestamp: int = NOW) -> dict:
    ts = str(timestamp)
    return {"X-VOD-TIMESTAMP": ts, "X-VOD-SIGNATURE": md5_signature(url, ts, key), "Content-Type": "application/json"}


def body(event: Optional[dict] = None) -> bytes:
    return json.dumps(EVENT if event is None else event).encode("utf-8")


def fc_context() -> LocalContext:
    return LocalContext(request_id="req-callback-1", credentials=LocalCredentials(AK, SECRET, TOKEN))


def settings(**update) -> Settings:
    values = dict(
        callback_url=CALLBACK_URL,
        callback_auth_key=AUTH_KEY,
        events_topic=EVENTS_TOPIC,
        mns_endpoint=EMULATOR_URL,
        callback_topic="vodai-callback",
    )
    values.update(update)
    return Settings(**{k: v for k, v in values.items() if v is not None})


@dataclass
class Target:
    app: CallbackApp
    backend: EmulatorBackend

    def messages(self, topic: str = EVENTS_TOPIC) -> list:
        return self.backend.topic_messages(topic) if self.backend.has_topic(topic) else []


def target(clock_now: float = NOW, topics=(EVENTS_TOPIC,), **update) -> Target:
    """The callback app, publishing to an in-process emulator that knows the STS credentials."""
    backend = EmulatorBackend()
    backend.add_credentials(AK, SECRET, security_token=TOKEN)
    for topic in topics:
        backend.create_topic(topic)
    session = new_session()
    mount(backend, session)
    conf = settings(**update)
    app = CallbackApp(conf, mns_publisher_factory(conf, session=session), clock=lambda: clock_now)
    return Target(app, backend)


@contextlib.contextmanager
def silent_tcp_server() -> Iterator[tuple]:
    """A local TCP server that accepts connections and never answers: (port, accepted event)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    accepted = threading.Event()
    stop = threading.Event()
    held: list = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)  # keep it open, say nothing
            accepted.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()
