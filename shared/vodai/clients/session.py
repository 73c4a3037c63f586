"""The pooled ``requests.Session``: one per FC instance (kept by :mod:`vodai.instance`).

Reusing it keeps TCP and TLS connections alive between invocations of a warm FC instance.
Tests and the emulator pass their own session instead, with their adapter mounted on it.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

#: Connection pools kept (one per endpoint), and connections kept per pool by default.
POOL_SIZE = 16

def new_session(*, connections: int = POOL_SIZE, block: bool = False) -> requests.Session:
    """A session keeping up to ``connections`` open connections per endpoint.

    Parameters
    ----------
    connections
        Connections kept alive per endpoint (urllib3's ``pool_maxsize``); at least 1.
    block
        Never open more than ``connections`` to one endpoint: a request waits for a free one
        (urllib3's blocking pool). That bounds the requests in flight to each endpoint however
        many threads send, which is how replay runs more workers than ``--concurrency``.

    Returns
    -------
    requests.Session
        With one ``HTTPAdapter`` mounted for ``http://`` and ``https://``.
    """
    if connections < 1:
        raise ValueError("connections must be >= 1")
    session = requests.Session()
    # Retries are vodai's own decision (it knows which errors are safe to retry), never urllib3's.
    adapter = HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=connections, pool_block=block, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # FC sets no proxy and has no .netrc: skip their look-ups on every request.
    session.trust_env = False
    return session
