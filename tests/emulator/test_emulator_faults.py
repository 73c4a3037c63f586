"""Fault injection in process (the requests adapter): every kind, times, probability, order,
the request log, and vodai's own clients against it."""

from __future__ import annotations

import http.client
import time

import pytest
import requests
from urllib3.exceptions import ProtocolError

from vodai.clients import MnsPublisher, VodClient
from vodai.credentials import Credentials
from vodai.emulator import EmulatorBackend, FaultRule, mount
from vodai.exceptions import MnsApiError, TransportError, VodApiError

from .helpers import AK, MNS_HOST, SECRET, TOPIC, message_xml, mns_error, mns_publish, v1

SUBMIT = {"Action": "SubmitAIImageJob", "VideoId": "video-1", "AITemplateId": "tpl-1"}
PARAMS = {"VideoId": "video-1", "AITemplateId": "tpl-1"}


@pytest.fixture
def vod(session) -> VodClient:
    return VodClient(Credentials(AK, SECRET), session)


@pytest.fixture
def publisher(session) -> MnsPublisher:
    return MnsPublisher(Credentials(AK, SECRET), session, endpoint=f"https://{MNS_HOST}")


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Every time.sleep the emulator makes, recorded instead of slept."""
    calls: list[float] = []
    monkeypatch.setattr(time, "sleep", calls.append)
    return calls


def connection_cause(exc: requests.ConnectionError) -> BaseException:
    """The low-level cause inside requests.ConnectionError(ProtocolError(msg, cause))."""
    (protocol_error,) = exc.args
    assert isinstance(protocol_error, ProtocolError)
    message, cause = protocol_error.args
    assert message == "Connection aborted."
    return cause


def assert_reset(exc: requests.ConnectionError) -> None:
    cause = connection_cause(exc)
    assert type(cause) is ConnectionResetError
    assert (cause.errno, cause.strerror) == (104, "Connection reset by peer")


def assert_lost(exc: requests.ConnectionError) -> None:
    cause = connection_cause(exc)
    assert type(cause) is http.client.RemoteDisconnected
    assert str(cause) == "Remote end closed connection without response"


def only_entry(backend: EmulatorBackend) -> dict:
    (entry,) = backend.requests_log()
    return entry


# -- error ---------------------------------------------------------------------------------


def test_error_answers_in_vods_envelope_and_creates_nothing(session, backend: EmulatorBackend):
    backend.faults.add(FaultRule("SubmitAIImageJob", "error", code="Throttling.User", status=400))

    response = v1(session, SUBMIT)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Code"] == "Throttling.User"
    assert body["Message"] == "Request was denied due to user flow control."
    assert body["HostId"] == "vod.cn-shanghai.aliyuncs.com"
    assert response.headers["x-acs-request-id"] == body["RequestId"]
    assert backend.jobs() == []
    entry = only_entry(backend)
    assert (entry["status"], entry["error_code"]) == (400, "Throttling.User")
    assert entry["fault"] == "error=Throttling.User/400"
    assert entry["fault_rule"] == "SubmitAIImageJob:error=Throttling.User/400"


def test_error_status_defaults_for_known_codes(session, backend: EmulatorBackend):
    backend.faults.add("SubmitAIImageJob:error=ServiceUnavailable")
    response = v1(session, SUBMIT)
    assert (response.status_code, response.json()["Code"]) == (503, "ServiceUnavailable")


def test_error_leaves_the_nonce_unused(session, backend: EmulatorBackend, vod: VodClient):
    backend.faults.add("SubmitAIImageJob:error=Throttling.User/400,times=1")
    prepared = vod.prepare("SubmitAIImageJob", "cn-shanghai", PARAMS)

    assert session.send(prepared).status_code == 400
    assert session.send(prepared).status_code == 200  # the identical request goes through
    assert len(backend.jobs()) == 1


def test_error_reaches_vodais_client_as_a_retryable_api_error(backend: EmulatorBackend, vod: VodClient):
    backend.faults.add("SubmitAIImageJob:error=Throttling.User/400")
    with pytest.raises(VodApiError) as caught:
        vod.submit_ai_image_job("cn-shanghai", PARAMS)
    assert (caught.value.code, caught.value.status, caught.value.retryable) == ("Throttling.User", 400, True)


def test_error_answers_in_mns_envelope(session, backend: EmulatorBackend):
    backend.faults.add("PublishMessage:error=InternalError")

    response = mns_publish(session, message_xml("x"))

    assert response.status_code == 500
    error = mns_error(response)
    assert error["Code"] == "InternalError"
    assert error["RequestId"] == response.headers["x-mns-request-id"]
    assert error["HostId"] == "mns.cn-shanghai.aliyuncs.com"
    assert backend.topic_messages(TOPIC) == []
    assert only_entry(backend)["fault"] == "error=InternalError/500"


def test_mns_error_reaches_vodais_publisher(backend: EmulatorBackend, publisher: MnsPublisher):
    backend.faults.add("PublishMessage:error=ServiceUnavailable")
    with pytest.raises(MnsApiError) as caught:
        publisher.publish(TOPIC, "body", "tag")
    assert (caught.value.code, caught.value.status, caught.value.retryable) == ("ServiceUnavailable", 503, True)
    assert backend.topic_messages(TOPIC) == []


# -- reset ---------------------------------------------------------------------------------


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
def test_reset_processes_nothing_and_an_identical_resend_succeeds(
    session, backend: EmulatorBackend, signature_version: str
):
    backend.faults.add("SubmitAIImageJob:reset,times=1")
    vod = VodClient(Credentials(AK, SECRET), session, signature_version=signature_version)
    prepared = vod.prepare("SubmitAIImageJob", "cn-shanghai", PARAMS)

    with pytest.raises(requests.ConnectionError) as caught:
        session.send(prepared)

    assert_reset(caught.value)
    assert caught.value.request is prepared
    assert backend.jobs() == []
    entry = only_entry(backend)
    assert (entry["status"], entry["error_code"], entry["fault"]) == (None, None, "reset")
    assert entry["fault_rule"] == "SubmitAIImageJob:reset,times=1"

    response = session.send(prepared)  # same signature, same nonce
    assert response.status_code == 200, response.text
    assert [job["JobId"] for job in backend.jobs()] == [response.json()["JobId"]]


def test_reset_through_vodais_clients(backend: EmulatorBackend, vod: VodClient, publisher: MnsPublisher):
    backend.faults.add("*:reset")
    with pytest.raises(TransportError):
        vod.submit_ai_image_job("cn-shanghai", PARAMS)
    with pytest.raises(TransportError):
        publisher.publish(TOPIC, "body")
    assert backend.jobs() == [] and backend.topic_messages(TOPIC) == []


# -- lost ----------------------------------------------------------------------------------


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
def test_lost_processes_the_request_and_a_resend_gets_signature_nonce_used(
    session, backend: EmulatorBackend, signature_version: str
):
    backend.faults.add("SubmitAIImageJob:lost,times=1")
    vod = VodClient(Credentials(AK, SECRET), session, signature_version=signature_version)
    prepared = vod.prepare("SubmitAIImageJob", "cn-shanghai", PARAMS)

    with pytest.raises(requests.ConnectionError) as caught:
        session.send(prepared)

    assert_lost(caught.value)
    (job,) = backend.jobs()
    assert job["VideoId"] == "video-1"
    entry = only_entry(backend)
    assert (entry["status"], entry["fault"]) == (200, "lost")

    resend = session.send(prepared)
    assert resend.status_code == 400
    assert resend.json()["Code"] == "SignatureNonceUsed"
    assert backend.jobs() == [job]


def test_lost_through_vodais_clients(backend: EmulatorBackend, vod: VodClient, publisher: MnsPublisher):
    backend.faults.add("*:lost")
    with pytest.raises(TransportError):
        vod.submit_ai_image_job("cn-shanghai", PARAMS)
    with pytest.raises(TransportError):
        publisher.publish(TOPIC, "body", "tag")
    assert len(backend.jobs()) == 1
    assert [m["MessageBody"] for m in backend.topic_messages(TOPIC)] == ["body"]


def test_lost_mns_message_is_stored_and_a_resend_publishes_it_again(
    session, backend: EmulatorBackend, publisher: MnsPublisher
):
    # MNS has no signature nonce: the resend of a lost publish is a duplicate.
    backend.faults.add("PublishMessage:lost,times=1")
    prepared = publisher.prepare(TOPIC, "body", "tag")

    with pytest.raises(requests.ConnectionError) as caught:
        session.send(prepared)

    assert_lost(caught.value)
    assert session.send(prepared).status_code == 201
    assert [m["MessageBody"] for m in backend.topic_messages(TOPIC)] == ["body", "body"]


# -- latency -------------------------------------------------------------------------------


def test_latency_only_rule_delays_and_then_serves(session, backend: EmulatorBackend, sleeps):
    backend.faults.add("*:latency=0.25")

    response = v1(session, SUBMIT)

    assert response.status_code == 200
    assert sleeps == [0.25]
    entry = only_entry(backend)
    assert entry["status"] == 200
    assert (entry["fault"], entry["fault_rule"]) == ("latency=0.25", "*:latency=0.25")


def test_latency_combines_with_another_kind(session, backend: EmulatorBackend, sleeps):
    backend.faults.add("SubmitAIImageJob:error=InternalError,latency=0.5")

    assert v1(session, SUBMIT).status_code == 500

    assert sleeps == [0.5]
    assert only_entry(backend)["fault"] == "error=InternalError/500,latency=0.5"


def test_latency_beyond_the_read_timeout_raises_read_timeout(
    session, backend: EmulatorBackend, vod: VodClient, sleeps
):
    backend.faults.add("SubmitAIImageJob:latency=30")
    prepared = vod.prepare("SubmitAIImageJob", "cn-shanghai", PARAMS)

    with pytest.raises(requests.ReadTimeout) as caught:
        session.send(prepared, timeout=(1, 2.5))

    assert "Read timed out. (read timeout=2.5)" in str(caught.value)
    assert sleeps == [2.5]  # waited as long as the caller would, not 30 s
    assert len(backend.jobs()) == 1  # the server still processes it, as a real one would


# -- times, probability, order -------------------------------------------------------------


def test_times_fails_the_first_n_requests_then_never_again(session, backend: EmulatorBackend):
    backend.faults.add("SubmitAIImageJob:error=Throttling.User/400,times=2")

    codes = [v1(session, SUBMIT).status_code for _ in range(4)]

    assert codes == [400, 400, 200, 200]
    (status,) = backend.faults.status()
    assert (status["fired"], status["times"]) == (2, 2)
    assert [e["fault"] is not None for e in backend.requests_log()] == [True, True, False, False]


def _fired_pattern(backend: EmulatorBackend, count: int = 40) -> list[bool]:
    with requests.Session() as session:
        mount(backend, session)
        return [v1(session, SUBMIT).status_code == 503 for _ in range(count)]


def _seeded_backend(seed: int) -> EmulatorBackend:
    backend = EmulatorBackend(seed=seed)
    backend.add_credentials(AK, SECRET)
    backend.faults.add("SubmitAIImageJob:error=ServiceUnavailable,p=0.5")
    return backend


def test_probability_with_a_seed_repeats():
    first = _fired_pattern(_seeded_backend(1))
    again = _fired_pattern(_seeded_backend(1))
    other = _fired_pattern(_seeded_backend(2))

    assert first == again
    assert first != other
    assert True in first and False in first  # p=0.5 both fires and lets through


def test_reseeding_restarts_the_draws():
    backend = _seeded_backend(3)
    first = _fired_pattern(backend)
    backend.faults.seed(3)
    assert _fired_pattern(backend) == first


def test_probability_zero_never_fires_and_one_always_does(session, backend: EmulatorBackend):
    backend.faults.add("SubmitAIImageJob:error=InternalError,p=0")
    assert all(v1(session, SUBMIT).status_code == 200 for _ in range(5))
    backend.faults.clear()
    backend.faults.add("SubmitAIImageJob:error=InternalError,p=1")
    assert all(v1(session, SUBMIT).status_code == 500 for _ in range(5))


def test_the_first_rule_that_fires_wins(session, backend: EmulatorBackend):
    backend.faults.extend(
        [
            "SubmitAIImageJob:error=Throttling.User/400",
            "*:error=InternalError",
        ]
    )
    assert v1(session, SUBMIT).json()["Code"] == "Throttling.User"
    assert v1(session, {"Action": "GetAIImageJobs", "JobIds": "x"}).json()["Code"] == "InternalError"
    assert mns_error(mns_publish(session, message_xml("x")))["Code"] == "InternalError"


def test_a_rule_that_does_not_fire_leaves_the_request_to_the_next(session, backend: EmulatorBackend):
    backend.faults.extend(
        [
            "SubmitAIImageJob:error=Throttling.User/400,p=0",
            "SubmitAIImageJob:error=InternalError,times=1",
            "SubmitAIImageJob:error=ServiceUnavailable,times=1",
        ]
    )
    assert [v1(session, SUBMIT).status_code for _ in range(3)] == [500, 503, 200]


def test_rules_for_other_operations_do_not_apply(session, backend: EmulatorBackend):
    backend.faults.extend(["GetAIImageJobs:reset", "SendMessage:reset", "SubmitAIImageAuditJob:lost"])
    assert v1(session, SUBMIT).status_code == 200
    assert mns_publish(session, message_xml("x")).status_code == 201
    assert all(entry["fault"] is None for entry in backend.requests_log())


# -- the Python API ------------------------------------------------------------------------


def test_add_accepts_rules_specs_and_dicts(backend: EmulatorBackend):
    rule = FaultRule("PublishMessage", "reset", times=2)
    backend.faults.add(rule)
    backend.faults.add("*:latency=0.5")
    backend.faults.add({"operation": "SubmitAIImageJob", "code": "Throttling"})

    assert backend.faults.rules() == [
        rule,
        FaultRule("*", "latency", latency=0.5),
        FaultRule("SubmitAIImageJob", "error", code="Throttling", status=400),
    ]
    assert [s["spec"] for s in backend.faults.status()] == [
        "PublishMessage:reset,times=2",
        "*:latency=0.5",
        "SubmitAIImageJob:error=Throttling/400",
    ]
    assert backend.faults.clear() == 3
    assert backend.faults.rules() == []


def test_extend_adds_nothing_when_one_rule_is_bad(backend: EmulatorBackend):
    from vodai.emulator import FaultSpecError

    with pytest.raises(FaultSpecError):
        backend.faults.extend(["*:reset", "Nope:reset"])
    assert backend.faults.rules() == []


def test_clear_removes_the_faults(session, backend: EmulatorBackend):
    backend.faults.add("*:reset")
    backend.faults.clear()
    assert v1(session, SUBMIT).status_code == 200


def test_reset_keeps_fault_rules(session, backend: EmulatorBackend):
    backend.faults.add("SubmitAIImageJob:error=InternalError")
    backend.reset()
    assert v1(session, SUBMIT).status_code == 500


def test_requests_without_a_fault_log_none(session, backend: EmulatorBackend):
    v1(session, SUBMIT)
    entry = only_entry(backend)
    assert entry["fault"] is None and entry["fault_rule"] is None
