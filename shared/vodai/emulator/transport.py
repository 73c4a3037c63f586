"""The in-process front door: a ``requests`` transport adapter that answers from the backend.

Mounted on a session, every ``http://`` and ``https://`` request of that session is served by
the emulator without a socket, so code under test keeps its real HTTP client and signatures.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Iterable, Optional, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from .backend import EmulatorBackend
from .protocol import handle
from .request import EmulatorRequest

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
        proxies: Optional[dict] = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        headers = CaseInsensitiveDict(request.headers)
        # urllib3 adds Host on the wire; V3 signs it, so the emulator must see it too.
        if "Host" not in headers:
            default = url.port is None or url.port == _DEFAULT_PORTS.get(url.scheme)
            headers["Host"] = url.hostname if default else f"{url.hostname}:{url.port}"
        emulated = EmulatorRequest.from_raw(
            request.method or "GET", url.path, url.query, headers, _body_bytes(request.body)
        )
        answer = handle(self.backend, emulated)

        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = answer.body  # the whole body is already in memory
        response.url = request.url or ""
        response.request = request
        response.reason = HTTPStatus(answer.status).phrase
        response.connection = self
        return response

    def close(self) -> None:
        """Nothing to release: no sockets, no pools."""


def _body_bytes(body: Union[bytes, str, Iterable[bytes], None]) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else chunk for chunk in body)


def mount(backend: EmulatorBackend, session: requests.Session) -> EmulatorAdapter:
    """Route every request of ``session`` to ``backend``; returns the adapter mounted."""
    adapter = EmulatorAdapter(backend)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter
