"""Local runs never touch cloud records: what a run on the emulator records lives in a namespace of
its own, so no local run can make a real upload look done (issue 26, item 6)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import EVENTS
from vodai.cli import main
from vodai.config import Settings
from vodai.handler import run
from vodai.local import emulator_target

EVENT = EVENTS / "mns-topic-json" / "image-ap-southeast-1.json"


@pytest.mark.parametrize(("endpoint", "namespace"), [
    (None, "vodai"),  # a deployed function: its records stay where they always were
    ("https://vod.cn-shanghai.aliyuncs.com", "vodai"),
    ("https://vod-vpc.cn-shanghai.aliyuncs.com", "vodai"),
    ("http://127.0.0.1:9100", "vodai:emulator"),
    ("http://emulator.vodai.local", "vodai:emulator"),
    ("https://vod.cn-shanghai.aliyuncs.com.example.net", "vodai:emulator"),
])
def test_the_namespace_follows_the_vod_endpoint(endpoint, namespace):
    env = {"VODAI_VOD_ENDPOINT": endpoint} if endpoint else {}
    assert Settings.from_env(env).namespace == namespace


def test_invoke_via_http_on_the_emulator_leaves_the_cloud_run_of_the_upload_to_submit(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"  # one store for both runs, as a developer's .vodai/ is
    # Set (not deleted), so that what --via-http sets in the environment is undone after the test.
    for key in ("VODAI_VOD_ENDPOINT", "VODAI_MNS_ENDPOINT", "VODAI_ROUTES", "VODAI_IDEMPOTENCY_PREFIX", "VODAI_ACCOUNT_ID"):
        monkeypatch.setenv(key, "")
    shared = {"VODAI_IDEMPOTENCY_STORE": url, "VODAI_AUDIT_TEMPLATE_ID": "T-audit", "VODAI_AI_TEMPLATE_ID": "T-ai",
              "VODAI_CALLBACK_TOPIC": "vodai-callback"}
    for key, value in shared.items():
        monkeypatch.setenv(key, value)

    result = CliRunner().invoke(main, ["invoke", "--via-http", "-e", str(EVENT)])
    assert result.exit_code == 0, result.stderr
    [local] = json.loads(result.stdout)["Outcomes"]
    assert local["Status"] == "submitted"

    # The cloud run: the same store, Alibaba Cloud's own endpoints (answered here by an emulator).
    cloud = Settings.from_env({**shared, "VODAI_ACCOUNT_ID": "1234567890"})
    target = emulator_target({})
    outcome, = run(EVENT.read_bytes(), target.new_context(), settings=cloud, routes=target.routes,
                   session=target.session).outcomes
    assert (outcome.status, outcome.duplicate) == ("submitted", None), outcome
    assert outcome.job_id != local["JobId"]
