"""What a shim process driven like FC must have done: the settings it runs with, and the checks
that a delivery's every record became a job (STS-signed, accepted) and a topic message."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import uuid
from pathlib import Path

from conftest import expected_outcomes

from .fc_headers import fc_headers

AK, SECRET, TOKEN = "STS.shim-e2e-key", "shim-e2e-secret-value", "shim-e2e-sts-token-value"
TOPIC = "vodai-callback"


# Job records and dead letters of the shim processes: a temp folder shared with the test process,
# so a test can start from a clean slate (clear_state) while the module's shim keeps running.
STATE_DIR = Path(tempfile.mkdtemp(prefix="vodai-shim-state-"))
STORE_PATH = STATE_DIR / "idempotency.sqlite3"


def clear_state() -> None:
    """Forget every job record the shim processes made (their emulator is reset separately)."""
    if STORE_PATH.exists():
        with sqlite3.connect(STORE_PATH) as db:
            db.execute("DELETE FROM vodai_jobs")


def settings_env(emulator_url: str) -> dict:
    return {
        "VODAI_IDEMPOTENCY_STORE": f"sqlite:///{STORE_PATH}",
        "VODAI_DEAD_LETTERS": str(STATE_DIR / "dead-letters"),
        "VODAI_VOD_ENDPOINT": emulator_url,
        "VODAI_MNS_ENDPOINT": emulator_url,
        "VODAI_AI_TEMPLATE_ID": "tpl-ai-shim",
        "VODAI_AUDIT_TEMPLATE_ID": "tpl-audit-shim",
        "VODAI_CALLBACK_TOPIC": TOPIC,
    }


def sts_headers(secret: str = SECRET) -> dict:
    return fc_headers(str(uuid.uuid4()), AK, secret, TOKEN)


def invoke_and_check_submitted(shim, server, sample: str, body: bytes) -> dict:
    """Invoke ``body`` as FC does; every record ``expected.json`` lists for ``sample`` must be
    submitted with the STS key, its JobId on the topic. Returns the handler's summary."""
    expected = expected_outcomes()[sample]
    assert expected and not any(e["skipped"] for e in expected)
    headers = sts_headers()
    response = shim.invoke(body, headers)
    assert response.status_code == 200 and "x-fc-status" not in response.headers, response.text
    summary = response.json()
    assert summary["RequestId"] == headers["x-fc-request-id"]  # the context came from the headers
    outcomes = summary["Outcomes"]
    assert [o["Status"] for o in outcomes] == ["submitted"] * len(expected), outcomes
    assert [(o["MediaId"], o["Action"], o["Region"]) for o in outcomes] == [
        (e["media_id"], e["action"], e["region"]) for e in expected]

    log = server.requests_log()
    submits = [r for r in log if r["service"] == "vod"]
    publishes = [r for r in log if r["service"] == "mns"]
    assert len(submits) == len(publishes) == len(expected), log
    for entry in submits + publishes:  # signed with the STS key from x-fc-*, and accepted
        assert entry["access_key_id"] == AK and entry["error_code"] is None, entry
        assert entry["status"] == (201 if entry["service"] == "mns" else 200), entry  # MNS answers 201 Created
    assert sorted(j["JobId"] for j in server.jobs()) == sorted(o["JobId"] for o in outcomes)
    messages = server.topic_messages(TOPIC)
    assert sorted(m["MessageId"] for m in messages) == sorted(o["MessageId"] for o in outcomes)
    assert sorted(json.loads(m["MessageBody"])["JobId"] for m in messages) == sorted(o["JobId"] for o in outcomes)

    request_id = headers["x-fc-request-id"]
    lines = shim.stderr_text().splitlines()
    assert f"FC Invoke Start RequestId: {request_id}" in lines and f"FC Invoke End RequestId: {request_id}" in lines
    # One JSON line per outcome (the whole line is JSON, as FC's log service indexes it).
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert [entry["JobId"] for entry in logged if entry.get("fcRequestId") == request_id] == [o["JobId"] for o in outcomes]
    everything = shim.output() + response.text + server.stderr_text()
    assert SECRET not in everything and TOKEN not in everything
    return summary
