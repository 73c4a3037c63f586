"""Crash-safe submission: whatever cuts a submit off (a SIGKILL before the answer, a store that fails
mid-submit, an answer lost on the wire), every later attempt re-sends the identical signed request,
so VOD refuses a second copy (SignatureNonceUsed) and an upload never gets two paid jobs."""

import dataclasses
import json
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
from _servers import emulator_server
from click.testing import CliRunner
from conftest import EVENTS

from vodai.cli import main as cli
from vodai.clients import new_session
from vodai.config import Settings
from vodai.deadletter.backends.jsonl import JsonlDirectorySink
from vodai.emulator import EmulatorBackend, mount
from vodai.emulator.faults import FaultRule
from vodai.idempotency import UNCERTAIN, IdempotencyError
from vodai.idempotency.backends.memory import MemoryStore
from vodai.idempotency.backends.sqlite import SqliteStore
from vodai.local_context import LocalContext, LocalCredentials
from vodai.pipeline import DEAD_LETTERED, FAILED, build, dispatch

from .test_crash_points import AK, FC_INVOKE, SECRET, TOKEN, TOPIC, BlackHole, _context, _env, _record, _wait_for, redeliver_after_lock

URL = "http://emulator.crash"
EVENT = EVENTS / "raw" / "video-cn-shanghai.json"


class AnswerEater(BlackHole):
    """A VOD endpoint that forwards each request to ``upstream`` and never answers: the request is
    processed (the job exists) and the caller waits for an answer that never comes."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.forwarded = threading.Event()
        super().__init__()

    def connected(self, conn):
        threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _forward(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in head[1:])
        headers.pop("Host", None)
        headers.pop("Content-Length", None)
        requests.request(method, self.upstream + target, headers=headers, data=b"", timeout=30)
        self.forwarded.set()  # processed upstream; the answer is dropped



@pytest.mark.e2e
def test_killed_between_claim_and_answer_then_redelivered_makes_no_second_job(tmp_path):
    store = tmp_path / "idem.sqlite3"
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as server:
        eater = AnswerEater(server.url)
        try:
            crashed = subprocess.Popen([sys.executable, str(FC_INVOKE), str(EVENT), _context()],
                                       env=_env(eater.url, server.url, store, tmp_path),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            _wait_for(eater.forwarded.is_set, "the submit to reach VOD")
            _wait_for(lambda: len(server.jobs()) == 1, "the job")
            crashed.send_signal(signal.SIGKILL)
            crashed.wait(timeout=30)
            assert _record(store)["status"] == "INPROGRESS"
        finally:
            eater.close()
        outcome = redeliver_after_lock(EVENT, server.url, store, tmp_path)
        assert len(server.jobs()) == 1  # the identical request was refused: no second paid job
        assert outcome["Status"] == DEAD_LETTERED and "SignatureNonceUsed" in outcome["Reason"]
        assert _record(store)["status"] == UNCERTAIN and _record(store)["nonce"]


def _target(store, faults=()):
    backend = EmulatorBackend()
    backend.add_credentials(AK, SECRET, security_token=TOKEN)
    backend.create_topic(TOPIC)
    for rule in faults:
        backend.faults.add(rule)
    session = new_session()
    mount(backend, session)
    settings = Settings(ai_template_id="tpl-ai", audit_template_id="tpl-audit", callback_topic=TOPIC,
                        vod_endpoint=URL, mns_endpoint=URL, idempotency_lock_seconds=1)
    context = LocalContext(credentials=LocalCredentials(AK, SECRET, TOKEN))
    deps = build(settings, context=context, session=session, store=store,
                 dead_letters=JsonlDirectorySink(str(store.dead_dir)))
    return backend, dataclasses.replace(deps, sleep=lambda s: None), context


class FlakyStore(MemoryStore):
    """A store whose named transitions fail while ``failing`` holds them (an outage, a locked file)."""

    def __init__(self, dead_dir):
        super().__init__()
        self.dead_dir = dead_dir
        self.failing = set()

    def _apply(self, key, op, now, **kw):
        if op in self.failing:
            raise IdempotencyError("memory store: ConnectionError: the store is down")
        return super()._apply(key, op, now, **kw)

    def claim(self, key, **kw):
        if "claim" in self.failing:
            raise IdempotencyError("memory store: ConnectionError: the store is down")
        return super().claim(key, **kw)


def test_store_unreachable_before_the_submit_submits_nothing_and_fails_retryably(tmp_path, capfd):
    store = FlakyStore(tmp_path / "dl")
    store.failing = {"claim"}
    backend, deps, context = _target(store)
    result = dispatch(EVENT.read_bytes(), deps, context=context)
    [outcome] = result.outcomes
    assert outcome.status == FAILED and result.failed
    assert "VODAI_IDEMPOTENCY_STORE: store error" in outcome.reason and "nothing was submitted" in outcome.reason
    assert backend.jobs() == []
    assert '"Status":"failed"' in capfd.readouterr().err  # its outcome line


def test_store_failing_during_the_submit_never_makes_a_second_job(tmp_path):
    store = FlakyStore(tmp_path / "dl")
    backend, deps, context = _target(store)
    store.failing = {"save_job"}  # VOD made the job; its JobId cannot be saved
    [first] = dispatch(EVENT.read_bytes(), deps, context=context).outcomes
    assert first.status == FAILED and "VODAI_IDEMPOTENCY_STORE: store error" in first.reason
    assert len(backend.jobs()) == 1
    store.failing = set()
    time.sleep(1.1)  # the lock (1 s) runs out
    [again] = dispatch(EVENT.read_bytes(), deps, context=context).outcomes
    assert len(backend.jobs()) == 1  # re-sent with the same nonce: refused, not a second job
    assert again.status == DEAD_LETTERED and "SignatureNonceUsed" in again.reason


def test_lost_answer_is_uncertain_dead_lettered_and_listed_by_vodai_jobs(tmp_path, monkeypatch):
    path = tmp_path / "idem.sqlite3"
    store = SqliteStore(str(path), shared=False)
    store.dead_dir = tmp_path / "dl"
    backend, deps, context = _target(store, [FaultRule(operation="SubmitAIImageJob", kind="lost", times=1)])
    [outcome] = dispatch(EVENT.read_bytes(), deps, context=context).outcomes
    assert len(backend.jobs()) == 1
    assert outcome.status == DEAD_LETTERED and "SignatureNonceUsed" in outcome.reason
    [letter] = [json.loads(line) for f in (tmp_path / "dl").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert "submit outcome unknown" in json.dumps(letter)
    store.close()

    monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", f"sqlite:///{path}")
    monkeypatch.setenv("VODAI_TRACKING_STORE", f"sqlite:///{tmp_path / 'tracking.sqlite3'}")
    listed = CliRunner().invoke(cli, ["jobs", "list", "--status", "uncertain", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["Status"] == "uncertain" and row["Action"] == "SubmitAIImageJob" and row["SignatureNonce"]
    assert "SignatureNonceUsed" in row["Reason"]
    table = CliRunner().invoke(cli, ["jobs", "list"])
    assert table.exit_code == 0 and "uncertain submits" in table.output
