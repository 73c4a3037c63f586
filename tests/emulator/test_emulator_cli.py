"""``vodai emulator``: the server options for VOD's part, and the client subcommands, against a
real emulator process."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from _servers import Answer, Receiver, emulator_server
from vodai.callback.auth import verify
from vodai.cli import main

from . import sdk_clients as sdk

pytestmark = pytest.mark.e2e

AK, SECRET = "cli-ak", "cli-secret"
KEY = "CliKey2024"


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def run_json(*args: str):
    return json.loads(run(*args, "--json"))


def test_server_options_configure_vods_part():
    with Receiver() as receiver:
        args = [
            "--callback-url", f"{receiver.url}/vod/callback", "--callback-auth-key", KEY,
            "--trigger", "vod-events=http://127.0.0.1:9/,format=JSON",
            "--lifecycle", "SubmitAIImageJob:after_queries=3",
            "--lifecycle", "SubmitAIImageAuditJob:after_seconds=30,suggestion=block",
            "--strict-media", "--callback-retry-interval", "0",
        ]
        with emulator_server(AK, SECRET, extra_args=args) as server:
            url = server.url
            assert server.control("callback")["*"]["url"] == f"{receiver.url}/vod/callback"
            assert [t["spec"] for t in server.control("triggers")] == [
                "vod-events=http://127.0.0.1:9,format=JSON,function=on_upload"
            ]
            assert [r["spec"] for r in server.control("lifecycle")] == [
                "SubmitAIImageJob:after_queries=3,outcome=success",
                "SubmitAIImageAuditJob:after_seconds=30,outcome=success,suggestion=block",
            ]
            assert server.settings()["strict_media"] is True

            result = run_json("emulator", "upload", "--media", "video", "--region", "cn-shanghai",
                              "--extend", '{"k":"v"}', "--wait", "--url", url)

            (request,) = receiver.requests
            assert json.loads(request.body) == result["Event"]
            verify(request.headers, url=f"{receiver.url}/vod/callback", keys=[KEY], window=300, now=time.time())
            assert result["Delivery"]["Result"] == "delivered"
            assert KEY not in server.stderr_text()


def test_command_line_credentials_still_start_the_server():
    # The environment carries other credentials: the command line wins, as click does.
    args = ["--access-key-id", "flag-ak", "--access-key-secret", "flag-secret"]
    with emulator_server("env-ak", "env-secret", extra_args=args) as server:
        client = sdk.vod_client(server, "flag-ak", "flag-secret")
        assert sdk.submit_ai_image_job(client, "video-1", "tpl", '{"Extend":{}}')
        assert server.jobs()[0]["VideoId"] == "video-1"


def test_quiet_leaves_out_the_lines_of_routine_traffic_not_failures_nor_the_logs():
    line = "vod SubmitAIImageJob region=cn-shanghai status=200"
    with Receiver([Answer(200)], default=Answer(500)) as receiver, emulator_server(AK, SECRET, extra_args=[
            "--quiet", "--lifecycle", "SubmitAIImageJob:at_once", "--callback-url", receiver.url,
            "--callback-retry-interval", "0"]) as quiet:
        assert sdk.submit_ai_image_job(sdk.vod_client(quiet, AK, SECRET), "video-1", "tpl", '{"Extend":{}}')
        for _ in range(2):  # the first callback is answered 200, the second never
            run("emulator", "upload", "--media", "video", "--region", "cn-shanghai", "--wait", "--url", quiet.url)
        assert [(r["action"], r["status"]) for r in quiet.requests_log()] == [("SubmitAIImageJob", 200)]
        assert [d["Result"] for d in quiet.deliveries()] == ["delivered", "dropped"]
        stderr = quiet.stderr_text()
    assert line not in stderr and "-> delivered" not in stderr
    assert "-> dropped (3 attempt(s))" in stderr and "lifecycle SubmitAIImageJob:at_once" in stderr
    with emulator_server(AK, SECRET) as loud:
        assert sdk.submit_ai_image_job(sdk.vod_client(loud, AK, SECRET), "video-1", "tpl", '{"Extend":{}}')
        assert line in loud.stderr_text()


def test_callback_mns_option_creates_the_queue():
    with emulator_server(AK, SECRET, extra_args=["--callback-mns", "queue:vod-events"]) as server:
        run("emulator", "upload", "--media", "image", "--region", "ap-southeast-1", "--media-id", "img-1",
            "--url", server.url)
        server.wait_deliveries()
        (message,) = server.queue_messages("vod-events")
        assert json.loads(message["MessageBody"])["ImageId"] == "img-1"


@pytest.mark.parametrize(
    "args, error",
    [
        (["--callback-url", "http://x/cb", "--callback-mns", "queue:q"], "exclude each other"),
        (["--callback-auth-key", "Key1"], "goes with --callback-url"),
        (["--callback-url", "http://x/cb", "--callback-auth-key", "bad-key!"], "letters and digits"),
        (["--lifecycle", "SubmitAIImageJob:sometimes"], "cannot read"),
        (["--trigger", "topic-only"], "TOPIC=URL"),
        (["--trigger-retry-interval", "soon"], "LOW-HIGH"),
    ],
)
def test_bad_server_options(args, error: str):
    result = CliRunner().invoke(main, ["emulator", "--port", "0", "--access-key-id", "a", "--access-key-secret", "b",
                                       *args])
    assert result.exit_code == 2 and error in result.output, result.output


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, queues=("vod-events",), seed=3) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(request):
    if "server" in request.fixturenames:
        server = request.getfixturevalue("server")
        server.reset()
        server.control("lifecycle", method="DELETE")
        server.control("callback", method="DELETE")
        server.control("triggers", method="DELETE")


def test_client_commands(server):
    url = ["--url", server.url]
    assert "every region: mns queue:vod-events" in run("emulator", "callback", "set", "--mns", "queue:vod-events", *url)
    run("emulator", "callback", "set", "--region", "cn-beijing", "--http", "http://127.0.0.1:9/cb",
        "--auth-key", KEY, *url)
    shown = run("emulator", "callback", "show", *url)
    assert "cn-beijing: http http://127.0.0.1:9/cb (signed)" in shown and KEY not in shown
    assert run("emulator", "callback", "clear", "--region", "cn-beijing", *url).strip() == "cleared"

    assert "SubmitAIImageJob:at_once,outcome=success" in run(
        "emulator", "lifecycle", "set", "SubmitAIImageJob:at_once", *url)
    assert run_json("emulator", "lifecycle", "show", *url)[0]["schedule"] == "at_once"

    media = run_json("emulator", "media", "add", "--media", "video", "--region", "cn-shanghai", "--media-id", "v-1",
                     *url)
    assert media["MediaId"] == "v-1" and "v-1" in run("emulator", "media", "list", *url)
    output = run("emulator", "upload", "--media", "video", "--region", "cn-shanghai", "--media-id", "v-2",
                 "--wait", *url)
    assert "FileUploadComplete v-2 in cn-shanghai" in output and "mns-queue vod-events delivered" in output

    client = sdk.vod_client(server, AK, SECRET)
    job_id = sdk.submit_ai_image_job(client, "v-2", "tpl", '{"Extend":{}}')
    listing = run("emulator", "jobs", *url)
    assert job_id in listing and "success" in listing
    assert json.loads(run("emulator", "jobs", "--id", job_id, *url))["AIImageResult"]

    deliveries = run("emulator", "deliveries", "--wait", *url)
    assert "mns-queue" in deliveries and "FileUploadComplete" in deliveries
    assert "SubmitAIImageJob" in run("emulator", "requests", *url)
    assert json.loads(run("emulator", "messages", "--queue", "vod-events", *url))[0]["MessageBody"]

    assert "vod-events=http://127.0.0.1:9,format=JSON" in run(
        "emulator", "triggers", "add", "vod-events=http://127.0.0.1:9,format=JSON", *url)
    assert run("emulator", "triggers", "clear", *url).strip() == "removed 1 trigger"
    assert json.loads(run("emulator", "settings", "--strict-media", *url))["strict_media"] is True
    assert json.loads(run("emulator", "settings", "--lenient-media", *url))["strict_media"] is False
    assert "0 job(s) finished" in run("emulator", "advance", "10", *url)
    assert "no fault rules" in run("emulator", "faults", "list", *url)
    assert run("emulator", "reset", *url).strip() == "reset"
    assert "no jobs" in run("emulator", "jobs", *url)


def test_client_command_errors(server):
    result = CliRunner().invoke(main, ["emulator", "lifecycle", "set", "Nope:at_once", "--url", server.url])
    assert result.exit_code == 2 and "unknown action" in result.output
    result = CliRunner().invoke(main, ["emulator", "callback", "set", "--url", server.url])
    assert result.exit_code == 2 and "--http" in result.output
    result = CliRunner().invoke(main, ["emulator", "upload", "--media", "video", "--region", "x", "--url", server.url])
    assert result.exit_code == 1 and "refused" in result.output
    result = CliRunner().invoke(main, ["emulator", "jobs", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "cannot reach" in result.output


def test_state_save_and_load_commands(server, tmp_path: Path):
    url = ["--url", server.url]
    run("emulator", "upload", "--media", "video", "--region", "cn-shanghai", "--media-id", "keep-me", *url)
    state_file = tmp_path / "state.json"
    assert "1 media" in run("emulator", "state", "save", str(state_file), *url)
    run("emulator", "reset", *url)
    assert server.control("media") == []

    assert "1 media" in run("emulator", "state", "load", str(state_file), *url)

    assert [m["MediaId"] for m in server.control("media")] == ["keep-me"]


def test_state_option_saves_at_exit_and_loads_at_start(tmp_path: Path):
    state_file = tmp_path / "emulator-state.json"
    with emulator_server(AK, SECRET, extra_args=["--state", str(state_file)]) as first:
        first.upload("image", "ap-southeast-1", media_id="img-kept")
        first.set_lifecycle("SubmitAIImageJob:never")
        client = sdk.vod_client(first, AK, SECRET)
        job_id = sdk.submit_ai_image_job(client, "video-kept", "tpl", '{"Extend":{}}')
        assert not state_file.exists()
        first.process.send_signal(signal.SIGTERM)
        first.process.wait(timeout=20)

    saved = json.loads(state_file.read_text(encoding="utf-8"))
    assert set(saved["media"]) == {"img-kept"} and set(saved["jobs"]) == {job_id}
    assert SECRET not in state_file.read_text(encoding="utf-8")

    with emulator_server(AK, SECRET, extra_args=["--state", str(state_file)]) as second:
        assert [m["MediaId"] for m in second.control("media")] == ["img-kept"]
        assert second.control(f"jobs/{job_id}")["VideoId"] == "video-kept"
        assert second.control("lifecycle")[0]["schedule"] == "never"


def test_help_documents_the_grammars():
    output = run("emulator", "--help")
    for text in ("--callback-url", "--callback-mns", "--trigger", "--lifecycle", "--state", "--strict-media",
                 "after_queries=N", "TOPIC=URL", "upload", "state", "lifecycle"):
        assert text in output
