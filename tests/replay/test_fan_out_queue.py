"""``vodai replay --to-queue`` against a real emulator process: killed with SIGKILL in the middle
and resumed from its checkpoint, it sends every event exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from _servers import emulator_server

pytestmark = pytest.mark.e2e

AK, SECRET = "fanout-ak", "fanout-secret"
QUEUE = "vodai-events"
CLI = "from vodai.cli import main; main()"


def _env(server):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "VODAI_"))}
    env.update(ALIBABA_CLOUD_ACCESS_KEY_ID=AK, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET, VODAI_EMULATOR_URL=server.url)
    return env


def _command(events, checkpoint, rate):
    return [sys.executable, "-c", CLI, "replay", str(events), "--to-queue", QUEUE, "--rate", str(rate),
            "--checkpoint", str(checkpoint), "--no-progress", "--json"]


def _records(checkpoint):
    sent, pending = set(), set()
    for line in checkpoint.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        sent.update(record.get("sent", ()))
        pending.update(record.get("pending", ()))
    return sent, pending


def test_killed_and_resumed_fan_out_sends_every_event(tmp_path):
    total = 480
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps({"EventType": "FileUploadComplete", "VideoId": f"v{i}"}) + "\n"
                              for i in range(total)), encoding="utf-8")
    checkpoint = tmp_path / "fanout.checkpoint"
    with emulator_server(AK, SECRET, queues=(QUEUE,)) as server:
        first = subprocess.Popen(_command(events, checkpoint, rate=400), env=_env(server),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if checkpoint.exists() and len(_records(checkpoint)[0]) >= 160:
                break
            time.sleep(0.01)
        first.kill()  # SIGKILL: no cleanup, no last write
        first.wait(timeout=10)
        sent_before, _pending = _records(checkpoint)
        assert 160 <= len(sent_before) < total, "the first run must stop in the middle"

        resumed = subprocess.run(_command(events, checkpoint, rate=0), env=_env(server),
                                 capture_output=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr.decode()
        report = json.loads(resumed.stdout)

        bodies = Counter(json.loads(m["MessageBody"])["VideoId"] for m in server.queue_messages(QUEUE))

    # Every event is in the queue once: the batch in flight when the first run was killed was
    # finished and recorded by its detached sender, and the resumed run skipped it.
    assert bodies == Counter(f"v{i}" for i in range(total))
    assert report["skipped"] >= len(sent_before) and report["skipped"] + report["sent"] == total
    assert (report["failed"], report["resent"]) == (0, 0)
