"""The local fan-out shape, all real processes: ``vodai emulator`` with FC MNS queue triggers (set with
the CLI) pushing batches of CloudEvents to ``vodai serve --function on_upload`` instances. A backfill
sent with BatchSendMessage becomes exactly one job per media and one callback message per job; a
failing invocation leaves its messages to come back, and ends in the dead-letter queue when set."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from _servers import Answer, EmulatorServer, Receiver, ServeProcess, emulator_server, serve_process
from vodai.clients.mns import MnsQueueClient
from vodai.clients.session import new_session
from vodai.credentials import Credentials

pytestmark = pytest.mark.e2e

AK, SECRET, TOKEN = "STS.fanout-e2e", "fanout-e2e-secret", "fanout-e2e-token"
CALLBACK_TOPIC = "vodai-callback"
# One events queue per region, as one stack per region has (an FC queue trigger and its function
# share a region, and the CloudEvents' aliyunregionid names it).
SH_QUEUE, SG_QUEUE = "vodai-events", "vodai-events-sg"
SUBMISSION_TAGS = {"AIImageJob", "AIImageAuditJob"}


def _vodai(*args: str) -> str:
    """``python -m vodai ARGS`` as a process (the environment, PYTHONPATH included, is inherited)."""
    done = subprocess.run([sys.executable, "-m", "vodai", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _serve_env(server: EmulatorServer, folder: Path, **extra: str) -> dict:
    env = {
        "VODAI_VOD_ENDPOINT": server.url,
        "VODAI_MNS_ENDPOINT": server.url,
        "VODAI_AI_TEMPLATE_ID": "tpl-ai",
        "VODAI_AUDIT_TEMPLATE_ID": "tpl-audit",
        "VODAI_CALLBACK_TOPIC": CALLBACK_TOPIC,
        # One store for every instance, as they would share Redis on FC.
        "VODAI_IDEMPOTENCY_STORE": f"sqlite:///{folder / 'jobs.sqlite3'}",
        "VODAI_DEAD_LETTERS": str(folder / "dead-letters"),
        **extra,
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # the code under test, not an installed copy
    return env


def _media(server: EmulatorServer, media_type: str, region: str, count: int) -> list[dict]:
    """``count`` media the emulator knows, each with the upload event VOD sends for it."""
    return [server.control("media", "POST", {"media_type": media_type, "region": region}) for _ in range(count)]


def _batch_send(server: EmulatorServer, queue: str, records: list[dict]) -> None:
    client = MnsQueueClient(Credentials(AK, SECRET, TOKEN), new_session(), endpoint=server.url)
    bodies = [json.dumps(record["Event"]) for record in records]
    for start in range(0, len(bodies), 16):
        answers = client.batch_send(queue, bodies[start:start + 16])
        assert all("MessageId" in answer for answer in answers), answers


def _outcomes(instance: ServeProcess) -> list[dict]:
    """The instance's outcome lines (one JSON object per event, after FC's log prefix)."""
    lines = [line for line in instance.output().splitlines() if '"logger":"vodai.outcome"' in line]
    return [json.loads(line[line.index("{"):]) for line in lines]


def _submissions(server: EmulatorServer) -> Counter:
    """How often each JobId was published to the callback topic."""
    messages = [m for m in server.topic_messages(CALLBACK_TOPIC) if m["MessageTag"] in SUBMISSION_TAGS]
    return Counter(json.loads(m["MessageBody"])["JobId"] for m in messages)


def test_a_backfill_fans_out_over_four_instances_into_one_job_per_media():
    batch = 10
    with tempfile.TemporaryDirectory() as tmp, emulator_server(
        AK, SECRET, TOKEN, topics=(CALLBACK_TOPIC,), queues=(SH_QUEUE, SG_QUEUE)
    ) as server, contextlib.ExitStack() as instances_stack:
        env = _serve_env(server, Path(tmp))
        instances = [instances_stack.enter_context(serve_process("on_upload", env)) for _ in range(4)]
        targets = [arg for instance in instances for arg in ("--target", instance.url)]
        for queue, region in ((SH_QUEUE, "cn-shanghai"), (SG_QUEUE, "ap-southeast-1")):
            _vodai("emulator", "queue-triggers", "add", "--queue", queue, *targets, "--batch-size", str(batch),
                   "--batch-window", "5", "--region", region, "--url", server.url)

        videos = _media(server, "video", "cn-shanghai", 100)
        images = _media(server, "image", "ap-southeast-1", 100)
        _batch_send(server, SH_QUEUE, videos)
        _batch_send(server, SG_QUEUE, images)

        # Waits until both queues are empty and no invocation is running, then shows the triggers.
        status = json.loads(_vodai("emulator", "queue-triggers", "list", "--wait", "--timeout", "180", "--json",
                                   "--url", server.url))
        assert [(s["queue"], s["deleted"], s["failed"], s["queue_depth"]["messages"]) for s in status] == [
            (SH_QUEUE, 100, 0, 0), (SG_QUEUE, 100, 0, 0)]

        jobs = server.jobs()
        per_media = Counter(job.get("VideoId") or job.get("MediaId") for job in jobs)
        assert per_media == Counter(record["MediaId"] for record in videos + images)  # exactly one each
        kinds = {(job["Type"], job["Region"]) for job in jobs}
        assert kinds == {("AIImage", "cn-shanghai"), ("AIImageAudit", "ap-southeast-1")}
        assert _submissions(server) == Counter(job["JobId"] for job in jobs)  # each JobId published once

        log = [d for d in server.deliveries() if d["Kind"] == "fc-queue-trigger"]
        assert {d["Result"] for d in log} == {"delivered"}
        assert [d["Count"] for d in log] == [batch] * 20  # full batches, 10 per queue
        for instance in instances:  # all four worked, each on the batches sent to it
            sent = {d["Attempts"][0]["RequestId"] for d in log if d["Target"] == f"{instance.url}/invoke"}
            outcomes = _outcomes(instance)
            assert sent and {o["fcRequestId"] for o in outcomes} == sent
            assert {(o["Status"], o["Shape"]) for o in outcomes} == {("submitted", "cloudevent")}
        assert sum(len(_outcomes(instance)) for instance in instances) == 200

        log_text = server.stderr_text() + json.dumps(server.deliveries())
        assert SECRET not in log_text and TOKEN not in log_text


def test_a_failed_invocation_is_received_again_and_succeeds_without_a_second_job():
    # The first two submits are throttled; with one attempt per call the instance's invocation
    # fails (a retryable outcome), so the batch stays in the queue and comes back.
    with tempfile.TemporaryDirectory() as tmp, emulator_server(
        AK, SECRET, TOKEN, topics=(CALLBACK_TOPIC,), queues=(SH_QUEUE,),
        faults=["SubmitAIImageJob:error=Throttling.User/400,times=2"],
    ) as server:
        with serve_process("on_upload", _serve_env(server, Path(tmp), VODAI_RETRY_ATTEMPTS="1")) as instance:
            _vodai("emulator", "queue-triggers", "add", "--queue", SH_QUEUE, "--target", instance.url,
                   "--batch-size", "5", "--batch-window", "5", "--visibility-timeout", "2", "--url", server.url)
            videos = _media(server, "video", "cn-shanghai", 5)
            _batch_send(server, SH_QUEUE, videos)

            assert server.control(f"queues/{SH_QUEUE}/wait", "POST", {"timeout": 60})["empty"]
            server.wait_deliveries(60)
            outcomes = _outcomes(instance)

        first, second = [d for d in server.deliveries() if d["Kind"] == "fc-queue-trigger"]
        assert (first["Result"], first["Attempt"], first["Attempts"][0]["FcStatus"]) == ("failed", 1, "404")
        assert (second["Result"], second["Attempt"], second["MessageIds"]) == ("delivered", 2, first["MessageIds"])
        by_invocation = {d["Attempts"][0]["RequestId"]: Counter() for d in (first, second)}
        for outcome in outcomes:
            by_invocation[outcome["fcRequestId"]][(outcome["Status"], bool(outcome.get("Duplicate")))] += 1
        assert list(by_invocation.values()) == [
            {("failed", False): 2, ("submitted", False): 3},
            {("submitted", False): 2, ("skipped", True): 3},  # the three done the first time: duplicates
        ]

        jobs = server.jobs()
        assert Counter(job["VideoId"] for job in jobs) == Counter(record["MediaId"] for record in videos)
        assert _submissions(server) == Counter(job["JobId"] for job in jobs)


def test_a_message_that_keeps_failing_goes_to_the_dead_letter_queue():
    with Receiver(default=Answer(500, body=b'{"error": "boom"}')) as target, emulator_server(
        AK, SECRET, queues=("poison",)
    ) as server:
        _vodai("emulator", "queue-triggers", "add", "--queue", "poison", "--target", target.url, "--batch-size", "3",
               "--batch-window", "5", "--visibility-timeout", "1", "--max-receives", "2",
               "--dead-letter-queue", "poison-dead", "--url", server.url)
        bodies = [json.dumps({"EventType": "FileUploadComplete", "VideoId": f"v{i}"}) for i in range(3)]
        MnsQueueClient(Credentials(AK, SECRET), new_session(), endpoint=server.url).batch_send("poison", bodies)

        assert server.control("queues/poison/wait", "POST", {"timeout": 60})["empty"]
        server.wait_deliveries(30)

        assert sorted(m["MessageBody"] for m in server.queue_messages("poison-dead")) == sorted(bodies)
        first, second = target.wait_for(2)
        assert [first.headers["x-fc-retry-count"], second.headers["x-fc-retry-count"]] == ["0", "1"]
        assert [len(json.loads(r.body)) for r in (first, second)] == [3, 3]
        log = [d for d in server.deliveries() if d["Kind"] == "fc-queue-trigger"]
        assert [(d["Result"], d["Attempt"]) for d in log] == [("failed", 1), ("dead-lettered", 2)]
        assert len(target.requests) == 2  # never invoked again once dead-lettered
