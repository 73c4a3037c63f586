"""functions/track_jobs called as FC's Timer trigger calls it (bytes plus an FC 2.0 context with STS
credentials), against the emulator as a real server process; on_upload records the jobs it polls."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from _servers import emulator_server
from conftest import ROOT
from e2e.fc_invoke import fc_context
from vodai import handler as on_upload_handler
from vodai.events import samples
from vodai.runtime.registry import Functions
from vodai import track_jobs as track_handler
from vodai.track_jobs import PollFailed, event_limit

AK, SECRET, TOKEN = "STS.track-key", "track-secret-value-7", "track-sts-token-value-8"
TOPIC = "vodai-callback"
INDEX = ROOT / "functions" / "track_jobs" / "index.py"


@pytest.fixture(scope="module")
def server():
    lifecycle = ["--lifecycle", "SubmitAIImageJob:after_queries=1", "--lifecycle", "SubmitAIImageAuditJob:after_queries=1"]
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,), extra_args=lifecycle) as srv:
        yield srv


@pytest.fixture
def functions(server, monkeypatch):
    env = {"VODAI_VOD_ENDPOINT": server.url, "VODAI_MNS_ENDPOINT": server.url, "VODAI_AI_TEMPLATE_ID": "tpl-ai",
           "VODAI_AUDIT_TEMPLATE_ID": "tpl-audit", "VODAI_CALLBACK_TOPIC": TOPIC}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    on_upload_handler.reset()
    track_handler.reset()  # settings are read once per (cold) instance
    loaded = Functions()
    yield loaded.load("on_upload").handler, loaded.load("track_jobs").handler
    on_upload_handler.reset()
    track_handler.reset()


def _context(secret: str = SECRET):
    return fc_context({"request_id": str(uuid.uuid4()), "region": "cn-hangzhou", "account_id": "1234567890123456",
                       "credentials": {"access_key_id": AK, "access_key_secret": secret, "security_token": TOKEN}})


def _timer(payload: str = "") -> bytes:
    """What FC's Timer trigger sends."""
    return json.dumps({"triggerTime": "2026-11-21T19:52:00Z", "triggerName": "timer", "payload": payload}).encode()


def _completions(server, job_ids):
    return [m for m in server.topic_messages(TOPIC) if json.loads(m["MessageBody"]).get("JobId") in job_ids
            and m["MessageTag"] in ("AIImageJobDone", "AIAuditJobDone")]


def test_the_timer_function_follows_each_job_to_one_completion_message(server, functions):
    on_upload, track_jobs = functions
    job_ids = []
    for media, region in (("video", "cn-shanghai"), ("image", "ap-southeast-1")):
        raw = samples.wrap(samples.body(media, region=region, media_id=uuid.uuid4().hex), "mns-topic-json")
        [outcome] = json.loads(on_upload(raw, _context()))["Outcomes"]
        assert outcome["Status"] == "submitted"
        job_ids.append(outcome["JobId"])

    first = json.loads(track_jobs(_timer(), _context()))
    assert first["Counts"] == {"running": 2} and first["Calls"] == {"GetAIImageJobs": 1, "GetAIMediaAuditJob": 1}
    assert _completions(server, job_ids) == []
    second = json.loads(track_jobs(_timer(), _context()))
    assert second["Counts"] == {"completed": 2} and second["RequestId"]
    done = _completions(server, job_ids)
    assert sorted(m["MessageTag"] for m in done) == ["AIAuditJobDone", "AIImageJobDone"]
    bodies = {json.loads(m["MessageBody"])["JobId"]: json.loads(m["MessageBody"]) for m in done}
    assert bodies[job_ids[0]]["Region"] == "cn-shanghai" and bodies[job_ids[1]]["Region"] == "ap-southeast-1"
    assert {b["Event"] for b in bodies.values()} == {"JobCompleted"}
    third = json.loads(track_jobs(_timer(), _context()))
    assert third["Pending"] == 0 and third["Calls"] == {} and len(_completions(server, job_ids)) == 2


def test_the_timer_payload_can_bound_a_poll(server, functions):
    on_upload, track_jobs = functions
    for _ in range(3):
        raw = samples.wrap(samples.body("video", region="cn-beijing", media_id=uuid.uuid4().hex), "raw")
        assert json.loads(on_upload(raw, _context()))["Counts"] == {"submitted": 1}
    summary = json.loads(track_jobs(_timer(json.dumps({"Limit": 2})), _context()))
    assert summary["Pending"] == 2
    assert event_limit(_timer("not json")) is None and event_limit(b"") is None and event_limit(b'{"Limit": 5}') == 5


def test_a_poll_where_no_call_works_fails_the_invocation_without_leaking_secrets(server, functions):
    on_upload, track_jobs = functions
    raw = samples.wrap(samples.body("video", region="cn-shanghai", media_id=uuid.uuid4().hex), "raw")
    assert json.loads(on_upload(raw, _context()))["Counts"] == {"submitted": 1}
    with pytest.raises(PollFailed) as info:
        track_jobs(_timer(), _context(secret="not-the-secret"))
    summary = json.loads(str(info.value))
    assert summary["Errors"][0]["Code"] == "SignatureDoesNotMatch" and "error" in summary["Counts"]
    assert "not-the-secret" not in str(info.value) and TOKEN not in str(info.value)


def test_the_function_imports_no_tooling():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('index', {str(INDEX)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "heavy = sorted(n for n in sys.modules if n.split('.')[0] in ('flask', 'werkzeug', 'click', 'rich', 'yaml')"
        " or n.startswith('vodai.emulator') or n == 'vodai.cli' or n.startswith('vodai.cli.'))\n"
        "print(heavy, callable(m.handler))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(ROOT)).stdout
    assert out.strip() == "[] True"
