"""Requests captured from the official SDKs, replayed at a real emulator process with one change each.

Each SDK sends its request to a recorder (``_servers.Receiver``) that answers as VOD or MNS would,
so the emulator never sees the original. Every mutation is then sent to the emulator over a raw
``http.client`` connection (target, headers and body byte for byte, one part changed) and must be
refused; the unmodified request, replayed last, must be accepted: so the replay itself is
faithful and a refusal is the emulator's doing. Refusals come before the nonce is recorded, which
is why the original can still be accepted after them.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Callable, Optional
from xml.etree import ElementTree

import pytest
from aliyunsdkcore.client import AcsClient

from _servers import Answer, Receiver, emulator_server

from . import sdk_clients as sdk

pytestmark = pytest.mark.e2e

AK, SECRET = "replay-ak", "replay-secret"  # a long-term key: it has no security token
TOPIC = "vodai-callback"
VIDEO_ID, TEMPLATE_ID = "video-replay-1", "tpl-replay"
USER_DATA = '{"Extend":{"replay":true}}'
MESSAGE = '{"JobId":"job-replay-1"}'

_VOD_ANSWER = Answer(200, {"Content-Type": "application/json"}, b'{"RequestId":"captured","JobId":"captured"}')
_MNS_ANSWER = Answer(
    201,
    {"Content-Type": "text/xml", "x-mns-request-id": "captured"},
    b'<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
    b"<MessageId>captured</MessageId><MessageBodyMD5>captured</MessageBodyMD5></Message>",
)


@dataclass(frozen=True)
class Captured:
    """One request as an SDK sent it: the request target (path and query) kept raw."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def with_query(self, query: str) -> "Captured":
        return replace(self, target=f"{self.path}?{query}")

    def with_header(self, name: str, value: str) -> "Captured":
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return replace(self, headers=(*kept, (name, value)))

    def with_query_value(self, name: str, value: str) -> "Captured":
        parts = [f"{name}={value}" if p.split("=", 1)[0] == name else p for p in self.query.split("&")]
        assert parts != self.query.split("&"), f"{name} is not in the query {self.query}"
        return self.with_query("&".join(parts))


def capture(call: Callable[[SimpleNamespace], object], answer: Answer) -> Captured:
    """The one request ``call`` makes through an SDK pointed at a recorder."""
    with Receiver(default=answer) as receiver:
        call(SimpleNamespace(url=receiver.url, port=int(receiver.url.rsplit(":", 1)[1])))
        (received,) = receiver.wait_for(1)
    return Captured(received.method, received.path, tuple(received.headers.items()), received.body)


def replay(server, request: Captured) -> tuple[int, bytes]:
    """Send ``request`` to the emulator as is (Host included); Content-Length follows the body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers:
            if name.lower() != "content-length":
                connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def error_code(body: bytes) -> str:
    if body.lstrip().startswith(b"<"):
        root = ElementTree.fromstring(body)
        return next(child.text or "" for child in root if child.tag.endswith("Code"))
    return json.loads(body)["Code"]


# -- the captures ----------------------------------------------------------------------------


def _tea_submit(signature: str, token: Optional[str] = None) -> Callable[[SimpleNamespace], object]:
    def call(recorder: SimpleNamespace) -> object:
        client = sdk.vod_client(recorder, AK, SECRET, signature=signature, security_token=token)
        return sdk.submit_ai_image_job(client, VIDEO_ID, TEMPLATE_ID, USER_DATA)

    return call


def _legacy_submit(token: Optional[str] = None) -> Callable[[SimpleNamespace], object]:
    def call(recorder: SimpleNamespace) -> object:
        client: AcsClient = sdk.legacy_client(recorder, AK, SECRET, security_token=token)
        return sdk.legacy_submit(client, VIDEO_ID, TEMPLATE_ID, USER_DATA)

    return call


def _mns_publish(token: str = "") -> Callable[[SimpleNamespace], object]:
    def call(recorder: SimpleNamespace) -> object:
        return sdk.mns_publish(recorder, AK, SECRET, TOPIC, MESSAGE, "AIImage", security_token=token)

    return call


VOD_CAPTURES = {
    "tea-v3": _tea_submit("v3"),
    "tea-v1": _tea_submit("v1"),
    "legacy-core-v1": _legacy_submit(),
}
V1 = {"tea-v1", "legacy-core-v1"}

# Each mutation: (name, change, the code the emulator must answer).
Mutation = tuple[str, Callable[[Captured], Captured], str]

_VOD_MUTATIONS: list[Mutation] = [
    ("parameter repeated in front", lambda r: r.with_query(f"VideoId=attacker&{r.query}"), "SignatureDoesNotMatch"),
    ("parameter repeated after", lambda r: r.with_query(f"{r.query}&VideoId=attacker"), "SignatureDoesNotMatch"),
    ("value changed", lambda r: r.with_query_value("VideoId", "attacker"), "SignatureDoesNotMatch"),
    (
        "parameter repeated in a form body",
        lambda r: replace(
            r.with_header("Content-Type", "application/x-www-form-urlencoded"), body=b"VideoId=attacker"
        ),
        "SignatureDoesNotMatch",
    ),
]
_V1_MUTATIONS: list[Mutation] = [
    ("token added", lambda r: r.with_query(f"{r.query}&SecurityToken=made-up"), "SignatureDoesNotMatch"),
    ("SignatureMethod changed", lambda r: r.with_query_value("SignatureMethod", "HMAC-SHA256"), "InvalidParameter"),
    ("SignatureVersion changed", lambda r: r.with_query_value("SignatureVersion", "2.0"), "InvalidParameter"),
]
_V3_MUTATIONS: list[Mutation] = [
    ("token added", lambda r: r.with_header("x-acs-security-token", "made-up"), "IncompleteSignature"),
]
_MNS_MUTATIONS: list[Mutation] = [
    (
        "body changed under the old MD5",
        lambda r: replace(r, body=r.body.replace(b"job-replay-1", b"job-attacker")),
        "InvalidDigest",
    ),
    ("token added", lambda r: r.with_header("security-token", "made-up"), "AccessDenied"),
    ("signed token added", lambda r: r.with_header("x-mns-security-token", "made-up"), "SignatureDoesNotMatch"),
    ("resource changed", lambda r: r.with_query("x=1"), "SignatureDoesNotMatch"),
]


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, topics=(TOPIC,)) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


@pytest.mark.parametrize("client", sorted(VOD_CAPTURES))
def test_vod_request_with_one_change_is_refused(server, client: str):
    original = capture(VOD_CAPTURES[client], _VOD_ANSWER)
    assert f"VideoId={VIDEO_ID}" in original.query.split("&"), original.target
    mutations = _VOD_MUTATIONS + (_V1_MUTATIONS if client in V1 else _V3_MUTATIONS)

    answers = {name: replay(server, change(original)) for name, change, _ in mutations}

    refused = {name: (status, error_code(body)) for name, (status, body) in answers.items()}
    assert refused == {name: (400, code) for name, _, code in mutations}
    assert server.jobs() == []
    status, body = replay(server, original)
    assert status == 200, body
    (job,) = server.jobs()
    assert (job["JobId"], job["VideoId"], job["UserData"]) == (json.loads(body)["JobId"], VIDEO_ID, USER_DATA)


def test_mns_publish_with_one_change_is_refused(server):
    original = capture(_mns_publish(), _MNS_ANSWER)
    assert dict((k.lower(), v) for k, v in original.headers)["content-md5"]  # the SDK signs one

    answers = {name: replay(server, change(original)) for name, change, _ in _MNS_MUTATIONS}

    refused = {name: (status, error_code(body)) for name, (status, body) in answers.items()}
    expected_status = {"InvalidDigest": 400, "AccessDenied": 403, "SignatureDoesNotMatch": 403}
    assert refused == {name: (expected_status[code], code) for name, _, code in _MNS_MUTATIONS}
    assert server.topic_messages(TOPIC) == []
    status, body = replay(server, original)
    assert status == 201, body
    assert [m["MessageBody"] for m in server.topic_messages(TOPIC)] == [MESSAGE]


# An SDK given a token for a key that has none signs it properly: only the token check refuses it.
TOKEN_CAPTURES = {
    "tea-v3": (_tea_submit("v3", token="made-up"), _VOD_ANSWER, 400, "InvalidSecurityToken.MismatchWithAccessKey"),
    "tea-v1": (_tea_submit("v1", token="made-up"), _VOD_ANSWER, 400, "InvalidSecurityToken.MismatchWithAccessKey"),
    "legacy-core-v1": (_legacy_submit(token="made-up"), _VOD_ANSWER, 400, "InvalidSecurityToken.MismatchWithAccessKey"),
    "mns": (_mns_publish(token="made-up"), _MNS_ANSWER, 403, "AccessDenied"),
}


@pytest.mark.parametrize("client", sorted(TOKEN_CAPTURES))
def test_sdk_sending_a_token_with_a_key_that_has_none_is_refused(server, client: str):
    call, answer, status, code = TOKEN_CAPTURES[client]
    got_status, body = replay(server, capture(call, answer))
    assert (got_status, error_code(body)) == (status, code)
    assert server.jobs() == [] and server.topic_messages(TOPIC) == []
