"""The MNS signature.

StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedMNSHeaders CanonicalizedResource
Signature    = base64(HMAC-SHA1(secret, StringToSign)); header ``Authorization: MNS <id>:<signature>``.
"""

from __future__ import annotations

import base64
from typing import Mapping

from ._hmac import hmac_digest

PREFIX = "x-mns-"


def string_to_sign(method: str, resource: str, headers: Mapping[str, str]) -> str:
    lower = {k.lower(): str(v).strip() for k, v in headers.items() if v is not None}
    mns_headers = "".join(
        f"{k}:{lower[k]}\n" for k in sorted(lower) if k.startswith(PREFIX)
    )
    return "\n".join(
        [
            method.upper(),
            lower.get("content-md5", ""),
            lower.get("content-type", ""),
            lower.get("date", ""),
            mns_headers + resource,
        ]
    )


def sign(method: str, resource: str, headers: Mapping[str, str], secret: str) -> str:
    digest = hmac_digest(secret, string_to_sign(method, resource, headers), "sha1")
    return base64.b64encode(digest).decode("ascii")


def authorization(
    method: str, resource: str, headers: Mapping[str, str], *, access_key_id: str, access_key_secret: str
) -> str:
    return f"MNS {access_key_id}:{sign(method, resource, headers, access_key_secret)}"


def parse_authorization(value: str) -> tuple:
    """(access key id, signature) from ``MNS <id>:<signature>``; ValueError otherwise."""
    scheme, _, rest = value.strip().partition(" ")
    ak, sep, sig = rest.rpartition(":")
    if scheme != "MNS" or not sep or not ak or not sig:
        raise ValueError("not an MNS Authorization header")
    return ak, sig
