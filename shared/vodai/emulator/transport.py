"""The in-process front door: a ``requests`` transport adapter that answers from the backend.

Mounted on a session, every ``http://`` and ``https://`` request of that session is served by
the emulator without a socket, so code under test keeps its real HTTP client and signatures.

Injected faults fail the call exactly as ``requests`` fails against a real server:

* ``reset``: ``requests.ConnectionError(ProtocolError("Connection aborted.",
  ConnectionResetError(104, "Connection reset by peer")))``;
* ``lost``: the same with ``http.client.RemoteDisconnected("Remote end closed connection
  without response")`` (the request was processed);
* a latency longer than the call's read timeout: ``requests.ReadTimeout`` once the read
  timeout has passed. The request is still processed, as a real server would after the delay
  (here at once, before the exception is raised).
"""

from __future__ import annotations

import errno
import http.client
import io
import time
from http import HTTPStatus
from typing import Any, Iterable, Mapping, Optional, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import ProtocolError

from .backend import EmulatorBackend
from .protocol import handle
from .request import ABORT_RESET, EmulatorRequest

_DEFAULT_PORTS = {"http": 80, "https": 443}


class EmulatorAdapter(BaseAdapter):
    def __init__(self, backend: EmulatorBackend) -> None:
        super().__init__()
        self.backend = backend

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Union[bool, str] = True,
        cert: Any = None,
        proxies: Optional[Mapping[str, str]] = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(
            {k: v if isinstance(v, str) else v.decode("latin-1") for k, v in request.headers.items()})
        # urllib3 adds Host on the wire; V3 signs it, so the emulator must see it too.
        if "Host" not in headers:
            default = url.port is None or url.port == _DEFAULT_PORTS.get(url.scheme)
            headers["Host"] = (url.hostname or "") if default else f"{url.hostname}:{url.port}"
        emulated = EmulatorRequest.from_raw(
            request.method or "GET", url.path, url.query, headers, _body_bytes(request.body)
        )
        read_timeout = _read_timeout(timeout)
        timed_out = False

        def sleep(seconds: float) -> None:
            nonlocal timed_out
            if read_timeout is not None and seconds > read_timeout:
                time.sleep(read_timeout)
                timed_out = True
            else:
                time.sleep(seconds)

        answer = handle(self.backend, emulated, sleep=sleep)
        if timed_out:
            raise requests.ReadTimeout(f"Read timed out. (read timeout={read_timeout})", request=request)
        if answer.abort is not None:
            raise connection_error(answer.abort, request)

        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(answer.body)  # read by Response.content, as from a socket
        response.url = request.url or ""
        response.request = request
        response.reason = HTTPStatus(answer.status).phrase
        return response

    def close(self) -> None:
        """Nothing to release: no sockets, no pools."""


def connection_error(kind: str, request: Optional[requests.PreparedRequest] = None) -> requests.ConnectionError:
    """What ``requests`` raises when a server resets the connection (``reset``) or closes it
    without an answer (``lost``)."""
    if kind == ABORT_RESET:
        cause: Exception = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    else:
        cause = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.ConnectionError(ProtocolError("Connection aborted.", cause), request=request)


def _read_timeout(timeout: Any) -> Optional[float]:
    """The read part of a requests timeout: a number, a (connect, read) pair or a urllib3 Timeout."""
    if isinstance(timeout, tuple):
        timeout = timeout[1] if len(timeout) > 1 else None
    elif timeout is not None and not isinstance(timeout, (int, float)):
        timeout = getattr(timeout, "read_timeout", None)
    return float(timeout) if isinstance(timeout, (int, float)) else None


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, Iterable):
        return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else chunk for chunk in body)
    raise TypeError(f"the emulator cannot take a {type(body).__name__} request body")


def mount(backend: EmulatorBackend, session: requests.Session) -> EmulatorAdapter:
    """Route every request of ``session`` to ``backend``; returns the adapter mounted."""
    adapter = EmulatorAdapter(backend)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter
