"""Fixtures shared by every test: the saved sample events and their expected outcomes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
# Delivery shapes no documentation shows but the parser tolerates (vodai.events.samples.TOLERATED_SHAPES):
# kept here as test fixtures, not offered as samples under events/.
TOLERATED = ROOT / "tests" / "fixtures" / "tolerated"


def require_binary(name: str) -> str:
    """The path of ``name``; skips on a developer machine without it, fails in CI (CI=true)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (CI installs it; see .ci/run)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def self_signed_certificate(folder: Path, *, name: str, san: str) -> tuple:
    """``(cert.pem, key.pem)`` in ``folder``: a one-day self-signed certificate for ``name`` with the
    subjectAltName ``san`` (e.g. ``DNS:localhost``, ``IP:127.0.0.1``), made by the openssl binary."""
    import subprocess

    openssl = require_binary("openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName={san}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def sample_files():
    return sorted(p for p in EVENTS.rglob("*.json") if p.name != "expected.json")


def expected_outcomes() -> dict:
    return json.loads((EVENTS / "expected.json").read_text(encoding="utf-8"))


def tolerated_files():
    return sorted(p for p in TOLERATED.rglob("*.json") if p.name != "expected.json")


def tolerated_outcomes() -> dict:
    return json.loads((TOLERATED / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def events_dir() -> Path:
    return EVENTS


@pytest.fixture(autouse=True)
def _isolated_state(monkeypatch, tmp_path):
    """Each test gets its own idempotency store and dead-letter directory, never the repo's .vodai/."""
    import uuid

    monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", f"memory://test-{uuid.uuid4().hex}")
    monkeypatch.setenv("VODAI_DEAD_LETTERS", str(tmp_path / "dead-letters"))
