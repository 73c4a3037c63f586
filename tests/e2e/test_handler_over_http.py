"""The FC handler, called as FC calls it (bytes plus a context with STS credentials), against the
emulator as a real server process over HTTP: the right action with the right parameters, the JobId
on the topic. Runs in this process (Python 3.11) and in a Python 3.12 subprocess, as FC runs it."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from _servers import emulator_server
from conftest import EVENTS, ROOT, TOLERATED
from e2e.fc_invoke import fc_context, load_handler

AK, SECRET, TOKEN = "STS.e2e-key", "e2e-secret-value", "e2e-sts-token-value"
TOPIC = "vodai-callback"
CASES = [
    ("mns-topic-json/video-cn-shanghai.json", "SubmitAIImageJob", "cn-shanghai", "VideoId"),
    ("raw-base64/video-cn-beijing.json", "SubmitAIImageJob", "cn-beijing", "VideoId"),
    ("cloudevent/image-ap-southeast-1.json", "SubmitAIImageAuditJob", "ap-southeast-1", "MediaId"),
    # A shape no documentation shows, tolerated by the parser: a test fixture, not a sample.
    (TOLERATED / "mns-topic-stream-attrs/image-ap-southeast-1.json", "SubmitAIImageAuditJob", "ap-southeast-1",
     "MediaId"),
]


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as srv:
        yield srv


def _env(server_url: str) -> dict:
    return {
        "VODAI_VOD_ENDPOINT": server_url,
        "VODAI_MNS_ENDPOINT": server_url,
        "VODAI_AI_TEMPLATE_ID": "tpl-ai-e2e",
        "VODAI_AUDIT_TEMPLATE_ID": "tpl-audit-e2e",
        "VODAI_AUDIT_RESOURCE_TYPE": "Image_E2E",
        "VODAI_CALLBACK_TOPIC": TOPIC,
    }


def _context_doc() -> dict:
    return {"request_id": str(uuid.uuid4()), "region": "cn-hangzhou", "account_id": "1234567890123456",
            "credentials": {"access_key_id": AK, "access_key_secret": SECRET, "security_token": TOKEN}}


def _invoke_in_process(event: bytes, server_url: str, monkeypatch) -> dict:
    from vodai import handler as vodai_handler

    for key, value in _env(server_url).items():
        monkeypatch.setenv(key, value)
    for key in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    vodai_handler.reset()  # settings are read once per (cold) instance
    try:
        return json.loads(load_handler()(event, fc_context(_context_doc())))
    finally:
        vodai_handler.reset()


def _invoke_py312(event_file: Path, server_url: str) -> dict:
    python = os.environ.get("VODAI_TEST_PY312")
    if not python or not Path(python).exists():
        message = "no Python 3.12 venv (make test builds .venv312 with the runtime dependencies)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = {"PATH": os.environ["PATH"], **_env(server_url),  # no ALIBABA_CLOUD_*: credentials come from the context
           "VODAI_IDEMPOTENCY_STORE": "memory://", "VODAI_DEAD_LETTERS": os.environ["VODAI_DEAD_LETTERS"]}
    proc = subprocess.run([python, str(ROOT / "tests" / "e2e" / "fc_invoke.py"), str(event_file), json.dumps(_context_doc())],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert version.stdout.strip() == "(3, 12)"
    return json.loads(proc.stdout)


@pytest.mark.e2e
@pytest.mark.parametrize("runner", ["python3.11-in-process", "python3.12-subprocess"])
@pytest.mark.parametrize("sample, action, region, id_param", CASES)
def test_handler_submits_and_publishes(server, monkeypatch, runner, sample, action, region, id_param):
    server.reset()
    path = EVENTS / sample
    if runner.startswith("python3.12"):
        summary = _invoke_py312(path, server.url)
    else:
        summary = _invoke_in_process(path.read_bytes(), server.url, monkeypatch)
    [outcome] = summary["Outcomes"]
    assert outcome["Status"] == "submitted", outcome
    assert (outcome["Action"], outcome["Region"]) == (action, region)

    [request] = [r for r in server.requests_log() if r["action"] == action]
    assert request["status"] == 200 and request["region"] == region
    assert request["access_key_id"] == AK
    assert request["params"][id_param] == outcome["MediaId"]
    if action == "SubmitAIImageJob":
        assert request["params"]["AITemplateId"] == "tpl-ai-e2e"
        assert json.loads(request["params"]["UserData"])["Extend"]["vodai"]["MediaId"] == outcome["MediaId"]
    else:
        assert request["params"]["TemplateId"] == "tpl-audit-e2e"
        assert json.loads(request["params"]["MediaAuditConfiguration"]) == {"ResourceType": "Image_E2E"}

    [message] = server.topic_messages(TOPIC)
    body = json.loads(message["MessageBody"])
    assert message["MessageTag"] == action.replace("Submit", "", 1) and message["MessageId"] == outcome["MessageId"]
    assert (body["JobId"], body["Action"], body["MediaId"], body["Region"]) == (
        outcome["JobId"], action, outcome["MediaId"], region)
    assert [j["JobId"] for j in server.jobs()] == [outcome["JobId"]]
    # Nothing the server logged carries a secret.
    log_text = server.stderr_text() + json.dumps(server.requests_log())
    assert SECRET not in log_text and TOKEN not in log_text


@pytest.mark.e2e
def test_handler_raises_on_retryable_failure_so_fc_redelivers(monkeypatch):
    # Nothing listens on this port: a connection failure is retryable, so the invocation must fail.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{s.getsockname()[1]}"
    from vodai.handler import InvocationFailed

    with pytest.raises(InvocationFailed) as info:
        _invoke_in_process((EVENTS / "raw" / "video-cn-shanghai.json").read_bytes(), dead_url, monkeypatch)
    assert '"Status":"failed"' in str(info.value) and "TransportError" in str(info.value)


@pytest.mark.e2e
def test_malformed_event_does_not_raise(server, monkeypatch):
    summary = _invoke_in_process((EVENTS / "malformed" / "missing-videoid.json").read_bytes(), server.url, monkeypatch)
    assert summary["Outcomes"][0]["Status"] == "dead_lettered" and "VideoId" in summary["Outcomes"][0]["Reason"]
