"""Fault injection over real HTTP: a ``vodai emulator`` process, driven by a plain ``requests``
client, vodai's own clients, the official MNS SDK, the control API and ``vodai emulator-faults``.

``reset`` and ``lost`` must fail the TCP connection itself (no HTTP answer at all), exactly as
a real server that resets or drops the connection would.
"""

from __future__ import annotations

import base64
import errno
import http.client
import json
import threading
from urllib.parse import quote, urlencode

import pytest
import requests
from click.testing import CliRunner
from mns.account import Account
from mns.queue import Message
from urllib3.exceptions import ProtocolError

from _servers import emulator_server
from vodai.cli.emulator_faults import emulator_faults
from vodai.clients import MnsPublisher, VodClient
from vodai.credentials import Credentials
from vodai.exceptions import TransportError, VodApiError

from .helpers import v1_params

pytestmark = pytest.mark.e2e

AK, SECRET = "faults-ak", "faults-secret"
TOPIC, QUEUE = "vodai-callback", "vodai-dead-letters"
PARAMS = {"VideoId": "video-1", "AITemplateId": "tpl-1"}


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, topics=(TOPIC,), queues=(QUEUE,), seed=11) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()
    server.clear_faults()
    yield
    server.clear_faults()


@pytest.fixture
def session():
    with requests.Session() as session:  # a plain client: real sockets, no adapter
        yield session


@pytest.fixture
def vod(server, session) -> VodClient:
    return VodClient(Credentials(AK, SECRET), session, endpoint=server.url)


@pytest.fixture
def publisher(server, session) -> MnsPublisher:
    return MnsPublisher(Credentials(AK, SECRET), session, endpoint=server.url)


def low_level_cause(exc: requests.ConnectionError) -> BaseException:
    (protocol_error,) = exc.args
    assert isinstance(protocol_error, ProtocolError)
    return protocol_error.args[1]


def assert_reset(exc: requests.ConnectionError) -> None:
    cause = low_level_cause(exc)
    # exactly: http.client.RemoteDisconnected is a subclass of ConnectionResetError
    assert type(cause) is ConnectionResetError, repr(cause)
    assert cause.errno == errno.ECONNRESET


def assert_lost(exc: requests.ConnectionError) -> None:
    cause = low_level_cause(exc)
    assert type(cause) is http.client.RemoteDisconnected, repr(cause)


def submit_v1(server, session: requests.Session) -> requests.Response:
    """A hand-signed RPC V1 request, without vodai's client."""
    params = v1_params({"Action": "SubmitAIImageJob", "RegionId": "cn-shanghai", **PARAMS}, ak=AK, secret=SECRET)
    return session.post(f"{server.url}/?{urlencode(params, quote_via=quote)}", timeout=10)


# -- reset and lost on the wire ------------------------------------------------------------


def test_reset_resets_the_connection_and_an_identical_resend_succeeds(server, session, vod):
    server.set_faults(["SubmitAIImageJob:reset,times=1"])
    prepared = vod.prepare("SubmitAIImageJob", "cn-shanghai", PARAMS)

    with pytest.raises(requests.ConnectionError) as caught:
        session.send(prepared, timeout=10)

    assert_reset(caught.value)
    assert server.jobs() == []
    (entry,) = server.requests_log()
    assert (entry["status"], entry["fault"]) == (None, "reset")

    response = session.send(prepared, timeout=10)
    assert response.status_code == 200, response.text
    assert [job["JobId"] for job in server.jobs()] == [response.json()["JobId"]]


def test_lost_closes_without_an_answer_after_processing(server, session, vod):
    server.set_faults(["SubmitAIImageJob:lost,times=1"])
    prepared = vod.prepare("SubmitAIImageJob", "cn-shanghai", PARAMS)

    with pytest.raises(requests.ConnectionError) as caught:
        session.send(prepared, timeout=10)

    assert_lost(caught.value)
    (job,) = server.jobs()
    assert job["VideoId"] == "video-1"

    resend = session.send(prepared, timeout=10)
    assert (resend.status_code, resend.json()["Code"]) == (400, "SignatureNonceUsed")
    assert server.jobs() == [job]


def test_reset_and_lost_with_a_hand_signed_request(server, session):
    server.set_faults(["SubmitAIImageJob:reset,times=1", "SubmitAIImageJob:lost,times=1"])

    with pytest.raises(requests.ConnectionError) as reset:
        submit_v1(server, session)
    with pytest.raises(requests.ConnectionError) as lost:
        submit_v1(server, session)

    assert_reset(reset.value)
    assert_lost(lost.value)
    assert submit_v1(server, session).status_code == 200
    assert len(server.jobs()) == 2  # lost and the last one; reset created nothing
    assert "fault=reset" in server.stderr_text() and "fault=lost" in server.stderr_text()


def test_mns_reset_and_lost_through_vodais_publisher(server, publisher):
    server.set_faults(["PublishMessage:reset,times=1", "PublishMessage:lost,times=1"])

    with pytest.raises(TransportError):
        publisher.publish(TOPIC, "first")
    assert server.topic_messages(TOPIC) == []
    with pytest.raises(TransportError):
        publisher.publish(TOPIC, "second")
    assert [m["MessageBody"] for m in server.topic_messages(TOPIC)] == ["second"]
    assert publisher.publish(TOPIC, "third")["MessageId"]


def test_vod_faults_through_vodais_client(server, vod):
    server.set_faults(["SubmitAIImageJob:error=Throttling.User/400,times=1", "SubmitAIImageJob:reset,times=1"])

    with pytest.raises(VodApiError) as throttled:
        vod.submit_ai_image_job("cn-shanghai", PARAMS)
    with pytest.raises(TransportError):
        vod.submit_ai_image_job("cn-shanghai", PARAMS)
    job_id = vod.submit_ai_image_job("cn-shanghai", PARAMS)["JobId"]

    assert (throttled.value.code, throttled.value.status, throttled.value.retryable) == ("Throttling.User", 400, True)
    assert [job["JobId"] for job in server.jobs()] == [job_id]


# -- errors and latency --------------------------------------------------------------------


def test_errors_in_each_services_envelope(server, session, publisher):
    server.set_faults(["SubmitAIImageJob:error=ServiceUnavailable", "PublishMessage:error=InternalError"])

    vod_answer = submit_v1(server, session)
    assert vod_answer.status_code == 503
    assert vod_answer.headers["Content-Type"].startswith("application/json")
    assert vod_answer.json()["Code"] == "ServiceUnavailable"

    mns_answer = session.send(publisher.prepare(TOPIC, "x"), timeout=10)
    assert mns_answer.status_code == 500
    assert mns_answer.headers["Content-Type"].startswith("text/xml")
    assert b"<Code>InternalError</Code>" in mns_answer.content
    assert server.jobs() == [] and server.topic_messages(TOPIC) == []


def test_latency_is_applied_without_blocking_other_requests(server, vod, session):
    server.set_faults(["SubmitAIImageJob:latency=2"])
    slow: dict = {}
    thread = threading.Thread(
        target=lambda: slow.update(job=vod.submit_ai_image_job("cn-shanghai", PARAMS)), daemon=True
    )
    thread.start()
    # The rule counts as fired as soon as the request is in, before its delay.
    while server.faults()[0]["fired"] == 0:
        assert thread.is_alive(), slow
    other = vod.get_ai_image_jobs("cn-shanghai", ["none"])  # served while the submit sleeps

    assert other["AIImageJobList"] == []
    assert [e["action"] for e in server.requests_log()] == ["GetAIImageJobs"]
    thread.join(timeout=30)
    assert slow["job"]["JobId"]
    submit = server.requests_log()[-1]
    assert (submit["action"], submit["status"]) == ("SubmitAIImageJob", 200)
    assert (submit["fault"], submit["fault_rule"]) == ("latency=2", "SubmitAIImageJob:latency=2")


# -- probability, control API, CLI ---------------------------------------------------------


def _pattern(server, vod, count: int = 24) -> list[bool]:
    outcomes = []
    for _ in range(count):
        try:
            vod.submit_ai_image_job("cn-shanghai", PARAMS)
            outcomes.append(False)
        except VodApiError:
            outcomes.append(True)
    return outcomes


def test_seeded_probability_repeats_over_http(server, vod):
    server.set_faults(["SubmitAIImageJob:error=InternalError,p=0.5"])
    server.seed(5)
    first = _pattern(server, vod)
    server.seed(5)
    again = _pattern(server, vod)
    server.seed(6)
    other = _pattern(server, vod)

    assert first == again != other
    assert True in first and False in first


def test_control_api_round_trip(server):
    rules = server.set_faults(
        [{"operation": "*", "kind": "latency", "latency": 0.01}, "SendMessage:reset,p=0.5,times=3"]
    )
    assert [r["spec"] for r in rules] == ["*:latency=0.01", "SendMessage:reset,p=0.5,times=3"]
    assert server.faults() == rules

    refused = requests.post(f"{server.url}/_emulator/faults", json=["Nope:reset"], timeout=10)
    assert refused.status_code == 400
    assert "unknown operation 'Nope'" in refused.json()["error"]
    assert server.faults() == rules

    server.clear_faults()
    assert server.faults() == []
    assert server.add_faults(rules) == rules  # GET's output posts back as is


def test_queue_with_the_official_mns_sdk_and_faults(server):
    queue = Account(server.url, AK, SECRET).get_queue(QUEUE)
    server.set_faults(["SendMessage:error=InternalError,times=1"])

    with pytest.raises(Exception) as caught:
        queue.send_message(Message("dead letter"))
    assert getattr(caught.value, "type", None) == "InternalError"
    sent = queue.send_message(Message("dead letter", delay_seconds=3, priority=1))

    (stored,) = server.queue_messages(QUEUE)
    assert stored["MessageId"] == sent.message_id
    assert base64.b64decode(stored["MessageBody"]).decode() == "dead letter"  # the SDK base64-encodes
    assert (stored["DelaySeconds"], stored["Priority"]) == (3, 1)


def test_emulator_faults_command(server, vod):
    runner = CliRunner()
    url = ["--url", server.url]

    added = runner.invoke(emulator_faults, ["add", "SubmitAIImageJob:error=Throttling.User/400,times=1", "*:latency=0.01", *url])
    assert added.exit_code == 0, added.output
    assert "0: SubmitAIImageJob:error=Throttling.User/400,times=1  (fired 0)" in added.output
    assert [r["spec"] for r in server.faults()] == ["SubmitAIImageJob:error=Throttling.User/400,times=1", "*:latency=0.01"]

    with pytest.raises(VodApiError):
        vod.submit_ai_image_job("cn-shanghai", PARAMS)
    listed = runner.invoke(emulator_faults, ["list", *url])
    assert "(fired 1)" in listed.output
    as_json = runner.invoke(emulator_faults, ["list", "--json", *url])
    assert [r["fired"] for r in json.loads(as_json.output)] == [1, 0]

    assert runner.invoke(emulator_faults, ["seed", "9", *url]).exit_code == 0
    cleared = runner.invoke(emulator_faults, ["clear", *url])
    assert (cleared.exit_code, cleared.output.strip()) == (0, "cleared 2 fault rules")
    assert server.faults() == []
    assert "no fault rules" in runner.invoke(emulator_faults, ["list", *url]).output


def test_command_line_faults_seed_and_queues_at_startup():
    specs = ["SubmitAIImageJob:error=Throttling.User/400,times=1", "PublishMessage:lost,p=0.5"]
    with emulator_server(AK, SECRET, queues=("dlq-a", "dlq-b"), faults=specs, seed=1) as server:
        assert [r["spec"] for r in server.faults()] == specs
        assert server.queue_messages("dlq-a") == server.queue_messages("dlq-b") == []
        vod = VodClient(Credentials(AK, SECRET), requests.Session(), endpoint=server.url)
        with pytest.raises(VodApiError):
            vod.submit_ai_image_job("cn-shanghai", PARAMS)
        assert vod.submit_ai_image_job("cn-shanghai", PARAMS)["JobId"]
        assert "fault rule SubmitAIImageJob:error=Throttling.User/400,times=1" in server.stderr_text()
