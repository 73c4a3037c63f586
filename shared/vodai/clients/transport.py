"""Building and sending a request, with failures turned into typed, classified errors."""

from __future__ import annotations

from typing import List, Mapping, Optional, Tuple

import requests
from requests.exceptions import InvalidHeader
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity

from ..exceptions import TransportError

USER_AGENT = "vodai/0.1"


def prepared(method: str, url: str, headers: Mapping[str, str], body: bytes = b"") -> requests.PreparedRequest:
    """A request ready to send, its URL kept exactly as signed.

    ``requests.Request.prepare`` would re-quote the URL and refuse a bad header with a message
    quoting its value (a credential, perhaps); ``send`` checks the headers instead.

    Parameters
    ----------
    method, url
        The request line; ``url`` absolute and already percent-encoded as signed.
    headers
        The signed headers; ``User-Agent`` is added unless given, ``Content-Length`` always.
    body
        The body, sent as is.

    Returns
    -------
    requests.PreparedRequest
    """
    request = requests.PreparedRequest()
    request.method = method
    request.url = url
    request.headers = CaseInsensitiveDict(headers)
    request.headers.setdefault("User-Agent", USER_AGENT)
    request.headers["Content-Length"] = str(len(body))
    request.body = body
    request.hooks = default_hooks()
    return request


def send(session: requests.Session, prepared: requests.PreparedRequest, *, timeout: Tuple[float, float], action: str) -> requests.Response:
    """Send ``prepared`` through ``session`` and read the whole answer.

    Parameters
    ----------
    session
        Its mounted adapter sends: pooled connections, or a test's or the emulator's.
    prepared
        From :func:`prepared`.
    timeout
        (connect, read) seconds.
    action
        The API action, named in errors.

    Returns
    -------
    requests.Response
        Whatever its status; the body already read.

    Raises
    ------
    TransportError
        No answer. ``ambiguous`` unless nothing can have reached the server (refused,
        connect timeout, a header HTTP cannot carry).
    """
    unsendable = _unsendable(prepared.headers)
    if unsendable:
        # Named, never quoted: the value may be a credential.
        raise TransportError(
            f"request not sent: header {', '.join(unsendable)} holds a line break, leading space or"
            " non-Latin-1 character; fix the credential or setting it comes from",
            action=action,
            ambiguous=False,
        )
    try:
        # Not streamed: Session.send reads the body, so a failure while reading it is classified below too.
        return session.send(prepared, timeout=timeout, allow_redirects=False)
    except requests.ConnectTimeout:
        # No connection was made: the request cannot have been processed.
        raise TransportError("connect timed out", action=action, ambiguous=False) from None
    except requests.ReadTimeout:
        raise TransportError("timed out waiting for the response", action=action, ambiguous=True) from None
    except requests.ConnectionError as exc:
        raise TransportError(f"connection failed: {_cause(exc)}", action=action, ambiguous=not _refused(exc)) from None
    except requests.RequestException as exc:
        raise TransportError(f"request failed: {type(exc).__name__}", action=action, ambiguous=True) from None


def _unsendable(headers: Mapping) -> List[str]:
    """The names of the headers requests would refuse, or http.client could not encode."""
    names = []
    for name, value in headers.items():
        try:
            check_header_validity((name, value))
            if isinstance(value, str):
                value.encode("latin-1")
        except (InvalidHeader, UnicodeEncodeError):
            names.append(str(name))
    return names


def _refused(exc: Exception) -> bool:
    """True when the failure happened while connecting (refused, DNS): nothing was sent."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    seen = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (NewConnectionError, NameResolutionError, ConnectionRefusedError)):
            return True
        # Causes only: not __context__, which links whatever was being handled when this was raised.
        cur = _reason(cur) or cur.__cause__ or (cur.args[0] if cur.args and isinstance(cur.args[0], Exception) else None)
    return False


def _reason(exc: BaseException):
    # urllib3 keeps the cause in ``reason``; ssl.SSLError's ``reason`` is a text ("CERTIFICATE_VERIFY_FAILED").
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, BaseException) else None


def _cause(exc: Exception) -> str:
    # The innermost cause names what happened (reset, refused, aborted) without any URL or header.
    text = type(exc).__name__
    cur = exc
    for _ in range(6):
        nxt = _reason(cur) or (cur.args[0] if cur.args and isinstance(cur.args[0], Exception) else None)
        if nxt is None:
            break
        text, cur = type(nxt).__name__, nxt
    return text
