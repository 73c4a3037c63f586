"""Sending a prepared request, with failures turned into typed, classified errors."""

from __future__ import annotations

from typing import Tuple

import requests

from ..exceptions import TransportError


def send(session: requests.Session, prepared: requests.PreparedRequest, *, timeout: Tuple[float, float], action: str) -> requests.Response:
    try:
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


def _refused(exc: Exception) -> bool:
    """True when the failure happened while connecting (refused, DNS): nothing was sent."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    seen = set()
    cur = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (NewConnectionError, NameResolutionError, ConnectionRefusedError)):
            return True
        cur = getattr(cur, "reason", None) or cur.__cause__ or cur.__context__ or (cur.args[0] if cur.args and isinstance(cur.args[0], Exception) else None)
    return False


def _cause(exc: Exception) -> str:
    # The innermost cause names what happened (reset, refused, aborted) without any URL or header.
    text = type(exc).__name__
    cur = exc
    for _ in range(6):
        nxt = getattr(cur, "reason", None) or (cur.args[0] if cur.args and isinstance(cur.args[0], Exception) else None)
        if nxt is None:
            break
        text, cur = type(nxt).__name__, nxt
    return text
