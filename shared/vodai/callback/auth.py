"""VOD HTTP-callback authentication (pure functions, no I/O).

VOD signs every callback with two headers when an auth key is set in its console:

- ``X-VOD-TIMESTAMP``: UNIX seconds, 10 digits;
- ``X-VOD-SIGNATURE``: lower-case hex MD5 of ``"<callback URL>|<timestamp>|<auth key>"``
  (:func:`vodai.signing.callback.callback_signature`). The body is not signed.

:func:`verify` refuses a callback whose headers are missing or malformed, whose timestamp is
outside the window (a captured callback replayed later is refused; so is a timestamp from the
future), or whose signature matches none of the configured keys. During key rotation two keys
are configured and both are accepted; the signature is compared, in constant time, against every
key, without stopping at the first match, so timing does not tell which key matched.

Reasons are safe to log and to answer with: they never hold a key, an expected signature or the
timestamp/signature pair that was received.
"""

from __future__ import annotations

import hmac
import re
from typing import Mapping, Optional, Sequence
from urllib.parse import parse_qsl, urlsplit

from ..exceptions import CallbackAuthError
from ..signing.callback import callback_signature

TIMESTAMP_HEADER = "X-VOD-TIMESTAMP"
SIGNATURE_HEADER = "X-VOD-SIGNATURE"

_TIMESTAMP = re.compile(r"[0-9]{10}", re.ASCII)
_SIGNATURE = re.compile(r"[0-9a-fA-F]{32}", re.ASCII)


def header(headers: Mapping[str, str], name: str) -> Optional[str]:
    """The value of header ``name``, looked up case-insensitively (``_`` and ``-`` alike)."""
    wanted = name.lower().replace("_", "-")
    for key, value in headers.items():
        if key.lower().replace("_", "-") == wanted:
            return value
    return None


def verify(
    headers: Mapping[str, str],
    *,
    url: str,
    keys: Sequence[str],
    window: float,
    now: float,
) -> None:
    """Raise :class:`CallbackAuthError` unless ``headers`` authenticate a callback to ``url``.

    ``url`` is the callback URL VOD signed (see :func:`signed_url`), ``keys`` the configured auth
    keys (one, or two during rotation), ``window`` the largest accepted distance in seconds
    between ``now`` (UNIX seconds) and X-VOD-TIMESTAMP, in either direction.
    """
    if not keys:
        raise CallbackAuthError("no auth key is configured")
    timestamp = header(headers, TIMESTAMP_HEADER)
    signature = header(headers, SIGNATURE_HEADER)
    if timestamp is None or not timestamp.strip():
        raise CallbackAuthError(f"{TIMESTAMP_HEADER} header missing")
    if signature is None or not signature.strip():
        raise CallbackAuthError(f"{SIGNATURE_HEADER} header missing")
    timestamp, signature = timestamp.strip(), signature.strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise CallbackAuthError(f"{TIMESTAMP_HEADER} is not UNIX seconds of 10 digits")
    age = now - int(timestamp)
    if age > window:
        raise CallbackAuthError(
            f"{TIMESTAMP_HEADER} is {int(age)} s old, outside the {int(window)} s window (stale or replayed)"
        )
    if -age > window:
        raise CallbackAuthError(f"{TIMESTAMP_HEADER} is {int(-age)} s in the future, outside the {int(window)} s window")
    if not _SIGNATURE.fullmatch(signature):
        raise CallbackAuthError(f"{SIGNATURE_HEADER} is not 32 hexadecimal digits")
    given = signature.lower().encode("ascii")
    matched = False
    for key in keys:
        expected = callback_signature(url, timestamp, key).encode("ascii")
        # Every key is compared, in constant time, whatever the earlier results were.
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise CallbackAuthError(f"{SIGNATURE_HEADER} does not match the callback URL and auth key")


def signed_url(configured: str, query_string: str = "") -> str:
    """The callback URL VOD signed for a request that arrived with ``query_string``.

    VOD signs the URL configured in its console. When the request carries no query string, that is
    ``configured`` exactly (``VODAI_CALLBACK_URL``). When it carries one, it is ``configured``
    without its own query plus the request's query: one function can then serve several regions,
    each configured in VOD with its own ``?region=...``, and the region a request names is covered
    by the signature. When the request's query equals the configured one, both rules agree.
    """
    if not query_string:
        return configured
    base = configured.split("#", 1)[0].split("?", 1)[0]
    return f"{base}?{query_string}"


def query_region(url_or_query: str) -> Optional[str]:
    """The ``region`` query parameter (case-insensitive name) of a URL or a raw query string."""
    query = urlsplit(url_or_query).query if "://" in url_or_query else url_or_query.lstrip("?")
    for name, value in parse_qsl(query, keep_blank_values=False):
        if name.lower() == "region" and value.strip():
            return value.strip()
    return None
