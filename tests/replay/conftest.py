"""Fixtures of the replay tests."""

from __future__ import annotations

from typing import List

import pytest

# Settings a developer may have exported that would change what the samples conclude.
_CLEARED = ("VODAI_AI_TEMPLATE_ID", "VODAI_AUDIT_TEMPLATE_ID", "VODAI_CALLBACK_TOPIC", "VODAI_ROUTES",
            "VODAI_VOD_ENDPOINT", "VODAI_MNS_ENDPOINT", "VODAI_IDEMPOTENCY_PREFIX", "VODAI_REGION")


@pytest.fixture
def clean(monkeypatch, tmp_path):
    """No stray settings, and the working directory (where .vodai/ goes) is the test's own."""
    for key in _CLEARED:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sqlite_url(monkeypatch, tmp_path):
    """A persistent store for this test: what replay uses by default, under a tmp path."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", url)
    return url


@pytest.fixture
def targets(monkeypatch):
    """Every target the command opens, so a test can look at its emulator backend."""
    import vodai.replay

    opened: List = []
    real = vodai.replay.open_target

    def recording(**kw):
        target = real(**kw)
        opened.append(target)
        return target

    monkeypatch.setattr(vodai.replay, "open_target", recording)
    return opened
