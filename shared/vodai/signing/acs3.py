"""V3 signature ACS3-HMAC-SHA256: what the current official SDKs send by default.

CanonicalRequest = METHOD \n path \n canonical query \n canonical headers \n signed headers \n hex sha256(body)
StringToSign     = "ACS3-HMAC-SHA256\n" + hex(sha256(CanonicalRequest))
Signature        = hex(HMAC-SHA256(secret, StringToSign))
"""

from __future__ import annotations

import functools
import hashlib
from typing import Iterable, Mapping, Optional, Sequence, Tuple, Union

from ._encoding import Params
from ._encoding import canonical_query as _canonical_query
from ._hmac import hmac_digest

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def canonical_query(query: Params) -> str:
    return _canonical_query(query)


def _canonical_headers(headers: Mapping[str, str], names: Sequence[str]) -> Tuple[str, str]:
    # ``names``: lower-case and sorted already.
    lower = {k.lower(): str(v).strip() for k, v in headers.items() if v is not None}
    block = "".join([f"{n}:{lower.get(n, '')}\n" for n in names])
    return block, ";".join(names)


def canonical_request(
    method: str,
    path: str,
    query: Union[Params, str],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    body_sha256: str,
) -> str:
    return _canonical_request(method, path, query, headers, sorted({n.lower() for n in signed_headers}), body_sha256)[0]


def _canonical_request(method: str, path: str, query, headers: Mapping[str, str], names: Sequence[str],
                       body_sha256: str) -> Tuple[str, str]:
    """(canonical request, signed-header list); ``names`` lower-case and sorted already."""
    block, signed = _canonical_headers(headers, names)
    # ``query`` may come already canonical (a client that sends that same string as its URL query).
    canonical = query if isinstance(query, str) else canonical_query(query)
    return "\n".join([method.upper(), path or "/", canonical, block, signed, body_sha256]), signed


def string_to_sign(canonical: str) -> str:
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(secret: str, canonical: str) -> str:
    return hmac_digest(secret, string_to_sign(canonical), "sha256").hex()


def default_signed_headers(headers: Mapping[str, str]) -> list:
    """The headers a client signs: host, content-type and every x-acs-* header present."""
    return list(_signed_names(tuple(headers)))


@functools.lru_cache(maxsize=64)  # a client sends the same header names on every request
def _signed_names(names: tuple) -> tuple:
    lower = {k.lower() for k in names}
    return tuple(sorted(k for k in lower if k in ("host", "content-type") or k.startswith("x-acs-")))


def authorization(
    method: str,
    path: str,
    query: Union[Mapping[str, Optional[str]], str],
    headers: Mapping[str, str],
    *,
    access_key_id: str,
    access_key_secret: str,
    body_sha256: str = EMPTY_BODY_SHA256,
    signed_headers: Optional[Iterable[str]] = None,
) -> str:
    """The ``Authorization`` header value for a request with these parts."""
    names = sorted({n.lower() for n in signed_headers}) if signed_headers is not None else _signed_names(tuple(headers))
    canonical, signed = _canonical_request(method, path, query, headers, names, body_sha256)
    return (
        f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed},"
        f"Signature={signature(access_key_secret, canonical)}"
    )


def parse_authorization(value: str) -> dict:
    """Split ``ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`` into its parts.

    Raises ValueError when the header is not of that form.
    """
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM or not rest:
        raise ValueError("not an ACS3-HMAC-SHA256 Authorization header")
    parts = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            raise ValueError(f"malformed Authorization item {key!r}")
        parts[key] = val
    for required in ("Credential", "SignedHeaders", "Signature"):
        if required not in parts:
            raise ValueError(f"Authorization lacks {required}")
    return parts
