"""Crash points: the pipeline is killed (SIGKILL) after the job was submitted and before its JobId
was published; the redelivery publishes the original JobId and submits nothing.

No test hook in the code: the process's MNS endpoint is a socket that accepts and never answers,
so it is truly stuck between submit and publish when it is killed."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from _servers import emulator_server
from conftest import EVENTS, ROOT

AK, SECRET, TOKEN = "STS.crash", "crash-secret", "crash-token"
TOPIC = "vodai-callback"
FC_INVOKE = ROOT / "tests" / "e2e" / "fc_invoke.py"


class BlackHole:
    """Accepts TCP connections and never answers (until closed)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()
            self.connected(conn)

    def connected(self, conn):
        """Called for each connection accepted; a subclass may read from it (the default does not)."""

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def _wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _record(store: Path) -> dict:
    if not store.exists():
        return {}
    with sqlite3.connect(store) as db:
        row = db.execute("SELECT record FROM vodai_jobs").fetchone()
    return json.loads(row[0]) if row else {}


def _env(vod_url: str, mns_url: str, store: Path, tmp_path: Path) -> dict:
    return {
        "PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path),
        "VODAI_VOD_ENDPOINT": vod_url, "VODAI_MNS_ENDPOINT": mns_url, "VODAI_AI_TEMPLATE_ID": "tpl",
        "VODAI_CALLBACK_TOPIC": TOPIC, "VODAI_IDEMPOTENCY_STORE": f"sqlite:///{store}",
        "VODAI_DEAD_LETTERS": str(tmp_path / "dl"), "VODAI_READ_TIMEOUT": "120",
        # A short lock so the redelivery need not wait out FC's whole timeout after the crash.
        "VODAI_IDEMPOTENCY_LOCK_SECONDS": "1",
    }


def _context() -> str:
    return json.dumps({"request_id": str(uuid.uuid4()), "region": "cn-shanghai", "account_id": "1",
                       "credentials": {"access_key_id": AK, "access_key_secret": SECRET, "security_token": TOKEN}})


def redeliver_after_lock(event: Path, url: str, store: Path, tmp_path: Path) -> dict:
    """Once the dead invocation's lock (1 s) has run out, as FC's timeout would: deliver ``event``
    again to a process whose VOD and MNS are ``url``; its one outcome."""
    time.sleep(1.2)
    redelivered = subprocess.run([sys.executable, str(FC_INVOKE), str(event), _context()],
                                 env=_env(url, url, store, tmp_path), capture_output=True, text=True, timeout=120)
    assert redelivered.returncode == 0, redelivered.stderr
    [outcome] = json.loads(redelivered.stdout)["Outcomes"]
    return outcome


@pytest.mark.e2e
def test_killed_between_submit_and_publish_then_redelivered(tmp_path):
    event = EVENTS / "raw" / "video-cn-shanghai.json"
    store = tmp_path / "idem.sqlite3"
    hole = BlackHole()
    try:
        with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as server:
            crashed = subprocess.Popen([sys.executable, str(FC_INVOKE), str(event), _context()],
                                       env=_env(server.url, hole.url, store, tmp_path),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # Submitted, JobId saved, and stuck publishing: that is the crash point.
            _wait_for(lambda: len(server.jobs()) == 1, "the submission")
            _wait_for(lambda: _record(store).get("status") == "SUBMITTED", "the saved JobId")
            _wait_for(hole.accepted.is_set, "the publish attempt")
            original = server.jobs()[0]["JobId"]
            assert _record(store)["job_id"] == original
            crashed.send_signal(signal.SIGKILL)
            crashed.wait(timeout=30)
            assert crashed.returncode == -signal.SIGKILL
            assert server.topic_messages(TOPIC) == []

            outcome = redeliver_after_lock(event, server.url, store, tmp_path)
            assert (outcome["Status"], outcome["JobId"], outcome.get("Republished")) == ("submitted", original, True)
            assert [j["JobId"] for j in server.jobs()] == [original]  # nothing submitted again
            [message] = server.topic_messages(TOPIC)
            assert json.loads(message["MessageBody"])["JobId"] == original
            submits = [r for r in server.requests_log() if r["action"] == "SubmitAIImageJob"]
            assert len(submits) == 1
            assert _record(store)["status"] == "COMPLETED"
    finally:
        hole.close()
