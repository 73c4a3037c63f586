"""One pooled ``requests.Session`` per process, reused across warm invocations.

Reusing it keeps TCP and TLS connections alive between invocations of a warm FC instance.
Tests and the emulator pass their own session instead (a transport adapter mounted on it).
"""

from __future__ import annotations

import threading
from typing import Optional

import requests
from requests.adapters import HTTPAdapter

_lock = threading.Lock()
_session: Optional[requests.Session] = None

POOL_SIZE = 16


def new_session() -> requests.Session:
    session = requests.Session()
    # Retries are vodai's own decision (it knows which errors are safe to retry), never urllib3's.
    adapter = HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # vodai builds its requests directly (transport.prepared), which sets its own User-Agent.
    # Environment proxies and .netrc are not used by FC; skip their per-request look-ups.
    session.trust_env = False
    return session


def shared_session() -> requests.Session:
    global _session
    if _session is None:
        with _lock:
            if _session is None:
                _session = new_session()
    return _session
