"""``vodai replay mns-queue://SRC --to-queue DST`` against a real emulator process: the messages
(events, or the events of dead letters) go to DST and leave SRC; killed with SIGKILL in the
middle and resumed from its checkpoint, the move puts each event in DST exactly once."""

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
from vodai.clients.mns import MnsQueueClient
from vodai.clients.session import new_session
from vodai.credentials import Credentials
from vodai.deadletter import DeadLetter

pytestmark = pytest.mark.e2e

AK, SECRET = "move-ak", "move-secret"
SRC, DST = "vodai-dead-letters", "vodai-events"
CLI = "from vodai.cli import main; main()"
TOTAL = 480


def _env(server):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "VODAI_"))}
    env.update(ALIBABA_CLOUD_ACCESS_KEY_ID=AK, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET, VODAI_EMULATOR_URL=server.url)
    return env


def _move(checkpoint, rate):
    return [sys.executable, "-c", CLI, "replay", f"mns-queue://{SRC}", "--to-queue", DST, "--checkpoint", str(checkpoint),
            "--rate", str(rate), "--no-progress", "--json"]


def _sent(checkpoint):
    sent = set()
    for line in checkpoint.read_text(encoding="utf-8").splitlines() if checkpoint.exists() else ():
        try:
            sent.update(json.loads(line).get("sent", ()))
        except ValueError:
            continue
    return sent


def _fill(server):
    """TOTAL events in SRC, every tenth wrapped in a dead letter (what a dead-letter queue holds)."""
    client = MnsQueueClient(Credentials(AK, SECRET), new_session(), endpoint=server.url)
    events = [json.dumps({"EventType": "FileUploadComplete", "VideoId": f"v{i}"}) for i in range(TOTAL)]
    bodies = [DeadLetter.of(reason="VODAI_AI_TEMPLATE_ID: not set", outcome={}, raw=e.encode(), request_id=None).to_json()
              if n % 10 == 0 else e for n, e in enumerate(events)]
    for start in range(0, TOTAL, 16):
        assert all("MessageId" in r for r in client.batch_send(SRC, bodies[start:start + 16]))
    return events


def test_a_killed_move_resumes_and_moves_each_event_once(tmp_path):
    checkpoint = tmp_path / "move.checkpoint"
    with emulator_server(AK, SECRET, queues=(SRC, DST)) as server:
        events = _fill(server)
        first = subprocess.Popen(_move(checkpoint, rate=400), env=_env(server), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(_sent(checkpoint)) < 160:
            assert time.monotonic() < deadline and first.poll() is None, first.stderr.read().decode()
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert len(_sent(checkpoint)) < TOTAL, "the first run must stop in the middle"
        server.advance(31)  # what the killed run had received (sent or not) is visible again

        resumed = subprocess.run(_move(checkpoint, rate=0), env=_env(server), capture_output=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr.decode()
        report = json.loads(resumed.stdout)
        moved, left = server.queue_messages(DST), server.queue_messages(SRC)

    assert Counter(m["MessageBody"] for m in moved) == Counter(events)  # each event once, letters unwrapped
    assert left == []
    # The resumed run sent what the first had not; a message sent but not deleted when the kill
    # came is skipped (the checkpoint has it) and only deleted.
    assert 0 < report["sent"] <= TOTAL - 160 and report["skipped"] <= 16
    assert (report["failed"], report["resent"]) == (0, 0)
    assert f"messages moved out of {SRC}" in resumed.stderr.decode()


def test_moving_a_queue_into_itself_is_refused():
    result = CliRunner().invoke(main, ["replay", f"mns-queue://{SRC}", "--to-queue", SRC])
    assert result.exit_code == 2
    assert "--to-queue" in result.output and f"{SRC} is the queue being drained" in result.output


class FakeQueues:
    """Two in-memory queues: receive hands out each message once (a drain's view), delete removes it."""

    def __init__(self, bodies):
        self.src = {f"M{n}": body for n, body in enumerate(bodies)}
        self.dst: list[str] = []
        self._given = False

    def receive(self, queue, count=16, *, wait_seconds=None):
        if self._given:
            return []
        self._given = True
        return [{"MessageId": k, "ReceiptHandle": f"h-{k}", "MessageBody": b} for k, b in self.src.items()]

    def delete(self, queue, handles):
        for handle in handles:
            del self.src[handle[2:]]
        return []

    def batch_send(self, queue, bodies):
        self.dst.extend(bodies)
        return [{"MessageId": f"D{len(self.dst)}-{n}"} for n in range(len(bodies))]


def test_a_message_sent_before_a_stop_is_only_deleted(tmp_path):
    from vodai.fanout import fan_out, open_outbox
    from vodai.replay.move import QueueMove

    queues = FakeQueues(['{"VideoId":"a"}', '{"VideoId":"b"}', "not json, sent as it is"])
    checkpoint = tmp_path / "move.checkpoint"
    checkpoint.write_text(json.dumps({"sent": [f"mns-queue://{SRC}#M0"]}) + "\n", encoding="utf-8")
    move = QueueMove(queues, [SRC])

    report = fan_out(move.items(), outbox=open_outbox(queues, DST, checkpoint=checkpoint), settled=move.settled)

    assert queues.dst == ['{"VideoId":"b"}', "not json, sent as it is"]  # M0 went in the earlier run
    assert queues.src == {} and move.deleted == 3
    assert (report.sent, report.skipped) == (2, 1)
