"""``vodai invoke`` and ``vodai generate-event`` as a user runs them."""

import json
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import EVENTS, expected_outcomes
from vodai.cli import main
from vodai.events import samples
from vodai.events.envelopes import unwrap
from vodai.events.models import parse_event

RUN_CLI = [sys.executable, "-c", "from vodai.cli import main; main()"]


def _clean_env(monkeypatch):
    for key in ("VODAI_AI_TEMPLATE_ID", "VODAI_AUDIT_TEMPLATE_ID", "VODAI_CALLBACK_TOPIC", "VODAI_ROUTES"):
        monkeypatch.delenv(key, raising=False)


def test_invoke_file_prints_result_on_stdout_and_report_on_stderr(monkeypatch):
    _clean_env(monkeypatch)
    result = CliRunner().invoke(main, ["invoke", "-e", str(EVENTS / "raw" / "video-cn-shanghai.json")])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    [outcome] = doc["Outcomes"]
    assert outcome["Status"] == "submitted" and outcome["Action"] == "SubmitAIImageJob" and outcome["JobId"]
    assert f"RequestId: {doc['RequestId']}" in result.stderr
    assert "Duration:" in result.stderr and "Max Memory Used:" in result.stderr


def test_invoke_reads_stdin(monkeypatch):
    _clean_env(monkeypatch)
    data = (EVENTS / "cloudevent" / "image-ap-southeast-1.json").read_bytes()
    result = CliRunner().invoke(main, ["invoke", "-"], input=data)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["Outcomes"][0]["Action"] == "SubmitAIImageAuditJob"


@pytest.mark.parametrize("layout", ["sam", "flat"])
def test_env_vars_file_sets_the_function_environment(tmp_path, monkeypatch, layout):
    _clean_env(monkeypatch)
    values = {"VODAI_AI_TEMPLATE_ID": "tpl-from-env-file"}
    doc = {"Parameters": {"VODAI_AUDIT_TEMPLATE_ID": "x"}, "on_upload": values} if layout == "sam" else values
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["invoke", "--env-vars", str(env_file), str(EVENTS / "raw" / "video-cn-beijing.json")])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["Outcomes"][0]["TemplateId"] == "tpl-from-env-file"


def test_invoke_exits_non_zero_when_the_function_fails(tmp_path):
    # --cloud against an endpoint where nothing listens: a retryable failure, as FC would redeliver.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {"PATH": "/usr/bin:/bin", "VODAI_VOD_ENDPOINT": dead, "VODAI_MNS_ENDPOINT": dead, "VODAI_AI_TEMPLATE_ID": "t",
           "VODAI_CALLBACK_TOPIC": "t", "ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret-xyz"}
    proc = subprocess.run(RUN_CLI + ["invoke", "--cloud", str(EVENTS / "raw" / "video-cn-shanghai.json")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["Outcomes"][0]["Status"] == "failed"
    assert "secret-xyz" not in proc.stdout + proc.stderr


def test_invoke_table_lists_every_event_of_a_directory(monkeypatch):
    _clean_env(monkeypatch)
    result = CliRunner().invoke(main, ["invoke", "--table", str(EVENTS / "cloudevent-batch")])
    assert result.exit_code == 0, result.stderr
    wanted = [e for name, entries in expected_outcomes().items() if name.startswith("cloudevent-batch/") for e in entries]
    statuses = [line.split()[1] for line in result.stdout.splitlines()[1:-1]]  # between header and totals
    assert statuses.count("submitted") == sum(not e["skipped"] for e in wanted)
    assert statuses.count("skipped") == sum(e["skipped"] for e in wanted)


def test_invoke_without_events_is_a_usage_error():
    result = CliRunner().invoke(main, ["invoke"])
    assert result.exit_code == 2 and "event" in result.stderr


@pytest.mark.parametrize("shape", list(samples.SHAPES))
@pytest.mark.parametrize("media", ["video", "audio", "image", "attached"])
def test_generate_event_every_shape_validates(shape, media):
    result = CliRunner().invoke(main, ["generate-event", "--shape", shape, "--media", media, "--region", "cn-beijing"])
    assert result.exit_code == 0, result.stderr
    records = unwrap(result.stdout.encode())
    assert records and all(r.error is None for r in records)
    assert {parse_event(r.body).media_type for r in records} == {media}


def test_generate_event_uses_the_given_fields():
    args = ["generate-event", "--shape", "cloudevent", "--media", "image", "--region", "ap-southeast-1",
            "--media-id", "img-42", "--extend", '{"k":"v"}', "--size", "123"]
    result = CliRunner().invoke(main, args)
    [record] = unwrap(result.stdout.encode())
    event = parse_event(record.body)
    assert (event.media_id, event.extend, event.size, record.region) == ("img-42", {"k": "v"}, 123, "ap-southeast-1")


def test_generate_event_without_region_hint_leaves_the_envelope_silent():
    result = CliRunner().invoke(main, ["generate-event", "--shape", "http-trigger", "--region", "cn-beijing", "--no-region-hint"])
    [record] = unwrap(result.stdout.encode())
    assert record.region is None and "oss-cn-beijing" in parse_event(record.body).file_url


def test_generate_event_rejects_bad_extend():
    result = CliRunner().invoke(main, ["generate-event", "--extend", "{nope"])
    assert result.exit_code == 2 and "--extend" in result.stderr


def test_invoke_via_http_goes_through_the_runtime_shim(monkeypatch):
    _clean_env(monkeypatch)
    for key in ("VODAI_VOD_ENDPOINT", "VODAI_MNS_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    event = EVENTS / "mns-topic-json" / "image-ap-southeast-1.json"
    result = CliRunner().invoke(main, ["invoke", "--via-http", "-e", str(event)])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    [outcome] = doc["Outcomes"]
    assert outcome["Action"] == "SubmitAIImageAuditJob" and outcome["JobId"] and outcome["MessageId"]
    assert f"RequestId: {doc['RequestId']}" in result.stderr


def test_invoke_via_http_reports_a_failed_function(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {"PATH": "/usr/bin:/bin", "VODAI_VOD_ENDPOINT": dead, "VODAI_MNS_ENDPOINT": dead, "VODAI_AI_TEMPLATE_ID": "t",
           "VODAI_CALLBACK_TOPIC": "t", "ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret-xyz"}
    proc = subprocess.run(RUN_CLI + ["invoke", "--cloud", "--via-http", str(EVENTS / "raw" / "video-cn-shanghai.json")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["Outcomes"][0]["Status"] == "failed"
    assert "FC Invoke Start RequestId" in proc.stderr
    assert "secret-xyz" not in proc.stdout + proc.stderr
