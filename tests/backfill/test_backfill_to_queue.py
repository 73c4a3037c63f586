"""``vodai backfill --to-queue`` against a real emulator process: a library of 3,000 media listed
with SearchMedia and sent to the events queue; the run is killed with SIGKILL in the middle and
resumed from its checkpoint, and the queue ends with exactly one message per media."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from click.testing import CliRunner

from _servers import emulator_server
from vodai.cli import main

pytestmark = pytest.mark.e2e

AK, SECRET = "backfill-queue-ak", "backfill-queue-secret"
QUEUE = "vodai-events"
CLI = "from vodai.cli import main; main()"
VIDEOS, IMAGES = 2000, 1000
SINCE = "2024-05-01T00:00:00Z"


def _env(server):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "VODAI_"))}
    env.update(ALIBABA_CLOUD_ACCESS_KEY_ID=AK, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET, VODAI_EMULATOR_URL=server.url)
    return env


def _backfill(region, checkpoint, *, rate=0):
    # No --until: the first run's is "now", and a resumed run takes the one its checkpoint records.
    return [sys.executable, "-c", CLI, "backfill", "--region", region, "--since", SINCE, "--to-queue", QUEUE,
            "--checkpoint", str(checkpoint), "--rate", str(rate), "--no-progress", "--json"]


def _library(url, media, region, count, created):
    result = CliRunner().invoke(main, ["emulator", "media", "add", "--media", media, "--region", region, "--count",
                                       str(count), "--created", created, "--every", "60", "--json", "--url", url])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["MediaIds"]


def _sent(checkpoint):
    sent = set()
    for line in checkpoint.read_text(encoding="utf-8").splitlines() if checkpoint.exists() else ():
        try:
            sent.update(json.loads(line).get("sent", ()))
        except ValueError:
            continue  # a line being written
    return sent


def _media_id(message):
    event = json.loads(message["MessageBody"])["Event"]
    return event.get("VideoId") or event.get("ImageId")


def test_a_killed_backfill_resumes_and_sends_each_media_once(tmp_path):
    checkpoint = tmp_path / "cn-shanghai.checkpoint"
    with emulator_server(AK, SECRET, queues=(QUEUE,)) as server:
        videos = _library(server.url, "video", "cn-shanghai", VIDEOS, SINCE)
        images = _library(server.url, "image", "ap-southeast-1", IMAGES, SINCE)
        _library(server.url, "video", "cn-shanghai", 20, "2024-04-01T00:00:00Z")  # before --since: never sent

        first = subprocess.Popen(_backfill("cn-shanghai", checkpoint, rate=1000), env=_env(server),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(_sent(checkpoint)) < 320:
            assert time.monotonic() < deadline and first.poll() is None, first.stderr.read().decode()
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert len(_sent(checkpoint)) < VIDEOS, "the first run must stop in the middle"

        resumed = subprocess.run(_backfill("cn-shanghai", checkpoint), env=_env(server), capture_output=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr.decode()
        report = json.loads(resumed.stdout)
        assert "resuming:" in resumed.stderr.decode()

        other = subprocess.run(_backfill("ap-southeast-1", checkpoint), env=_env(server), capture_output=True, timeout=60)
        assert other.returncode == 1
        error = other.stderr.decode().strip().splitlines()[-1]
        assert "records another run (region cn-shanghai, not ap-southeast-1)" in error and "--checkpoint" in error

        sg = subprocess.run(_backfill("ap-southeast-1", tmp_path / "sg.checkpoint"), env=_env(server),
                            capture_output=True, timeout=120)
        assert sg.returncode == 0, sg.stderr.decode()
        messages = server.queue_messages(QUEUE)

    copies = Counter(_media_id(m) for m in messages)
    assert copies == Counter(videos + images)  # every media of the window once, nothing twice
    assert report["skipped"] + report["sent"] == VIDEOS and report["skipped"] >= 320
    assert (report["failed"], report["resent"]) == (0, 0)
    assert json.loads(sg.stdout)["sent"] == IMAGES
