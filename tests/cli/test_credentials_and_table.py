"""--cloud's credential chain (a CLI profile in a temporary HOME), kept off the handler's import
path; the table for people; Attempts counting submits only."""

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from _servers import emulator_server
from conftest import EVENTS
from vodai.cli import main

ENTRY = [sys.executable, "-c", "from vodai.__main__ import main; main()"]
PROFILE_ID, PROFILE_SECRET = "STS.profile-key", "profile-secret-value-9"


def _home_with_profiles(tmp_path):
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text(json.dumps({"current": "default", "profiles": [
        {"name": "default", "mode": "AK", "access_key_id": "default-id", "access_key_secret": "default-secret-1"},
        {"name": "work", "mode": "AK", "access_key_id": PROFILE_ID, "access_key_secret": PROFILE_SECRET},
    ]}))
    return tmp_path


def test_cloud_takes_the_credentials_of_a_cli_profile(tmp_path):
    home = _home_with_profiles(tmp_path)
    with emulator_server(PROFILE_ID, PROFILE_SECRET, topics=["vodai-callback"]) as server:
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
               "VODAI_VOD_ENDPOINT": server.url, "VODAI_MNS_ENDPOINT": server.url, "VODAI_AI_TEMPLATE_ID": "tpl",
               "VODAI_CALLBACK_TOPIC": "vodai-callback", "VODAI_IDEMPOTENCY_STORE": "memory://",
               "VODAI_DEAD_LETTERS": str(tmp_path / "dead")}
        event = str(EVENTS / "raw" / "video-cn-shanghai.json")
        proc = subprocess.run(ENTRY + ["invoke", "--cloud", "--profile", "work", "-e", event],
                              capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        [outcome] = json.loads(proc.stdout)["Outcomes"]
        assert outcome["Status"] == "submitted" and outcome["Attempts"] == 1
        # Without --profile the chain takes the file's current profile, whose key the emulator does not know.
        proc = subprocess.run(ENTRY + ["invoke", "--cloud", "-e", event], capture_output=True, text=True, env=env,
                              timeout=60)
        assert json.loads(proc.stdout)["Outcomes"][0]["Error"]["Code"] == "InvalidAccessKeyId.NotFound"
        assert PROFILE_SECRET not in proc.stdout + proc.stderr


def test_an_unknown_profile_is_one_line_naming_it(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(_home_with_profiles(tmp_path))}
    proc = subprocess.run(ENTRY + ["invoke", "--cloud", "--profile", "nope", "-e", str(EVENTS / "raw")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith("Error: --profile nope: ")


def test_the_handler_modules_never_import_the_credentials_package():
    code = ("import sys, runpy\n"
            "for name in ('on_upload', 'track_jobs', 'vod_callback'):\n"
            "    runpy.run_path(f'functions/{name}/index.py')\n"
            "import vodai.runtime.main\n"
            "print(sorted(n for n in sys.modules if n.startswith('alibabacloud_credentials')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=EVENTS.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_table_is_one_short_line_per_event_with_totals(monkeypatch):
    for key in ("VODAI_AI_TEMPLATE_ID", "VODAI_AUDIT_TEMPLATE_ID", "VODAI_CALLBACK_TOPIC", "VODAI_ROUTES"):
        monkeypatch.delenv(key, raising=False)
    result = CliRunner().invoke(main, ["invoke", "--table", str(EVENTS)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert lines[0].split() == ["file", "status", "action", "region", "JobId", "or", "reason"]
    assert lines[-1].split(", ")[1].startswith(f"{len(lines) - 2} outcomes: ")  # one line per outcome
    assert "the same upload as a line above" in lines[-1]
    # raw/video-cn-shanghai.json is the same upload as cloudevent/video-cn-shanghai.json, seen first.
    [raw] = [line for line in lines if line.startswith("raw/video-cn-shanghai.json")]
    assert "skipped" in raw and "same upload as cloudevent/video" in raw  # cut to fit 100 columns
    assert "{" not in result.stderr and "RequestId:" not in result.stderr  # no JSON or REPORT lines


def test_log_json_keeps_the_outcome_lines_with_the_table(monkeypatch):
    result = CliRunner().invoke(main, ["invoke", "--table", "--log-json", str(EVENTS / "raw" / "video-cn-shanghai.json")])
    assert result.exit_code == 0, result.stderr
    assert '"logger":"vodai.outcome"' in result.stderr and "RequestId:" in result.stderr
