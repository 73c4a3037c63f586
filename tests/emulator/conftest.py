"""Fixtures of the emulator tests: a backend with known keys and a session wired to it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

from vodai.emulator import Clock, EmulatorBackend, mount

from .helpers import AK, QUEUE, SECRET, STS_AK, STS_SECRET, STS_TOKEN, TOPIC

# tests/ on sys.path, so `import _servers` works however pytest was started
# (and even if tests/ becomes a package one day).
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)


@pytest.fixture
def backend() -> EmulatorBackend:
    backend = EmulatorBackend()
    backend.add_credentials(AK, SECRET)
    backend.add_credentials(STS_AK, STS_SECRET, STS_TOKEN)
    backend.create_topic(TOPIC)
    backend.create_queue(QUEUE)
    # Retries at once: tests count attempts, they never wait for them.
    backend.deliveries.configure(http_retry_interval=0, trigger_retry_interval=0)
    yield backend
    backend.close()


@pytest.fixture
def clock(backend: EmulatorBackend) -> Clock:
    """The backend's clock, frozen: it moves only with ``backend.advance``."""
    backend.clock = Clock.frozen()
    return backend.clock


@pytest.fixture
def session(backend: EmulatorBackend) -> requests.Session:
    with requests.Session() as session:
        mount(backend, session)
        yield session
