"""``vodai replay mns-queue://NAME`` drains a dead-letter queue of a real emulator process: the
messages whose events settle are deleted, the ones that still fail stay, visible again later."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from _servers import emulator_server
from vodai.cli import main
from vodai.clients.mns import MnsQueueClient
from vodai.clients.session import new_session
from vodai.credentials import Credentials
from vodai.events import samples

pytestmark = pytest.mark.e2e

AK, SECRET = "drain-ak", "drain-secret"
DLQ, TOPIC = "vodai-dead-letters", "vodai-callback"


@pytest.fixture
def server():
    with emulator_server(AK, SECRET, topics=(TOPIC,), queues=(DLQ,),
                         faults=["SubmitAIImageAuditJob:error=ServiceUnavailable"]) as server:
        yield server


def _env(server, tmp_path) -> dict:
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
            "ALIBABA_CLOUD_SECURITY_TOKEN": "", "VODAI_EMULATOR_URL": server.url,
            "VODAI_VOD_ENDPOINT": server.url, "VODAI_MNS_ENDPOINT": server.url,
            "VODAI_AI_TEMPLATE_ID": "tpl-ai", "VODAI_AUDIT_TEMPLATE_ID": "tpl-audit",
            "VODAI_CALLBACK_TOPIC": TOPIC, "VODAI_RETRY_ATTEMPTS": "1", "VODAI_REGION": "cn-shanghai",
            "VODAI_IDEMPOTENCY_STORE": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
            "VODAI_DEAD_LETTERS": str(tmp_path / "dead")}


def _event(media_type: str, region: str, n: int) -> str:
    return samples.generate("mns-topic-json", media_type, region=region, media_id=f"{media_type[0]}{n:031x}").decode()


def test_settled_messages_are_deleted_and_failed_ones_come_back(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = MnsQueueClient(Credentials(AK, SECRET), new_session(), endpoint=server.url)
    videos = [_event("video", "cn-shanghai", n) for n in range(5)]
    images = [_event("image", "ap-southeast-1", n) for n in range(2)]  # their audit job keeps failing
    assert all("MessageId" in r for r in client.batch_send(DLQ, videos + images))

    result = CliRunner().invoke(main, ["replay", f"mns-queue://{DLQ}", "--cloud", "--retry-delay", "5", "--json",
                                       "-q"], env=_env(server, tmp_path))

    assert result.exit_code == 1, result.output  # some events did not reach a final outcome
    summary = json.loads(result.stdout)
    assert summary["Counts"]["submitted"] == 5, summary
    left = server.queue_messages(DLQ)
    assert sorted(m["MessageBody"] for m in left) == sorted(images)  # the failed ones stay
    assert all(m["DequeueCount"] == 1 for m in left)
    assert sorted(j["Action"] for j in server.jobs()) == ["SubmitAIImageJob"] * 5  # one job per video

    assert client.receive(DLQ) == []  # invisible for --retry-delay seconds...
    server.advance(6)
    again = client.receive(DLQ)
    assert sorted(m["MessageBody"] for m in again) == sorted(images)  # ...then visible again
    assert {m["DequeueCount"] for m in again} == {"2"}


def test_a_second_drain_after_the_fault_is_gone_empties_the_queue(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = MnsQueueClient(Credentials(AK, SECRET), new_session(), endpoint=server.url)
    client.batch_send(DLQ, [_event("image", "ap-southeast-1", 7), _event("video", "cn-shanghai", 7)])
    env = _env(server, tmp_path)
    first = CliRunner().invoke(main, ["replay", f"mns-queue://{DLQ}", "--cloud", "--retry-delay", "1", "-q"], env=env)
    assert first.exit_code == 1 and len(server.queue_messages(DLQ)) == 1

    server.clear_faults()
    server.advance(2)
    second = CliRunner().invoke(main, ["replay", f"mns-queue://{DLQ}", "--cloud", "--json", "-q"], env=env)

    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["Counts"]["submitted"] == 1
    assert server.queue_messages(DLQ) == []


def test_draining_the_dead_letter_queue_leaves_what_is_still_dead_in_place(server, tmp_path):
    """VODAI_DEAD_LETTERS is the queue being drained: an event dead-lettered again is not sent back
    into it (it would be received again as a new message, for ever); its message stays as it is."""
    import subprocess
    import sys

    client = MnsQueueClient(Credentials(AK, SECRET), new_session(), endpoint=server.url)
    broken = json.dumps({"EventType": "FileUploadComplete", "Status": "success"})  # no VideoId
    good = _event("video", "cn-shanghai", 9)
    assert all("MessageId" in r for r in client.batch_send(DLQ, [broken, good]))
    env = {**os.environ, **_env(server, tmp_path), "VODAI_DEAD_LETTERS": f"mns-queue://{DLQ}"}

    drained = subprocess.run([sys.executable, "-c", "from vodai.cli import main; main()", "replay",
                              f"mns-queue://{DLQ}", "--cloud", "--json", "-q"],
                             env=env, cwd=tmp_path, capture_output=True, timeout=60)

    assert drained.returncode == 1, drained.stderr.decode()  # the broken event did not settle
    assert "is VODAI_DEAD_LETTERS" in drained.stderr.decode()
    summary = json.loads(drained.stdout)
    assert summary["Counts"]["submitted"] == 1
    (kept,) = [o for o in summary["Outcomes"] if o["Status"] != "submitted"]
    assert "VideoId" in kept["Reason"] and "is the queue being drained" in kept["Reason"]
    left = server.queue_messages(DLQ)
    assert [m["MessageBody"] for m in left] == [broken]  # the same message, once: no new letter
    assert left[0]["DequeueCount"] == 1
