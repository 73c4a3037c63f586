"""Sending a prepared request, with failures turned into typed, classified errors."""

from __future__ import annotations

from typing import Mapping, Optional, Tuple

import requests
from requests.structures import CaseInsensitiveDict

from ..exceptions import TransportError

USER_AGENT = "vodai/0.1"


def prepared(method: str, url: str, headers: Mapping[str, str], body: bytes = b"") -> requests.PreparedRequest:
    """A PreparedRequest built directly: the URL is already encoded exactly as it was signed, so
    requests' Session.prepare_request (settings merging, URL re-parsing) is skipped; it cost more
    than everything else vodai does per event."""
    request = requests.PreparedRequest()
    request.method = method
    request.url = url
    store = {name.lower(): (name, value) for name, value in headers.items()}
    store.setdefault("user-agent", ("User-Agent", USER_AGENT))
    store["content-length"] = ("Content-Length", str(len(body)))
    request.headers = case_insensitive(store)
    request.body = body
    request.hooks = {"response": []}
    return request


def case_insensitive(store: dict) -> CaseInsensitiveDict:
    """requests' header dict holding the (name, value) pairs of ``store`` (lower-cased name -> (name, value))."""
    return CaseInsensitiveDict(dict(store.values()))


def send(session: requests.Session, prepared: requests.PreparedRequest, *, timeout: Tuple[float, float], action: str) -> requests.Response:
    try:
        # Straight to the session's mounted adapter (its pooled connections, or a test's or the
        # emulator's transport): vodai uses no hooks, cookies or redirects, so Session.send's
        # bookkeeping around it is pure per-request cost.
        response = session.get_adapter(prepared.url or "").send(prepared, timeout=timeout)
        _ = response.content  # the body read here, so a failure while reading it is classified below too
        return response
    except requests.ConnectTimeout:
        # No connection was made: the request cannot have been processed.
        raise TransportError("connect timed out", action=action, ambiguous=False) from None
    except requests.ReadTimeout:
        raise TransportError("timed out waiting for the response", action=action, ambiguous=True) from None
    except requests.ConnectionError as exc:
        raise TransportError(f"connection failed: {_cause(exc)}", action=action, ambiguous=not _refused(exc)) from None
    except requests.exceptions.InvalidHeader as exc:
        # Refused before anything was written (its text names the header, never its value).
        raise TransportError(f"request not sent: {exc}", action=action, ambiguous=False) from None
    except requests.RequestException as exc:
        raise TransportError(f"request failed: {type(exc).__name__}", action=action, ambiguous=True) from None


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
