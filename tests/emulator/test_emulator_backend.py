"""The backend's own contract, the neutral request type and the requests adapter."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import requests

from vodai.emulator import EmulatorBackend, EmulatorRequest, handle, mount

from .helpers import TOPIC, message_xml, mns_publish, v1


def test_reset_forgets_activity_but_keeps_configuration(session, backend: EmulatorBackend):
    v1(session, {"Action": "SubmitAIImageJob", "VideoId": "v", "AITemplateId": "t"})
    mns_publish(session, message_xml("x"))
    assert backend.jobs() and backend.topic_messages(TOPIC) and backend.requests_log()

    backend.reset()

    assert backend.jobs() == [] and backend.requests_log() == []
    assert backend.topic_messages(TOPIC) == []
    # Keys and topics survive: the same calls work again.
    assert v1(session, {"Action": "SubmitAIImageJob", "VideoId": "v", "AITemplateId": "t"}).ok
    assert mns_publish(session, message_xml("x")).status_code == 201


def test_reset_forgets_nonces(backend: EmulatorBackend):
    assert backend.use_nonce("ak", "n1")
    assert not backend.use_nonce("ak", "n1")
    backend.reset()
    assert backend.use_nonce("ak", "n1")


def test_a_nonce_is_refused_for_fifteen_minutes_then_forgotten(backend: EmulatorBackend):
    import time

    from vodai.emulator.backend import NONCE_TTL_SECONDS

    assert backend.use_nonce("ak", "old") and backend.use_nonce("ak", "recent")
    # Age the first one past the window (nonces are kept oldest first).
    backend._nonces[("ak", "old")] = time.time() - NONCE_TTL_SECONDS - 1
    backend._nonces[("ak", "recent")] = time.time() - NONCE_TTL_SECONDS / 2
    assert backend.use_nonce("ak", "another")
    assert backend.use_nonce("ak", "old")  # expired: usable again
    assert not backend.use_nonce("ak", "recent")  # still inside the window


def test_the_request_log_keeps_the_newest_entries(backend: EmulatorBackend):
    from collections import deque

    backend._requests = deque(maxlen=3)
    for n in range(5):
        backend.record_request(service="vod", action=f"A{n}", region="cn-shanghai", params={}, status=200)
    assert [r["action"] for r in backend.requests_log()] == ["A2", "A3", "A4"]


def test_unknown_topic_has_no_messages(backend: EmulatorBackend):
    with pytest.raises(KeyError):
        backend.topic_messages("nope")


def test_state_is_handed_out_as_copies(session, backend: EmulatorBackend):
    job_id = v1(session, {"Action": "SubmitAIImageJob", "VideoId": "v", "AITemplateId": "t"}).json()["JobId"]
    backend.get_job(job_id)["Status"] = "success"
    backend.jobs()[0]["Status"] = "success"
    backend.requests_log()[0]["params"]["VideoId"] = "changed"
    assert backend.get_job(job_id)["Status"] == "Processing"
    assert backend.requests_log()[0]["params"]["VideoId"] == "v"


def test_concurrent_publishes_are_all_kept(backend: EmulatorBackend):
    def publish(n: int) -> None:
        for i in range(50):
            backend.publish(TOPIC, f"{n}-{i}", None)

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = [m["MessageBody"] for m in backend.topic_messages(TOPIC)]
    assert sorted(bodies) == sorted(f"{n}-{i}" for n in range(8) for i in range(50))


def test_emulator_request_decodes_plus_as_space_and_keeps_the_raw_query():
    request = EmulatorRequest.from_raw(
        "post", "/", "A=x+y&B=%2B&C=%E8%A7%86&D=", {"x-acs-action": "A"}, "body"
    )
    assert request.method == "POST"
    assert request.query == {"A": "x y", "B": "+", "C": "视", "D": ""}
    assert request.query_string == "A=x+y&B=%2B&C=%E8%A7%86&D="
    assert request.headers["X-ACS-ACTION"] == "A"
    assert request.body == b"body"


def test_handle_routes_topics_to_mns_and_the_rest_to_vod(backend: EmulatorBackend):
    mns = handle(backend, EmulatorRequest("POST", "/topics/t/messages", {}, {}, b""))
    vod = handle(backend, EmulatorRequest("POST", "/", {}, {}, b""))
    assert mns.headers["Content-Type"].startswith("text/xml")
    assert vod.headers["Content-Type"].startswith("application/json")


def test_adapter_builds_a_complete_response(session):
    response = v1(session, {"Action": "SubmitAIImageJob", "VideoId": "v", "AITemplateId": "t"})
    assert response.status_code == 200
    assert response.reason == "OK"
    assert response.headers["content-type"].startswith("application/json")
    assert response.url.startswith("https://vod.cn-shanghai.aliyuncs.com/")
    assert response.request.method == "POST"
    assert response.json()["JobId"]
    assert b"".join(response.iter_content(4)) == response.content


def test_adapter_serves_every_host_without_network(backend: EmulatorBackend):
    backend.verify_signatures = False
    with requests.Session() as session:
        mount(backend, session)
        # .invalid never resolves: only the adapter can answer this.
        response = session.post(
            "http://vod.example.invalid:8080/?Action=GetAIImageJobs&JobIds=x", timeout=1
        )
    assert response.status_code == 200
    assert response.json()["AIImageJobList"] == []


def test_importing_the_package_does_not_import_flask():
    code = "import sys, vodai.emulator; print('flask' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
