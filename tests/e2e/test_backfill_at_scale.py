"""Issue 28's local run, as a test, all real processes over real HTTP: 100,000 media in the emulator
(50,000 videos in cn-shanghai, 50,000 images in ap-southeast-1, created a minute apart), backfilled
with ``vodai backfill --to-queue`` into the emulator's events queue of each region, consumed by four
``vodai serve --function on_upload`` instances sharing a real redis-server (production's store)
through the emulator's FC queue triggers (batches of 10, template.yml's default). The cn-shanghai
backfill is killed with SIGKILL once a fifth is sent and resumed from its checkpoint.

Then: exactly one AI job per media, of the right kind in the right region; every JobId published to
the callback topic once; every media sent to its queue once (the emulator counts every message ever
sent, and the checkpoint records each id once); the resumed run skipped what the killed one sent;
every outcome submitted and marked as a backfill; nothing failed or dead-lettered; no secret in a log.

``VODAI_SCALE_MEDIA`` (default 100000) sets the number of media, half videos and half images; the
phase timings are printed (``pytest -s``, or with a failure).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from _redis import redis_server
from _servers import emulator_server, serve_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AK, SECRET, TOKEN = "STS.scale-e2e", "scale-e2e-secret-value", "scale-e2e-token-value"
REDIS_PASSWORD = "scale-e2e-redis-password"
CALLBACK_TOPIC = "vodai-callback"
# One events queue per region: an FC queue trigger is regional (its CloudEvents' aliyunregionid).
SH_QUEUE, SG_QUEUE = "vodai-events", "vodai-events-sg"
SUBMISSION_TAGS = {"AIImageJob", "AIImageAuditJob"}
INSTANCES = 4
BATCH, WINDOW = 10, 2  # template.yml's EventsBatchSize and EventsBatchWindow defaults
SINCE = "2024-05-01T00:00:00Z"
MEDIA = int(os.environ.get("VODAI_SCALE_MEDIA") or 100_000)
VIDEOS, IMAGES = MEDIA // 2, MEDIA - MEDIA // 2
KILL_AFTER = VIDEOS // 5  # sent by the first cn-shanghai run before it is killed
CLI = "from vodai.cli import main; main()"


class _Phases:
    """How long each phase took: printed, so a slow run shows where the time went."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.laps: list[str] = []

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps.append(f"{name} {now - self.last:.1f} s")
        self.last = now

    def __str__(self) -> str:
        return f"{MEDIA} media in {time.monotonic() - self.start:.1f} s: " + ", ".join(self.laps)


class _Checkpoint:
    """The ids a checkpoint records as sent, each time it was recorded; read as the file grows (a
    line being written waits for the next read)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.sent = path, 0, Counter()

    def read(self) -> Counter:
        if self.path.exists():
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self.offset += len(complete)
            for line in complete.splitlines():
                with contextlib.suppress(ValueError):
                    self.sent.update(json.loads(line).get("sent", ()))
        return self.sent


def _vodai(env: dict, *args: str, timeout: float = 600) -> str:
    done = subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def _backfill(region: str, media: str, queue: str, checkpoint: Path) -> list[str]:
    # No --until: the first run's is "now", and the resumed run takes the one its checkpoint records.
    return [sys.executable, "-c", CLI, "backfill", "--region", region, "--media", media, "--since", SINCE,
            "--to-queue", queue, "--checkpoint", str(checkpoint), "--no-progress", "--json"]


def _library(env: dict, media: str, region: str, count: int) -> list[str]:
    """``count`` media uploaded before vodai was deployed, created a minute apart from SINCE."""
    added = _vodai(env, "emulator", "media", "add", "--media", media, "--region", region, "--count", str(count),
                   "--created", SINCE, "--every", "60", "--json")
    return json.loads(added)["MediaIds"]


def _outcomes(text: str) -> list[dict]:
    """The outcome lines of a ``vodai serve`` log (one JSON object per event, after FC's prefix)."""
    return [json.loads(line[line.index("{"):]) for line in text.splitlines() if '"logger":"vodai.outcome"' in line]


def test_a_killed_backfill_of_100000_media_through_the_queues_makes_one_job_each(tmp_path):
    phases = _Phases()
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(redis_server(password=REDIS_PASSWORD))
        # --quiet: no line per request (more than 200,000 of them); the request log keeps them.
        server = stack.enter_context(emulator_server(AK, SECRET, TOKEN, topics=(CALLBACK_TOPIC,),
                                                     queues=(SH_QUEUE, SG_QUEUE), extra_args=["--quiet"]))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "VODAI_"))}
        env.update(ALIBABA_CLOUD_ACCESS_KEY_ID=AK, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET,
                   ALIBABA_CLOUD_SECURITY_TOKEN=TOKEN, VODAI_EMULATOR_URL=server.url)
        videos = _library(env, "video", "cn-shanghai", VIDEOS)
        images = _library(env, "image", "ap-southeast-1", IMAGES)
        phases.lap("media added")

        serve_env = {
            "VODAI_VOD_ENDPOINT": server.url, "VODAI_MNS_ENDPOINT": server.url,
            "VODAI_AI_TEMPLATE_ID": "tpl-ai", "VODAI_AUDIT_TEMPLATE_ID": "tpl-audit",
            "VODAI_CALLBACK_TOPIC": CALLBACK_TOPIC,
            "VODAI_IDEMPOTENCY_STORE": store,  # one store for every instance, as on FC
            "VODAI_DEAD_LETTERS": str(tmp_path / "dead-letters"),
        }
        if os.environ.get("PYTHONPATH"):
            serve_env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # the code under test
        instances = [stack.enter_context(serve_process("on_upload", serve_env)) for _ in range(INSTANCES)]
        targets = [arg for instance in instances for arg in ("--target", instance.url)]
        for queue, region in ((SH_QUEUE, "cn-shanghai"), (SG_QUEUE, "ap-southeast-1")):
            _vodai(env, "emulator", "queue-triggers", "add", "--queue", queue, *targets, "--batch-size", str(BATCH),
                   "--batch-window", str(WINDOW), "--region", region)
        phases.lap("instances up")

        sh_checkpoint = tmp_path / "cn-shanghai.checkpoint"
        first = subprocess.Popen(_backfill("cn-shanghai", "video", SH_QUEUE, sh_checkpoint), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        recorded = _Checkpoint(sh_checkpoint)
        deadline = time.monotonic() + 300
        while len(recorded.read()) < KILL_AFTER:
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        first.stderr.close()
        phases.lap("first cn-shanghai run, killed")

        resumed = subprocess.run(_backfill("cn-shanghai", "video", SH_QUEUE, sh_checkpoint), env=env,
                                 capture_output=True, text=True, timeout=900)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        phases.lap("cn-shanghai resumed")
        sg = subprocess.run(_backfill("ap-southeast-1", "image", SG_QUEUE, tmp_path / "ap-southeast-1.checkpoint"),
                            env=env, capture_output=True, text=True, timeout=900)
        assert sg.returncode == 0, sg.stderr[-2000:]
        phases.lap("ap-southeast-1 sent")

        # Both queues empty and every invocation finished.
        status = json.loads(_vodai(env, "emulator", "queue-triggers", "list", "--wait", "--timeout", "600", "--json",
                                   timeout=1300))
        phases.lap("queues drained")
        queues = {q["name"]: q for q in server.control("queues")}
        jobs = server.jobs()
        published = [m for m in server.topic_messages(CALLBACK_TOPIC) if m["MessageTag"] in SUBMISSION_TAGS]
        logs = [server.stderr_text(), resumed.stdout, resumed.stderr, sg.stdout, sg.stderr]
        logs += [instance.output() for instance in instances]
        phases.lap("collected")
    print(phases)

    # The resumed run skipped what the killed one had sent, and sent the rest; nothing is sent twice.
    report = json.loads(resumed.stdout)
    assert f"resuming: {report['skipped']} already sent" in resumed.stderr
    assert KILL_AFTER <= report["skipped"] < VIDEOS and report["skipped"] + report["sent"] == VIDEOS
    assert (report["failed"], report["resent"]) == (0, 0)
    assert json.loads(sg.stdout)["sent"] == IMAGES
    assert recorded.read() == Counter(f"cn-shanghai:video:{v}" for v in videos)  # each recorded as sent once
    assert (queues[SH_QUEUE]["sent"], queues[SG_QUEUE]["sent"]) == (VIDEOS, IMAGES)  # every message ever sent

    # All consumed, none failed, by all four instances.
    assert [(t["queue"], t["deleted"], t["failed"], t["dead_lettered"], t["queue_depth"]["messages"])
            for t in status] == [(SH_QUEUE, VIDEOS, 0, 0, 0), (SG_QUEUE, IMAGES, 0, 0, 0)]
    assert all(target["invocations"] for trigger in status for target in trigger["targets"])

    # Exactly one AI job per media, of the right kind in the right region.
    assert len(jobs) == MEDIA
    assert Counter((j["Type"], j["Region"], j.get("VideoId") or j.get("MediaId")) for j in jobs) == Counter(
        [("AIImage", "cn-shanghai", v) for v in videos] + [("AIImageAudit", "ap-southeast-1", i) for i in images])
    # Every submitted JobId published to the callback topic exactly once.
    assert Counter(json.loads(m["MessageBody"])["JobId"] for m in published) == Counter(j["JobId"] for j in jobs)

    # One outcome per media: submitted (no duplicate, failure or dead letter), from the queue's
    # CloudEvents of its region, and marked as a backfill.
    outcomes = [o for text in logs[-INSTANCES:] for o in _outcomes(text)]
    assert Counter((o["Status"], o["Shape"], o.get("Backfill"), o.get("Duplicate")) for o in outcomes) == {
        ("submitted", "cloudevent", True, None): MEDIA}
    assert Counter((o["MediaId"], o["Region"], o["Action"]) for o in outcomes) == Counter(
        [(v, "cn-shanghai", "SubmitAIImageJob") for v in videos]
        + [(i, "ap-southeast-1", "SubmitAIImageAuditJob") for i in images])
    assert not (tmp_path / "dead-letters").exists() or not any((tmp_path / "dead-letters").iterdir())

    text = "".join(logs)
    for secret in (SECRET, TOKEN, REDIS_PASSWORD):
        assert secret not in text
