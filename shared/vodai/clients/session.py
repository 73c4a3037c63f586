"""One pooled ``requests.Session`` per process, reused across warm invocations.

Reusing it keeps TCP and TLS connections alive between invocations of a warm FC instance.
Tests and the emulator pass their own session instead (a transport adapter mounted on it).
"""

from __future__ import annotations

import datetime
import threading
from typing import Optional

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

_lock = threading.Lock()
_session: Optional[requests.Session] = None

POOL_SIZE = 16


class DirectAdapter(HTTPAdapter):
    """requests' HTTPAdapter for the calls vodai makes: no proxy, no cookies, small bodies.

    It overrides only the hooks requests documents for subclassing (``send`` stays requests' own,
    so ``responses`` still intercepts it in tests). Measured per request on loopback, requests'
    generic path cost more than the round trip itself: a proxy look-up and a URL parse for every
    request, a CA-bundle ``os.path.exists`` per HTTPS request, a cookie jar filled from every
    answer, and the body streamed in chunks through generators.
    """

    def __init__(self, pool_connections: int = POOL_SIZE, pool_maxsize: int = POOL_SIZE, **kwargs) -> None:
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, **kwargs)
        self._pool_limit = max(1, pool_connections)
        self._pools: dict = {}
        self._verified: set = set()

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        # One pool per origin (and TLS settings), kept while urllib3 keeps it open.
        key = (_split(request.url)[0], verify, _hashable(cert))
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # a pool is closed by close() (and by older urllib3 on eviction)
            if len(self._pools) >= self._pool_limit:
                self._pools.clear()  # as many origins as urllib3 keeps pools for, no more
            pool = self._pools[key] = super().get_connection_with_tls_context(request, verify, None, cert)
        return pool

    def close(self) -> None:
        super().close()
        self._pools.clear()
        self._verified.clear()

    def cert_verify(self, conn, url, verify, cert) -> None:
        key = (id(conn), verify, _hashable(cert))
        if key not in self._verified:
            super().cert_verify(conn, url, verify, cert)
            self._verified.add(key)

    def request_url(self, request, proxies) -> str:
        return _split(request.url)[1]

    def build_response(self, req, resp) -> requests.Response:
        response = _Response()
        response.status_code = resp.status
        # CaseInsensitiveDict's store filled directly (its constructor goes key by key).
        response.headers = headers = CaseInsensitiveDict()
        headers._store = {name.lower(): (name, value) for name, value in resp.headers.itermerged()}
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url
        response.request = req
        response.connection = self
        # The whole body at once (a small JSON or XML document); reading it to the end also
        # returns the connection to the pool. A failure here is raised as requests raises it.
        response._content = _read(resp, req)
        response._content_consumed = True
        return response


class _Response(requests.Response):
    """requests' Response, minus the empty cookie jar ``Response()`` builds for every answer (a
    ``CookieJar`` with its lock and policy: more than the rest of the response together). vodai
    never reads cookies; a caller that does gets an empty jar, made then."""

    def __init__(self) -> None:
        # What Response.__init__ sets, except the jar; build_response sets the rest.
        self._content = False
        self._content_consumed = False
        self._next = None
        self.encoding = None
        self.history = []
        self.elapsed = datetime.timedelta(0)

    def __getattr__(self, name: str):
        if name == "cookies":
            from requests.cookies import cookiejar_from_dict

            self.cookies = jar = cookiejar_from_dict({})
            return jar
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _split(url: str) -> tuple:
    """(``scheme://host[:port]``, ``/path?query``) of an absolute URL, without a URL parser."""
    slash = url.find("/", url.find("//") + 2)
    return (url, "/") if slash < 0 else (url[:slash], url[slash:])


def _hashable(cert):
    return tuple(cert) if isinstance(cert, list) else cert


def _read(resp, req) -> bytes:
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    try:
        return resp.read(decode_content=True) or b""
    except ProtocolError as exc:  # as Response.iter_content maps them
        raise requests.exceptions.ChunkedEncodingError(exc, request=req) from None
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc, request=req) from None
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc, request=req) from None
    except SSLError as exc:
        raise requests.exceptions.SSLError(exc, request=req) from None


def new_session(*, connections: int = POOL_SIZE, block: bool = False) -> requests.Session:
    """A session keeping up to ``connections`` open connections per endpoint.

    With ``block`` it never opens more: a request waits for one of them to be free (urllib3's
    blocking pool). That bounds the requests in flight to each endpoint however many threads
    send, which is how replay runs more workers than ``--concurrency``.
    """
    if connections < 1:
        raise ValueError("connections must be >= 1")
    session = requests.Session()
    # Retries are vodai's own decision (it knows which errors are safe to retry), never urllib3's.
    adapter = DirectAdapter(pool_connections=POOL_SIZE, pool_maxsize=connections, pool_block=block, max_retries=0)
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
