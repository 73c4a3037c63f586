"""``vodai jobs list / poll / watch`` in process, against the emulator as a real server process and a
SQLite store under the test's own directory."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from _servers import emulator_server
from vodai.config import Settings
from vodai.local_context import LocalContext, LocalCredentials
from vodai.events import samples
from vodai.handler import run
from vodai.routing import DEFAULT_TABLE
from vodai.cli import main

AK, SECRET, TOKEN = "STS.jobs-cli-key", "jobs-cli-secret-5", "jobs-cli-token-6"
TOPIC = "vodai-callback"
_CLEARED = ("VODAI_TRACKING_STORE", "VODAI_IDEMPOTENCY_PREFIX", "VODAI_ROUTES", "VODAI_REGION")


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,), extra_args=["--lifecycle", "*:after_queries=1"]) as srv:
        yield srv


@pytest.fixture
def env(server, monkeypatch, tmp_path):
    for key in _CLEARED:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    values = {"VODAI_IDEMPOTENCY_STORE": f"sqlite:///{tmp_path / 'state.sqlite3'}", "VODAI_VOD_ENDPOINT": server.url,
              "VODAI_MNS_ENDPOINT": server.url, "VODAI_AI_TEMPLATE_ID": "tpl-ai", "VODAI_AUDIT_TEMPLATE_ID": "tpl-audit",
              "VODAI_CALLBACK_TOPIC": TOPIC, "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
              "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET, "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def jobs(*args: str):
    result = CliRunner().invoke(main, ["jobs", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def submit(*uploads):
    """Jobs submitted by the on_upload pipeline (the code FC runs), recorded in the store."""
    context = LocalContext(credentials=LocalCredentials(AK, SECRET, TOKEN))
    ids = []
    for media, region in uploads:
        raw = samples.wrap(samples.body(media, region=region, media_id=uuid.uuid4().hex), "raw")
        [outcome] = run(raw, context, settings=Settings.from_env(), routes=DEFAULT_TABLE).outcomes
        assert outcome.status == "submitted", outcome.reason
        ids.append(outcome.job_id)
    return ids


def test_list_shows_the_tracked_jobs(env):
    empty = jobs("list", "--json")
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []
    ids = submit(("video", "cn-shanghai"), ("image", "ap-southeast-1"))
    listed = json.loads(jobs("list", "--json").stdout)
    assert [j["JobId"] for j in listed] == ids[::-1]  # newest first
    assert {j["Status"] for j in listed} == {"pending"}
    assert {j["Action"] for j in listed} == {"SubmitAIImageJob", "SubmitAIImageAuditJob"}
    assert all(j["MediaId"] and j["Region"] and j["TemplateId"] and j["SubmittedAt"] and j["EventType"] for j in listed)
    assert json.loads(jobs("list", "--status", "done", "--json").stdout) == []
    assert len(json.loads(jobs("list", "--limit", "1", "--json").stdout)) == 1
    table = jobs("list")
    assert table.exit_code == 0 and ids[0] in table.stdout and "pending" in table.stdout
    assert jobs("list", "--status", "bogus").exit_code == 2


def test_poll_prints_the_summary_and_finished_jobs_show_their_result(env, server):
    ids = submit(("video", "cn-beijing"), ("image", "ap-southeast-1"))
    first = jobs("poll", "-q")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["Counts"] == {"running": 2}
    second = json.loads(jobs("poll", "-q").stdout)
    assert second["Counts"] == {"completed": 2}
    assert {j["JobId"] for j in second["Jobs"]} == set(ids) and all(j["MessageId"] for j in second["Jobs"])
    done = json.loads(jobs("list", "--status", "done", "--json").stdout)
    assert {j["JobId"]: j["Status"] for j in done} == {i: "success" for i in ids}
    assert all(j["CompletionMessageId"] and j["ResultSummary"] for j in done)
    table = jobs("list", "--status", "success").stdout
    assert "images" in table and "success" in table
    tags = [m["MessageTag"] for m in server.topic_messages(TOPIC) if json.loads(m["MessageBody"])["JobId"] in ids]
    assert sorted(tags) == ["AIAuditJobDone", "AIImageAuditJob", "AIImageJob", "AIImageJobDone"]  # one of each


def test_poll_and_watch_refuse_to_reach_alibaba_cloud_without_cloud(env, monkeypatch):
    monkeypatch.delenv("VODAI_VOD_ENDPOINT")
    for command in (["poll"], ["watch", "--once"]):
        refused = jobs(*command)
        assert refused.exit_code == 2 and "--cloud" in refused.output


def test_poll_fails_when_no_call_works(env, monkeypatch):
    submit(("video", "cn-shanghai"))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret")
    failed = jobs("poll", "-q")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["Errors"][0]["Code"] == "SignatureDoesNotMatch"
    assert "not-the-secret" not in failed.output


def test_watch_polls_until_every_job_is_done(env):
    assert "no pending jobs" in jobs("watch", "--interval", "0").output
    ids = submit(("video", "cn-shanghai"), ("video", "cn-beijing"), ("image", "ap-southeast-1"))
    once = jobs("watch", "--once")
    assert once.exit_code == 0 and "poll 1, 0 of 3 done" in once.output
    watched = jobs("watch", "--interval", "0")
    assert watched.exit_code == 0 and "poll 1, 3 of 3 done" in watched.output
    assert all(i in watched.output for i in ids)
    assert {j["Status"] for j in json.loads(jobs("list", "--json").stdout)} == {"success"}
