"""Configuring queue triggers: the control API (``/_emulator/queue-triggers``), the start-up option
``--queue-trigger`` and ``vodai emulator queue-triggers add|list|clear`` against a real emulator."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from _servers import emulator_server
from vodai.cli import main
from vodai.emulator import EmulatorBackend, create_app

AK, SECRET = "qtrig-cli-ak", "qtrig-cli-secret"


def test_control_api_adds_lists_and_removes(backend: EmulatorBackend):
    client = create_app(backend).test_client()
    added = client.post("/_emulator/queue-triggers", json=[
        "events-a=http://127.0.0.1:1,batch=3",
        {"queue": "events-b", "urls": ["http://127.0.0.1:2", "http://127.0.0.1:3"], "concurrency": 2},
    ])
    assert added.status_code == 200, added.get_json()
    status = {t["name"]: t for t in client.get("/_emulator/queue-triggers").get_json()}
    assert set(status) == {"on_upload-events-a", "on_upload-events-b"}
    assert status["on_upload-events-a"]["batch_size"] == 3
    assert status["on_upload-events-b"]["queue_depth"] == {"messages": 0, "visible": 0, "in_flight": 0, "delayed": 0,
                                                            "sent": 0}
    assert [t["url"] for t in status["on_upload-events-b"]["targets"]] == ["http://127.0.0.1:2", "http://127.0.0.1:3"]
    assert status["on_upload-events-b"]["running"] is True

    bad = client.post("/_emulator/queue-triggers", json={"queue": "q", "urls": ["http://x"], "batch_size": 0})
    assert bad.status_code == 400 and "batch size" in bad.get_json()["error"]
    assert client.post("/_emulator/queue-triggers", json={"queue": "q"}).status_code == 400

    assert client.delete("/_emulator/queue-triggers?name=on_upload-events-a").get_json() == {"removed": 1}
    assert client.delete("/_emulator/queue-triggers").get_json() == {"removed": 1}
    assert client.get("/_emulator/queue-triggers").get_json() == []


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _refused(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, result.output
    return result.output.strip().splitlines()[-1]


@pytest.mark.e2e
def test_start_option_and_cli_commands():
    args = ["--queue-trigger", "vodai-events=http://127.0.0.1:9,url=http://127.0.0.1:10,batch=5,window=1"]
    with emulator_server(AK, SECRET, extra_args=args) as server:
        url = server.url
        [started] = json.loads(_run("emulator", "queue-triggers", "list", "--json", "--url", url))
        assert started["spec"] == ("vodai-events=http://127.0.0.1:9,url=http://127.0.0.1:10,batch=5,window=1,"
                                   "concurrency=1,visibility=60,function=on_upload")

        out = _run("emulator", "queue-trigger", "add", "--queue", "backfill", "--target", "http://127.0.0.1:11",
                   "--target", "http://127.0.0.1:12/invoke", "--batch-size", "20", "--concurrency", "2",
                   "--visibility-timeout", "5", "--max-receives", "3", "--dead-letter-queue", "backfill-dead",
                   "--url", url)
        assert "on_upload-backfill: backfill=http://127.0.0.1:11,url=http://127.0.0.1:12,batch=20" in out
        assert "queue backfill: 0 visible, 0 in flight, 0 delayed" in out
        assert {"backfill", "backfill-dead"} <= {q["name"] for q in server.control("queues")}

        listed = _run("emulator", "queue-triggers", "list", "--wait", "--timeout", "5", "--url", url)
        assert listed.count("invocations 0 (0 succeeded, 0 failed)") == 2  # both queues are empty: no wait
        assert _run("emulator", "queue-triggers", "clear", "--name", "on_upload-backfill", "--url", url) == \
            "removed 1 queue trigger\n"
        assert [t["name"] for t in server.control("queue-triggers")] == ["on_upload-vodai-events"]

        add = ["emulator", "queue-triggers", "add", "--queue", "q", "--url", url]
        assert "'--batch-size': 101 is not in the range 1<=x<=100" in _refused(*add, "--target", "http://a", "--batch-size", "101")
        assert "--max-receives and --dead-letter-queue go together" in _refused(*add, "--target", "http://a", "--max-receives", "2")
        assert _refused(*add, "--target", "ftp://a") == "Error: --target 'ftp://a': must be an http:// or https:// URL"
        assert "Missing option '--target'" in _refused(*add)


@pytest.mark.e2e
def test_a_bad_start_option_names_it():
    result = CliRunner().invoke(main, ["emulator", "--access-key-id", AK, "--access-key-secret", SECRET,
                                       "--queue-trigger", "q=http://a,batch=500"])
    assert result.exit_code == 2
    assert "Invalid value for '--queue-trigger': queue trigger 'q=http://a,batch=500': batch size 500" in result.output
