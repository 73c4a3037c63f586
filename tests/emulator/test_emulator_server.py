"""The Flask front door (through Flask's test client) and the ``vodai emulator`` command."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from click.testing import CliRunner

from vodai.cli import main
from vodai.emulator import EmulatorBackend, create_app
from vodai.signing import mns

from .helpers import AK, SECRET, TOPIC, TRICKY_USER_DATA, message_xml, mns_date, v1_params


@pytest.fixture
def client(backend: EmulatorBackend):
    return create_app(backend).test_client()


def test_vod_through_flask_uses_the_raw_query(client, backend: EmulatorBackend):
    params = v1_params(
        {"Action": "SubmitAIImageJob", "VideoId": "a b", "AITemplateId": "t", "UserData": TRICKY_USER_DATA}
    )
    # quote_plus: spaces as '+', which Flask's parsed args and a re-encoding would not keep.
    response = client.post(f"/?{urlencode(params)}")

    assert response.status_code == 200, response.get_data(as_text=True)
    job = backend.get_job(response.get_json()["JobId"])
    assert (job["VideoId"], job["UserData"]) == ("a b", TRICKY_USER_DATA)


def test_vod_errors_through_flask(client):
    params = v1_params({"Action": "SubmitAIImageJob", "VideoId": "v"})
    response = client.get(f"/?{urlencode(params, quote_via=quote)}")
    assert response.status_code == 400
    assert response.get_json()["Code"] == "SignatureDoesNotMatch"  # signed for POST, sent as GET


def test_mns_through_flask(client, backend: EmulatorBackend):
    path = f"/topics/{TOPIC}/messages"
    headers = {"Content-Type": "text/xml;charset=UTF-8", "x-mns-version": "2015-06-06", "Date": mns_date()}
    headers["Authorization"] = mns.authorization(
        "POST", path, headers, access_key_id=AK, access_key_secret=SECRET
    )
    response = client.post(path, data=message_xml("hi", "t"), headers=headers)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert backend.topic_messages(TOPIC)[0]["MessageBody"] == "hi"


def test_control_api(client, backend: EmulatorBackend):
    backend.publish(TOPIC, "queued", "t")

    assert client.get(f"/_emulator/topics/{TOPIC}/messages").get_json()[0]["MessageBody"] == "queued"
    assert client.get("/_emulator/topics/nope/messages").status_code == 404
    assert client.get("/_emulator/jobs").get_json() == []
    assert client.get("/_emulator/requests").get_json() == []
    assert client.post("/_emulator/reset").status_code == 200
    assert backend.topic_messages(TOPIC) == []


def test_cli_help_lists_the_options():
    result = CliRunner().invoke(main, ["emulator", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--host", "--access-key-id", "--access-key-secret",
                   "--security-token", "--topic", "--region"):
        assert option in result.output


def test_cli_requires_credentials(monkeypatch):
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)
    result = CliRunner().invoke(main, ["emulator", "--port", "0"])
    assert result.exit_code == 2
    assert "--access-key-id" in result.output


# -- fault injection through Flask ---------------------------------------------------------


def test_faults_control_api_round_trip(client, backend: EmulatorBackend):
    added = client.post(
        "/_emulator/faults",
        json=[
            {"operation": "SubmitAIImageJob", "kind": "error", "code": "Throttling.User", "status": 400,
             "probability": 0.5},
            "PublishMessage:reset,times=2",
        ],
    )
    assert added.status_code == 200
    listed = client.get("/_emulator/faults").get_json()
    assert listed == added.get_json()
    assert [(r["spec"], r["fired"]) for r in listed] == [
        ("SubmitAIImageJob:error=Throttling.User/400,p=0.5", 0),
        ("PublishMessage:reset,times=2", 0),
    ]
    assert [str(rule) for rule in backend.faults.rules()] == [r["spec"] for r in listed]
    assert client.post("/_emulator/faults", json="*:latency=0.1").status_code == 200  # one rule

    assert client.delete("/_emulator/faults").get_json() == {"cleared": 3}
    assert client.get("/_emulator/faults").get_json() == []

    # What GET gives back can be posted again as is.
    assert client.post("/_emulator/faults", json=listed).get_json() == listed


@pytest.mark.parametrize("body", [[{"operation": "*", "kind": "reset"}, "Nope:reset"], {"kind": "lost"}, 7])
def test_faults_control_api_refuses_bad_rules_and_adds_none(client, backend: EmulatorBackend, body):
    response = client.post("/_emulator/faults", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert backend.faults.rules() == []


def test_seed_control_api(client, backend: EmulatorBackend):
    assert client.post("/_emulator/seed", json={"seed": 42}).get_json() == {"seed": 42}
    assert backend.faults.seed_value == 42
    for body in ({"seed": "42"}, {"seed": True}, {}, None):
        assert client.post("/_emulator/seed", json=body).status_code == 400


def test_reset_and_lost_leave_flask_as_connection_aborts(client, backend: EmulatorBackend):
    from vodai.emulator.server import ConnectionAbort

    backend.faults.add("SubmitAIImageJob:lost,times=1")
    backend.faults.add("SubmitAIImageJob:reset,times=1")
    params = v1_params({"Action": "SubmitAIImageJob", "VideoId": "v", "AITemplateId": "t"})

    with pytest.raises(ConnectionAbort) as lost:
        client.post(f"/?{urlencode(params, quote_via=quote)}")
    with pytest.raises(ConnectionAbort) as reset:
        client.post(f"/?{urlencode(params, quote_via=quote)}")

    assert (lost.value.kind, reset.value.kind) == ("lost", "reset")
    assert len(backend.jobs()) == 1  # lost processed it, reset did not


def test_latency_delays_every_vod_and_mns_answer_but_not_the_control_api(backend: EmulatorBackend, monkeypatch):
    import vodai.emulator.server as server

    slept: list = []
    monkeypatch.setattr(server.time, "sleep", slept.append)
    client = create_app(backend, latency_ms=20).test_client()
    params = v1_params({"Action": "SubmitAIImageJob", "VideoId": "v", "AITemplateId": "t"})

    assert client.post(f"/?{urlencode(params)}").status_code == 200
    assert client.post(f"/topics/{TOPIC}/messages").status_code >= 400  # unsigned: refused, still delayed
    assert client.get("/_emulator/jobs").status_code == 200
    assert slept == [0.02, 0.02]
    with pytest.raises(ValueError):
        create_app(backend, latency_ms=-1)


def test_cli_latency_option_is_documented():
    assert "--latency-ms" in CliRunner().invoke(main, ["emulator", "--help"]).output
